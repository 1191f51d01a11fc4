/**
 * x402 when things go wrong, against the fault-injecting facilitator (its own
 * instance, so switching its mode affects no other test file): down, slow,
 * verify-ok-then-settle-fails; and the special paths: fail-open, dev mode, free
 * pass, and buying credits with one payment.
 */
import type { PaymentRequired } from '@x402/core/types'
import { env } from 'cloudflare:workers'
import { serializeErc6492Signature, type Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterEach, describe, expect, it } from 'vitest'
import { acceptX402, X402Refusal } from '../../src/gate/x402-payment'
import { buildRequirements, lockName } from '../../src/x402'
import {
  clearFacilitatorCalls,
  facilitatorCalls,
  facilitatorIdle,
  setFacilitatorMode,
} from '../chain/client'
import { createKey, GATE, newTag, originRequests, putRouteTable } from '../helpers'
import { check, settle } from '../sidecar-helpers'
import {
  balanceOf,
  chain,
  client,
  decode,
  encode,
  freshPayTo,
  gateFetch,
  handSigned,
  payerAddress,
  payingFetch,
  x402Block,
} from '../x402-helpers'

const PAYER = 2
/**
 * The dev-mode tests' payer: no other test (in any file) pays with it, so nothing else can move its
 * balance. With PAYER, a settle an earlier test gave up on as indeterminate (its facilitator slowed
 * past our timeout) still lands on chain a moment later, and took 20,000 off "a balance nothing moves".
 */
const DEV_PAYER = 5
const payTo = freshPayTo()
const payer = payerAddress(PAYER)

async function useRoutes(overrides: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const { faultyFacilitatorUrl } = chain()
  await putRouteTable({
    x402: x402Block(payTo, {
      facilitator: { url: faultyFacilitatorUrl, verifyTimeoutMs: 1_000, settleTimeoutMs: 1_000 },
      ...overrides,
    }),
    routes: [
      { path: '/api/*', origin: env.API_ORIGIN, price: '0.02', accept: ['x402'] },
      {
        path: '/mcp-json',
        origin: env.MCP_ORIGIN,
        mcp: { price: '0.001', tools: { search: '0.01' } },
        accept: ['x402'],
      },
    ],
    ...extra,
  })
}

async function mode(
  name: 'normal' | 'down' | 'unavailable' | 'slow' | 'settle-fails',
  delayMs?: number
) {
  await setFacilitatorMode(chain().faultyControlUrl, name, delayMs)
}

/** A fresh payment for GET /api/<path>, built by the real client from the gate's 402. */
async function payment(path: string): Promise<string> {
  const unpaid = await gateFetch(`${GATE}${path}`)
  const required = decode<PaymentRequired>(unpaid.headers.get('payment-required'))
  return encode(await client(PAYER).createPaymentPayload(required))
}

afterEach(async () => {
  await mode('normal')
  // A settle the gate gave up on (indeterminate) is still on its way to the chain: let it land
  // now, not in the middle of the next test's balance reading.
  await facilitatorIdle(chain().faultyControlUrl)
})

