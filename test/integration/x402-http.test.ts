/**
 * x402 over HTTP, end to end: the real x402 client (@x402/fetch, viem local
 * account) pays the gate, a real facilitator (@x402/evm) verifies and settles on
 * a real chain (anvil), and the tests read the balances on chain.
 */
import { env } from 'cloudflare:workers'
import type { Hex } from 'viem'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  createKey,
  newTag,
  originRequests,
  putRoutes,
  settledState,
  charges,
  putRouteTable,
} from '../helpers'
import {
  balanceOf,
  decode,
  encode,
  freshPayTo,
  gateFetch,
  handSigned,
  payerAddress,
  payingFetch,
  receipt,
  x402Block,
} from '../x402-helpers'

const PAYER = 0
const payTo = freshPayTo()
const payer = payerAddress(PAYER)

beforeAll(async () => {
  await putRouteTable({
    x402: x402Block(payTo),
    routes: [
      { path: '/api/*', origin: env.API_ORIGIN, price: '0.02', accept: ['x402', 'credits'] },
    ],
  })
})

type Required = {
  x402Version: number
  accepts: Array<{
    amount: string
    payTo: string
    asset: string
    network: string
    scheme: string
    maxTimeoutSeconds: number
    extra: Record<string, unknown>
  }>
  resource: { url: string }
}

async function required(path: string): Promise<Required> {
  const response = await gateFetch(`https://gate.test${path}`)
  return decode<Required>(response.headers.get('payment-required'))
}

function paid(path: string, payment: unknown, tag: string) {
  return gateFetch(`https://gate.test${path}`, {
    headers: {
      'payment-signature': typeof payment === 'string' ? payment : encode(payment),
      'x-test-tag': tag,
    },
  })
}