describe('facilitator faults', () => {
  it('closed: a facilitator that is down gets 503, the origin is not called, and the same payment works once it is back', async () => {
    await useRoutes({ failMode: 'closed' })
    const signature = await payment('/api/down')
    const tag = newTag()
    await mode('down')
    const refused = await gateFetch(`${GATE}/api/down`, {
      headers: { 'payment-signature': signature, 'x-test-tag': tag },
    })
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ error: { code: 'facilitator_unavailable' } })
    expect(await originRequests(tag)).toHaveLength(0)
    await mode('normal')
    const before = await balanceOf(payTo)
    const retried = await gateFetch(`${GATE}/api/down`, {
      headers: { 'payment-signature': signature, 'x-test-tag': tag },
    })
    expect(retried.status).toBe(200)
    expect(await balanceOf(payTo)).toBe(before + 20_000n)
  })

  it('open: a facilitator that is down does not stop the call; nothing is paid, and the payment cannot be replayed', async () => {
    await useRoutes({ failMode: 'open' })
    const signature = await payment('/api/open')
    const tag = newTag()
    await mode('down')
    const before = await balanceOf(payer)
    const served = await gateFetch(`${GATE}/api/open`, {
      headers: { 'payment-signature': signature, 'x-test-tag': tag },
    })
    expect(served.status).toBe(200)
    const seen = await originRequests(tag)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers['x-pay-verified']).toBe('unverified')
    expect(await balanceOf(payer)).toBe(before)
    const replay = await gateFetch(`${GATE}/api/open`, {
      headers: { 'payment-signature': signature },
    })
    expect(replay.status).toBe(402)
  })

  it('open: a signature only the chain can check (a smart wallet’s) is refused while the facilitator is down, never served unchecked', async () => {
    await useRoutes({ failMode: 'open' })
    const unpaid = await gateFetch(`${GATE}/api/smart-wallet`)
    const required = decode<PaymentRequired>(unpaid.headers.get('payment-required'))
    const signed = (await handSigned(required.accepts[0] as never, PAYER)) as {
      payload: { signature: Hex }
    }
    // ERC-6492: the signature of a wallet not deployed yet, wrapped with its factory call (not 65 bytes).
    signed.payload.signature = serializeErc6492Signature({
      address: payTo,
      data: '0xdeadbeef',
      signature: signed.payload.signature,
    })
    const tag = newTag()
    await mode('down')
    const refused = await gateFetch(`${GATE}/api/smart-wallet`, {
      headers: { 'payment-signature': encode(signed), 'x-test-tag': tag },
    })
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({
      error: {
        code: 'facilitator_unavailable',
        message: expect.stringMatching(/cannot be checked without it/),
      },
    })
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('verify ok, then settle fails: the caller gets the payment error, not the content, and no funds move', async () => {
    await useRoutes({ failMode: 'closed' })
    await mode('settle-fails')
    const before = await balanceOf(payer)
    const tag = newTag()
    const response = await payingFetch(PAYER)(`${GATE}/api/secret-report`, {
      headers: { 'x-test-tag': tag },
    })
    expect(response.status).toBe(402)
    const body = (await response.json()) as Record<string, unknown>
    // The origin answered {path, query, method}; none of it may reach an unpaid caller.
    expect(body).not.toHaveProperty('query')
    expect(body).not.toHaveProperty('method')
    expect(body).toMatchObject({ error: { code: 'unexpected_settle_error' } })
    expect(decode(response.headers.get('payment-response'))).toMatchObject({
      success: false,
      errorReason: 'unexpected_settle_error',
    })
    expect(await originRequests(tag)).toHaveLength(1)
    expect(await balanceOf(payer)).toBe(before)
  })

  it('settle fails inside MCP: the tool’s output is replaced by the payment error', async () => {
    await useRoutes({ failMode: 'closed' })
    const body = (id: number, meta?: unknown) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: {
          name: 'search',
          arguments: { query: 'withheld' },
          ...(meta ? { _meta: meta } : {}),
        },
      })
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    }
    const unpaid = await gateFetch(`${GATE}/mcp-json`, { method: 'POST', headers, body: body(1) })
    const required = ((await unpaid.json()) as { result: { structuredContent: PaymentRequired } })
      .result.structuredContent
    const paymentPayload = await client(PAYER).createPaymentPayload(required)
    await mode('settle-fails')
    const response = await gateFetch(`${GATE}/mcp-json`, {
      method: 'POST',
      headers,
      body: body(2, { 'x402/payment': paymentPayload }),
    })
    const message = (await response.json()) as {
      result: { isError: boolean; content: Array<{ text: string }>; _meta: Record<string, unknown> }
    }
    expect(message.result.isError).toBe(true)
    expect(JSON.stringify(message.result.content)).not.toContain('withheld')
    expect(message.result._meta['x402/payment-response']).toMatchObject({ success: false })
  })

  it('a settle that times out is indeterminate: content withheld, and the payment can never be used again', async () => {
    await useRoutes({ failMode: 'closed' })
    const signature = await payment('/api/slow-settle')
    await mode('slow', 1_500)
    await clearFacilitatorCalls(chain().faultyControlUrl)
    // verify is slow too: give it a longer verify window than settle for this one.
    await useRoutes({
      failMode: 'closed',
      facilitator: {
        url: chain().faultyFacilitatorUrl,
        verifyTimeoutMs: 5_000,
        settleTimeoutMs: 500,
      },
    })
    const response = await gateFetch(`${GATE}/api/slow-settle`, {
      headers: { 'payment-signature': signature },
    })
    expect(response.status).toBe(503)
    expect(decode(response.headers.get('payment-response'))).toMatchObject({
      success: false,
      errorReason: 'settlement_indeterminate',
    })
    await mode('normal')
    const replay = await gateFetch(`${GATE}/api/slow-settle`, {
      headers: { 'payment-signature': signature },
    })
    expect(replay.status).toBe(402)
    expect(await replay.json()).toMatchObject({ error: { code: 'payment_already_used' } })
  })
})