describe('x402 over HTTP', () => {
  it('answers an unpaid call 402 with PAYMENT-REQUIRED, uncached, naming credits too; the origin is not called', async () => {
    const tag = newTag()
    const response = await gateFetch('https://gate.test/api/report', {
      headers: { 'x-test-tag': tag },
    })
    expect(response.status).toBe(402)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const requiredBody = decode<Required>(response.headers.get('payment-required'))
    expect(requiredBody).toMatchObject({
      x402Version: 2,
      resource: { url: 'https://gate.test/api/report' },
      accepts: [
        {
          scheme: 'exact',
          network: 'eip155:31337',
          amount: '20000',
          payTo,
          maxTimeoutSeconds: 60,
          extra: { name: 'USDC', version: '2' },
        },
      ],
    })
    expect(await response.json()).toMatchObject({
      error: { code: 'payment_required' },
      credits: { accepted: true },
    })
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('tells an x402 v1 client (X-PAYMENT) that the gate speaks v2: 402 with the v2 offer; the origin is not called', async () => {
    const tag = newTag()
    const v1 = encode({
      x402Version: 1,
      scheme: 'exact',
      network: 'base-sepolia',
      payload: { signature: '0x00', authorization: {} },
    })
    const response = await gateFetch('https://gate.test/api/report', {
      headers: { 'x-payment': v1, 'x-test-tag': tag },
    })
    expect(response.status).toBe(402)
    const offer = decode<Required & { error: string }>(response.headers.get('payment-required'))
    expect(offer).toMatchObject({
      x402Version: 2,
      accepts: [{ scheme: 'exact', network: 'eip155:31337', amount: '20000', payTo }],
    })
    expect(offer.error).toMatch(
      /x402 v1 \(X-PAYMENT\) is not supported.*PAYMENT-SIGNATURE \(x402 v2\)/
    )
    expect(await response.json()).toMatchObject({
      error: { code: 'invalid_x402_version', message: offer.error },
    })
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('is paid by @x402/fetch: the origin is called once, balances move by exactly the price, PAYMENT-RESPONSE names the transaction', async () => {
    const tag = newTag()
    const [payerBefore, payToBefore] = await Promise.all([balanceOf(payer), balanceOf(payTo)])
    const response = await payingFetch(PAYER)('https://gate.test/api/report?q=1', {
      headers: { 'x-test-tag': tag },
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ path: '/api/report', query: 'q=1' })
    const settlement = decode<{
      success: boolean
      transaction: Hex
      network: string
      payer: string
    }>(response.headers.get('payment-response'))
    expect(settlement).toMatchObject({ success: true, network: 'eip155:31337' })
    expect(settlement.payer.toLowerCase()).toBe(payer.toLowerCase())
    expect((await receipt(settlement.transaction)).status).toBe('success')
    expect(response.headers.get('cache-control')).toContain('private')
    expect(response.headers.get('server-timing')).toMatch(
      /^x402-verify;dur=\d+, origin;dur=\d+, x402-settle;dur=\d+$/
    )

    expect(await balanceOf(payer)).toBe(payerBefore - 20_000n)
    expect(await balanceOf(payTo)).toBe(payToBefore + 20_000n)
    const seen = await originRequests(tag)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.headers).toMatchObject({
      'x-pay-verified': 'true',
      'x-pay-rail': 'x402',
      'x-pay-amount': '20000',
    })
    expect(seen[0]?.headers['x-pay-from']?.toLowerCase()).toBe(payer.toLowerCase())
    expect(seen[0]?.headers['payment-signature']).toBeUndefined()
  })

  it('replaces X-Pay-* headers a caller sends with what the gate verified', async () => {
    const tag = newTag()
    const response = await payingFetch(PAYER)('https://gate.test/api/headers', {
      headers: {
        'x-test-tag': tag,
        'x-pay-from': '0x000000000000000000000000000000000000dEaD',
        'x-pay-amount': '999999999',
      },
    })
    const seen = (await response.json()) as Record<string, string>
    expect(seen['x-pay-from']?.toLowerCase()).toBe(payer.toLowerCase())
    expect(seen['x-pay-amount']).toBe('20000')
  })

  it('does not settle when the origin fails: no funds move', async () => {
    const [payerBefore, payToBefore] = await Promise.all([balanceOf(payer), balanceOf(payTo)])
    const response = await payingFetch(PAYER)('https://gate.test/api/status/500')
    expect(response.status).toBe(500)
    expect(response.headers.get('payment-response')).toBeNull()
    expect(await balanceOf(payer)).toBe(payerBefore)
    expect(await balanceOf(payTo)).toBe(payToBefore)
  })

  it('refuses a replayed signature, in sequence and concurrently: one success, one call to the origin', async () => {
    const accepted = (await required('/api/once')).accepts[0]
    if (!accepted) throw new Error('no requirements')
    const payment = await handSigned(accepted, PAYER)
    const tag = newTag()
    const payToBefore = await balanceOf(payTo)
    const first = await paid('/api/once', payment, tag)
    expect(first.status).toBe(200)
    await first.text()
    const again = await paid('/api/once', payment, tag)
    expect(again.status).toBe(402)
    expect(await again.json()).toMatchObject({ error: { code: 'payment_already_used' } })

    const racing = await handSigned(accepted, PAYER)
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => paid('/api/once', racing, tag))
    )
    await Promise.all(responses.map((r) => r.text()))
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1)
    expect(responses.filter((r) => r.status === 402)).toHaveLength(9)
    expect(await originRequests(tag)).toHaveLength(2)
    expect(await balanceOf(payTo)).toBe(payToBefore + 40_000n)
  })

  it.each([
    [
      'expired',
      { validBefore: String(Math.floor(Date.now() / 1000) - 10) },
      {},
      'invalid_exact_evm_payload_authorization_valid_before',
    ],
    ['underpaid', { value: '19999' }, {}, 'invalid_exact_evm_payload_authorization_value_mismatch'],
    [
      'to the wrong recipient',
      { to: '0x2222222222222222222222222222222222222222' },
      {},
      'invalid_exact_evm_payload_recipient_mismatch',
    ],
    [
      'signed by someone else',
      {},
      { signerKey: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a' as Hex },
      'invalid_exact_evm_payload_signature',
    ],
    ['signed for another chain', {}, { chainId: 8453 }, 'invalid_exact_evm_payload_signature'],
  ])(
    'refuses a payment %s before the origin, and moves no funds',
    async (_what, overrides, options, reason) => {
      const accepted = (await required('/api/x')).accepts[0]
      if (!accepted) throw new Error('no requirements')
      const tag = newTag()
      const before = await balanceOf(payer)
      const response = await paid(
        '/api/x',
        await handSigned(accepted, PAYER, overrides, options),
        tag
      )
      expect(response.status).toBe(402)
      expect(await response.json()).toMatchObject({ error: { code: reason } })
      expect(response.headers.get('payment-required')).toBeTruthy()
      expect(await originRequests(tag)).toHaveLength(0)
      expect(await balanceOf(payer)).toBe(before)
    }
  )

  it('refuses a payment for another network, another price, or garbage', async () => {
    const accepted = (await required('/api/x')).accepts[0]
    if (!accepted) throw new Error('no requirements')
    const tag = newTag()
    const otherNetwork = await handSigned({ ...accepted, network: 'eip155:84532' }, PAYER)
    expect((await paid('/api/x', otherNetwork, tag)).status).toBe(402)
    const cheaper = await handSigned({ ...accepted, amount: '1' }, PAYER)
    const cheap = await paid('/api/x', cheaper, tag)
    expect(cheap.status).toBe(402)
    expect(await cheap.json()).toMatchObject({ error: { code: 'invalid_payment_requirements' } })
    expect((await paid('/api/x', 'bm90IGEgcGF5bWVudA==', tag)).status).toBe(400)
    expect((await paid('/api/x', '%%%', tag)).status).toBe(400)
    expect(await originRequests(tag)).toHaveLength(0)
  })

  it('still takes credits on a route that accepts both', async () => {
    const { id, key } = await createKey('1')
    const response = await gateFetch('https://gate.test/api/with-credits', {
      headers: { authorization: `Bearer ${key}` },
    })
    expect(response.status).toBe(200)
    await response.text()
    expect(charges(await settledState(id))).toEqual(['-0.02'])
  })
})

describe('x402-only routes', () => {
  it('answer 402, not 401, when a caller has neither payment nor key', async () => {
    await putRoutes([{ path: '/api/*', origin: env.API_ORIGIN, price: '0.02' }])
    expect((await gateFetch('https://gate.test/api/a')).status).toBe(401)
    await env.ROUTES.put(
      'pay-gate/routes',
      JSON.stringify({
        version: 1,
        x402: x402Block(payTo),
        routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.02', accept: ['x402'] }],
      })
    )
    const response = await gateFetch('https://gate.test/api/a', {
      headers: { 'x-api-key': 'pg_whatever' },
    })
    expect(response.status).toBe(402)
    expect(await response.json()).not.toHaveProperty('credits')
  })
})