describe('a sidecar follow-up that cannot settle', () => {
  /** A deferred check for GET /api/<path>: its token and the authorization's lock record. */
  async function deferred(path: string) {
    const signature = await payment(path)
    const nonce = (
      JSON.parse(atob(signature)) as { payload: { authorization: { nonce: string } } }
    ).payload.authorization.nonce.toLowerCase()
    const allowed = await check('GET', path, { 'payment-signature': signature })
    expect(allowed.headers.get('x-pay-settlement')).toBe('deferred')
    const record = () =>
      env.X402_LOCKS.getByName(lockName(chain().network, chain().token.address, payer)).get(nonce)
    return { signature, token: allowed.headers.get('x-pay-reservation') as string, record }
  }
  const settleServed = async (token: string) =>
    (await settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': '200' })).json()

  it('settle refused after the call was served: answered "unpaid", recorded unpaid, no funds move, never settled later', async () => {
    await useRoutes({ failMode: 'closed' })
    const { signature, token, record } = await deferred('/api/sidecar-unpaid')
    const before = await balanceOf(payer)
    await mode('settle-fails')
    expect(await settleServed(token)).toEqual({
      settled: 'unpaid',
      reason: 'unexpected_settle_error',
    })
    expect(await record()).toMatchObject({ state: 'unpaid', reason: 'unexpected_settle_error' })
    await mode('normal')
    expect(await settleServed(token)).toEqual({ settled: 'already_settled' })
    expect(await balanceOf(payer)).toBe(before)
    // Spent as far as the gate is concerned: the same signature does not buy a second call.
    expect(
      (await check('GET', '/api/sidecar-unpaid', { 'payment-signature': signature })).status
    ).toBe(402)
  })

  it('a facilitator that is down at the follow-up: 503 to send it again, the payment stays in flight, and the follow-up sent again settles it', async () => {
    await useRoutes({ failMode: 'closed' })
    const { token, record } = await deferred('/api/sidecar-down')
    const before = await balanceOf(payer)
    await mode('down')
    const refused = await settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': '200' })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await record()).toMatchObject({ state: 'in_flight' })
    await mode('normal')
    expect(await settleServed(token)).toMatchObject({
      settled: 'charged',
      transaction: expect.stringMatching(/^0x/),
    })
    expect(await record()).toMatchObject({ state: 'settled' })
    expect(before - (await balanceOf(payer))).toBe(20_000n)
    expect(await settleServed(token)).toEqual({ settled: 'already_settled' })
  })

  it('a settle with no answer stays indeterminate (it may still land), and is never sent again', async () => {
    await useRoutes({ failMode: 'closed' })
    const { token, record } = await deferred('/api/sidecar-slow')
    await useRoutes({
      failMode: 'closed',
      facilitator: {
        url: chain().faultyFacilitatorUrl,
        verifyTimeoutMs: 1_000,
        settleTimeoutMs: 300,
      },
    })
    await mode('slow', 1_000)
    expect(await settleServed(token)).toEqual({
      settled: 'indeterminate',
      reason: 'settlement_indeterminate',
    })
    expect(await record()).toMatchObject({ state: 'indeterminate' })
    await mode('normal')
    await clearFacilitatorCalls(chain().faultyControlUrl)
    expect(await settleServed(token)).toEqual({ settled: 'already_settled' })
    expect(
      (await facilitatorCalls(chain().faultyControlUrl)).filter((call) =>
        call.path.endsWith('/settle')
      )
    ).toEqual([])
  })
})

describe('special paths', () => {
  it('dev mode checks locally, never calls the facilitator, never moves funds, and says so', async () => {
    await useRoutes({ mode: 'dev' })
    await clearFacilitatorCalls(chain().faultyControlUrl)
    const devPayer = payerAddress(DEV_PAYER)
    const before = await balanceOf(devPayer)
    const response = await payingFetch(DEV_PAYER)(`${GATE}/api/dev`)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-pay-dev-mode')).toBe('unsettled')
    expect(decode(response.headers.get('payment-response'))).toMatchObject({
      success: true,
      transaction: '',
      extra: { devMode: true, settled: false },
    })
    expect(await facilitatorCalls(chain().faultyControlUrl)).toHaveLength(0)
    expect(await balanceOf(devPayer)).toBe(before)
  })

  it('dev mode is refused on a Worker that does not allow it', async () => {
    const terms = {
      network: 'eip155:31337',
      chainId: 31337,
      asset: chain().token,
      payTo,
      maxTimeoutSeconds: 60,
      facilitator: {
        url: chain().faultyFacilitatorUrl,
        verifyTimeoutMs: 1000,
        settleTimeoutMs: 1000,
      },
      failMode: 'closed' as const,
      mode: 'dev' as const,
      freePass: [],
    }
    const signed = await handSigned(buildRequirements(terms, 20_000), PAYER)
    const refusal = await acceptX402(
      { ...env, X402_DEV_MODE: undefined },
      terms,
      20_000,
      { url: 'https://gate.test/x' },
      signed
    ).catch((e: unknown) => e)
    expect(refusal).toBeInstanceOf(X402Refusal)
    expect(refusal).toMatchObject({ status: 503, reason: 'dev_mode_not_allowed' })
  })

  it('a free-pass payer is served free only with a valid signature; a claimed header proves nothing', async () => {
    await useRoutes({ freePass: [payer] })
    const before = await balanceOf(payer)
    const tag = newTag()
    const served = await payingFetch(PAYER)(`${GATE}/api/vip`, { headers: { 'x-test-tag': tag } })
    expect(served.status).toBe(200)
    expect((await originRequests(tag))[0]?.headers['x-pay-verified']).toBe('free-pass')
    expect(await balanceOf(payer)).toBe(before)
    const claimed = await gateFetch(`${GATE}/api/vip`, {
      headers: { 'x-pay-from': payer, 'x-pay-verified': 'free-pass' },
    })
    expect(claimed.status).toBe(402)
  })
})

describe('buying credits with x402', () => {
  it('sells no credits for a dev-mode payment, which is never settled: a clear refusal, nothing issued or taken', async () => {
    const { network, token } = chain()
    await putRouteTable({
      x402: {
        ...x402Block(payTo, { facilitator: { url: chain().faultyFacilitatorUrl }, mode: 'dev' }),
        buyCredits: { min: '0.1', max: '100' },
      },
      routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.02' }],
    })
    // A wallet holding no USDC signs for $100 of credits.
    const broke = generatePrivateKey()
    const from = privateKeyToAccount(broke).address
    const accepted = {
      scheme: 'exact',
      network,
      amount: '100000000',
      asset: token.address,
      payTo,
      maxTimeoutSeconds: 60,
      extra: { name: token.name, version: token.version },
    }
    const signed = await handSigned(accepted, DEV_PAYER, { from }, { signerKey: broke })
    const response = await gateFetch(`${GATE}/credits/buy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'payment-signature': encode(signed) },
      body: JSON.stringify({ credits: '100' }),
    })
    expect(response.status).toBe(404)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      error: { code: 'not_found', message: expect.stringMatching(/dev mode.*settled on chain/) },
    })
    expect(body).not.toHaveProperty('key')
    const nonce = (
      signed.payload as { authorization: { nonce: string } }
    ).authorization.nonce.toLowerCase()
    expect(
      await env.X402_LOCKS.getByName(lockName(network, token.address, from)).get(nonce)
    ).toBeNull()
    // Nor is buying credits advertised where it cannot be done.
    expect(await (await gateFetch(`${GATE}/pricing`)).json()).not.toHaveProperty('buyCredits')
  })

  it('tells an x402 v1 client (X-PAYMENT) that the gate speaks x402 v2, and takes nothing', async () => {
    await putRouteTable({
      x402: {
        ...x402Block(payTo, { facilitator: { url: chain().faultyFacilitatorUrl } }),
        buyCredits: { min: '0.1', max: '10' },
      },
      routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.02' }],
    })
    const response = await gateFetch(`${GATE}/credits/buy`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-payment': encode({
          x402Version: 1,
          scheme: 'exact',
          network: 'base-sepolia',
          payload: {},
        }),
      },
      body: JSON.stringify({ credits: '1' }),
    })
    expect(response.status).toBe(402)
    const offer = decode<PaymentRequired>(response.headers.get('payment-required'))
    expect(offer).toMatchObject({ x402Version: 2, accepts: [{ amount: '1000000', payTo }] })
    expect(offer.error).toMatch(
      /x402 v1 \(X-PAYMENT\) is not supported.*PAYMENT-SIGNATURE \(x402 v2\)/
    )
    expect(await response.json()).toMatchObject({
      error: { code: 'invalid_x402_version', message: offer.error },
    })
  })

  it('issues a key holding exactly what was settled, or tops up the caller’s key', async () => {
    await useRoutes({}, {})
    await putRouteTable({
      x402: {
        ...x402Block(payTo, { facilitator: { url: chain().faultyFacilitatorUrl } }),
        buyCredits: { min: '0.1', max: '10' },
      },
      routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.02' }],
    })
    const before = await balanceOf(payTo)
    const buy = (credits: string, key?: string) =>
      payingFetch(PAYER)(`${GATE}/credits/buy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
        body: JSON.stringify({ credits }),
      })
    const fresh = await buy('0.5')
    expect(fresh.status).toBe(201)
    const issued = (await fresh.json()) as { key: string; credits: string; transaction: string }
    expect(issued.credits).toBe('0.5')
    expect(issued.transaction).toMatch(/^0x/)
    expect(await balanceOf(payTo)).toBe(before + 500_000n)

    const balance = await gateFetch(`${GATE}/balance`, { headers: { 'x-api-key': issued.key } })
    expect(await balance.json()).toMatchObject({ credits: '0.5' })
    const call = await gateFetch(`${GATE}/api/use`, { headers: { 'x-api-key': issued.key } })
    expect(call.status).toBe(200)
    await call.text()

    const { key } = await createKey('1')
    const topped = await buy('1.25', key)
    expect(topped.status).toBe(200)
    expect(await topped.json()).toMatchObject({ added: '1.25', credits: '2.25' })
    expect(await balanceOf(payTo)).toBe(before + 1_750_000n)

    expect((await buy('100')).status).toBe(400)
    expect((await buy('0.5', 'pg_not-a-key')).status).toBe(401)
  })
})
