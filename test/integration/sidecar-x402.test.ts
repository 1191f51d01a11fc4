/**
 * x402 in sidecar mode. With `X-Pay-Settle: now` (proxies that send no
 * follow-up) the payment is settled at check time. Otherwise the check verifies
 * it and locks its authorization, and the follow-up settles it on chain only
 * when the origin served the call, or releases it: the payer can use it again,
 * and nothing moves on chain. Checked against the real chain (anvil) and
 * facilitator: payTo's balance, the lock's record and the usage event.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { openReservation } from '../../src/sidecar/reservation-token'
import { lockName, settlePayment } from '../../src/x402'
import { TEST_SIDECAR_TOKEN } from '../constants'
import { putRouteTable } from '../helpers'
import { check, settle } from '../sidecar-helpers'
import { awaitEvents } from '../usage-helpers'
import {
  ageClaim,
  balanceOf,
  chain,
  decode,
  encode,
  freshPayTo,
  handSigned,
  payerAddress,
  x402Block,
} from '../x402-helpers'

const payTo = freshPayTo()
const PAYER = 7
const PRICE_UNITS = 20_000n
const FREE_PASS = Array.from(
  { length: 80 },
  (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`
)

beforeEach(async () => {
  await putRouteTable({
    x402: x402Block(payTo),
    routes: [
      { path: '/api/x402/*', origin: env.API_ORIGIN, price: '0.02', accept: ['x402', 'credits'] },
      // Terms that make a long token: 80 free-pass payers are sealed in it with the rest of the terms.
      {
        path: '/api/x402-long/*',
        origin: env.API_ORIGIN,
        price: '0.02',
        accept: ['x402'],
        x402: { freePass: FREE_PASS },
      },
      {
        path: '/mcp',
        origin: env.MCP_ORIGIN,
        mcp: { price: '0', tools: { search: '0.01' } },
        accept: ['x402'],
      },
    ],
  })
})

/** A fresh authorization for the route, signed by the payer. */
async function signedPayment(): Promise<string> {
  const unpaid = await check('GET', '/api/x402/report')
  expect(unpaid.status).toBe(402)
  const required = decode<{ accepts: Array<Record<string, unknown>> }>(
    unpaid.headers.get('payment-required')
  )
  return encode(await handSigned(required.accepts[0] as never, PAYER))
}

const nonceOf = (payment: string) =>
  (
    JSON.parse(atob(payment)) as { payload: { authorization: { nonce: string } } }
  ).payload.authorization.nonce.toLowerCase()
const lockRecord = (payment: string) =>
  env.X402_LOCKS.getByName(
    lockName(chain().network, chain().token.address, payerAddress(PAYER))
  ).get(nonceOf(payment))
const settleJson = async (token: string, headers: Record<string, string>) =>
  (await settle({ 'x-pay-reservation': token, ...headers })).json()

describe('x402 settled at check time (X-Pay-Settle: now)', () => {
  it('answers an unpaid call 402 with PAYMENT-REQUIRED, settles a payment at once with PAYMENT-RESPONSE, refuses a replay', async () => {
    const payment = await signedPayment()
    const before = await balanceOf(payTo)
    const paid = await check('GET', '/api/x402/report', {
      'payment-signature': payment,
      'x-pay-settle': 'now',
    })
    expect(paid.status).toBe(200)
    expect(paid.headers.get('x-pay-rail')).toBe('x402')
    expect(paid.headers.get('x-pay-from')?.toLowerCase()).toBe(payerAddress(PAYER).toLowerCase())
    expect(paid.headers.get('x-pay-reservation')).toBeNull()
    expect(decode(paid.headers.get('payment-response'))).toMatchObject({ success: true })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
    const replay = await check('GET', '/api/x402/report', {
      'payment-signature': payment,
      'x-pay-settle': 'now',
    })
    expect(replay.status).toBe(402)
  })
})

describe('x402 v1 clients', () => {
  it('are told the gate speaks x402 v2: the check denies 402 with the v2 offer', async () => {
    const v1 = encode({ x402Version: 1, scheme: 'exact', network: 'base-sepolia', payload: {} })
    const denied = await check('GET', '/api/x402/report', { 'x-payment': v1 })
    expect(denied.status).toBe(402)
    const offer = decode<{ x402Version: number; error: string }>(
      denied.headers.get('payment-required')
    )
    expect(offer).toMatchObject({
      x402Version: 2,
      error: expect.stringMatching(/x402 v1 \(X-PAYMENT\) is not supported/),
    })
    expect(await denied.json()).toMatchObject({ error: { code: 'invalid_x402_version' } })
  })
})

describe('x402 settled by the follow-up', () => {
  it('verifies and locks at check time, settles on chain only when the follow-up says served, once', async () => {
    const payment = await signedPayment()
    const before = await balanceOf(payTo)
    const paid = await check('GET', '/api/x402/report', { 'payment-signature': payment })
    expect(paid.status).toBe(200)
    expect(paid.headers.get('x-pay-settlement')).toBe('deferred')
    expect(paid.headers.get('x-pay-verified')).toBe('true')
    expect(paid.headers.get('payment-response')).toBeNull()
    const token = paid.headers.get('x-pay-reservation') as string
    expect(token).toMatch(/^pgr1\./)
    expect(token).not.toContain(nonceOf(payment).slice(2))
    // Nothing has moved yet, and the authorization cannot be used by another call meanwhile.
    expect(await balanceOf(payTo)).toBe(before)
    expect(await lockRecord(payment)).toMatchObject({ state: 'in_flight' })
    const meanwhile = await check('GET', '/api/x402/other', { 'payment-signature': payment })
    expect(meanwhile.status).toBe(402)
    expect(await meanwhile.json()).toMatchObject({ error: { code: 'payment_in_flight' } })

    const settled = (await settleJson(token, {
      'x-pay-upstream-status': '200',
      'x-pay-outcome': 'served',
    })) as { settled: string; transaction: string }
    expect(settled).toMatchObject({
      settled: 'charged',
      transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      network: chain().network,
    })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
    expect(await lockRecord(payment)).toMatchObject({
      state: 'settled',
      transaction: settled.transaction,
    })
    expect(await settleJson(token, { 'x-pay-upstream-status': '200' })).toEqual({
      settled: 'already_settled',
    })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
    const events = await awaitEvents(1, 'payment = ?', settled.transaction)
    expect(events).toMatchObject([
      { rail: 'x402', outcome: 'charged', amount: 20_000, status: 200, route: '/api/x402/*' },
    ])
  })

  it('refuses a payment that expires before its follow-up could settle it (the call would be served unpaid); settled now, it pays', async () => {
    const unpaid = await check('GET', '/api/x402/report')
    const accepted = decode<{ accepts: Array<Record<string, unknown>> }>(
      unpaid.headers.get('payment-required')
    ).accepts[0] as never
    const shortLived = encode(
      await handSigned(accepted, PAYER, { validBefore: String(Math.floor(Date.now() / 1000) + 8) })
    )
    const before = await balanceOf(payTo)
    const refused = await check('GET', '/api/x402/report', { 'payment-signature': shortLived })
    expect(refused.status).toBe(402)
    expect(await refused.json()).toMatchObject({
      error: { code: 'authorization_expires_too_soon' },
    })
    expect(refused.headers.get('x-pay-reservation')).toBeNull()
    expect(await lockRecord(shortLived)).toBeNull()
    // Settled at check time, nothing waits for a follow-up: the same authorization pays.
    const now = await check('GET', '/api/x402/report', {
      'payment-signature': shortLived,
      'x-pay-settle': 'now',
    })
    expect(now.status).toBe(200)
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
  })

  it("settles from a JSON follow-up whose token is long (the route's terms are sealed in it)", async () => {
    const uri = '/api/x402-long/report'
    const unpaid = await check('GET', uri)
    const accepted = decode<{ accepts: Array<Record<string, unknown>> }>(
      unpaid.headers.get('payment-required')
    ).accepts[0] as never
    const payment = encode(await handSigned(accepted, PAYER))
    const paid = await check('GET', uri, { 'payment-signature': payment })
    const token = paid.headers.get('x-pay-reservation') as string
    expect(token.length).toBeGreaterThan(4_096)
    const response = await settle({}, { reservation: token, status: 200, outcome: 'served' })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ settled: 'charged' })
  })

  it('releases a payment the origin failed or broke off: nothing moves, the authorization can pay again, and a stale follow-up settles nothing', async () => {
    const payment = await signedPayment()
    const before = await balanceOf(payTo)
    const first = (
      await check('GET', '/api/x402/report', { 'payment-signature': payment })
    ).headers.get('x-pay-reservation') as string
    expect(
      await settleJson(first, { 'x-pay-upstream-status': '200', 'x-pay-outcome': 'failed' })
    ).toEqual({ settled: 'released' })
    expect(await lockRecord(payment)).toMatchObject({ state: 'released' })
    expect(await balanceOf(payTo)).toBe(before)

    const again = await check('GET', '/api/x402/report', { 'payment-signature': payment })
    expect(again.status).toBe(200)
    const second = again.headers.get('x-pay-reservation') as string
    // The first call's follow-up, sent again: it belongs to a flight that is over.
    expect(await settleJson(first, { 'x-pay-upstream-status': '200' })).toEqual({
      settled: 'already_settled',
    })
    expect(await lockRecord(payment)).toMatchObject({ state: 'in_flight' })
    expect(await balanceOf(payTo)).toBe(before)
    expect(await settleJson(second, { 'x-pay-upstream-status': '200' })).toMatchObject({
      settled: 'charged',
    })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
  })

  it('settles once when the same follow-up arrives several times at once', async () => {
    const payment = await signedPayment()
    const before = await balanceOf(payTo)
    const token = (
      await check('GET', '/api/x402/report', { 'payment-signature': payment })
    ).headers.get('x-pay-reservation') as string
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': '200' })
      )
    )
    const bodies = (await Promise.all(answers.map((answer) => answer.json()))) as Array<{
      settled?: string
      error?: { code: string }
    }>
    expect(bodies.filter((body) => body.settled === 'charged')).toHaveLength(1)
    // The others came while it was being settled (send again later) or after (nothing to do).
    for (const [i, body] of bodies.entries()) {
      if (body.settled === 'charged') continue
      if (body.settled === 'already_settled') continue
      expect(answers[i]?.status).toBe(503)
      expect(body).toMatchObject({ error: { code: 'settlement_in_progress' } })
      expect(Number(answers[i]?.headers.get('retry-after'))).toBeGreaterThan(0)
    }
    expect(await settleJson(token, { 'x-pay-upstream-status': '200' })).toEqual({
      settled: 'already_settled',
    })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
  })

  it('settles an MCP tools/call paid in _meta["x402/payment"] the same way', async () => {
    const call = (payment?: unknown) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'search',
          arguments: {},
          ...(payment ? { _meta: { 'x402/payment': payment } } : {}),
        },
      })
    const json = { 'content-type': 'application/json' }
    const unpaid = await check('POST', '/mcp', json, call())
    expect(unpaid.headers.get('x-pay-client-status')).toBe('200')
    const required = (
      (await unpaid.json()) as {
        result: { structuredContent: { accepts: Array<Record<string, unknown>> } }
      }
    ).result.structuredContent
    const payment = await handSigned(required.accepts[0] as never, PAYER)
    const before = await balanceOf(payTo)
    const paid = await check('POST', '/mcp', json, call(payment))
    expect(paid.status).toBe(200)
    expect(paid.headers.get('x-pay-settlement')).toBe('deferred')
    expect(await balanceOf(payTo)).toBe(before)
    const token = paid.headers.get('x-pay-reservation') as string
    expect(await settleJson(token, { 'x-pay-upstream-status': '200' })).toMatchObject({
      settled: 'charged',
    })
    expect((await balanceOf(payTo)) - before).toBe(10_000n)
  })
})

describe('a follow-up that stopped while it settled (its isolate gone)', () => {
  /** Check a fresh payment, and take its claim as a follow-up does that then stops: never finished. */
  async function stuckInSettling() {
    const payment = await signedPayment()
    const token = (
      await check('GET', '/api/x402/report', { 'payment-signature': payment })
    ).headers.get('x-pay-reservation') as string
    const reservation = await openReservation(TEST_SIDECAR_TOKEN, token)
    if (reservation?.kind !== 'x402') throw new Error('expected an x402 reservation')
    const lock = env.X402_LOCKS.getByName(reservation.payment.lock)
    const lease = reservation.payment.terms.facilitator.settleTimeoutMs + 10_000
    await lock.claim(reservation.payment.nonce, reservation.payment.flight, lease)
    expect(await lockRecord(payment)).toMatchObject({ state: 'settling' })
    return { payment, token, reservation, lock, lease }
  }

  it("is taken over by the next follow-up once the claim's lease has run out, and settled once", async () => {
    const started = Date.now()
    const before = await balanceOf(payTo)
    const { payment, token, lock, lease } = await stuckInSettling()
    // Within the lease: not settled yet, so not "already settled"; come back later.
    const early = await settle({ 'x-pay-reservation': token, 'x-pay-upstream-status': '200' })
    expect(early.status).toBe(503)
    expect(await early.json()).toMatchObject({ error: { code: 'settlement_in_progress' } })
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await balanceOf(payTo)).toBe(before)

    await ageClaim(lock, nonceOf(payment), lease)
    const settled = (await settleJson(token, { 'x-pay-upstream-status': '200' })) as {
      settled: string
      transaction: string
    }
    expect(settled).toMatchObject({
      settled: 'charged',
      transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
    expect(await lockRecord(payment)).toMatchObject({
      state: 'settled',
      transaction: settled.transaction,
    })
    expect(await settleJson(token, { 'x-pay-upstream-status': '200' })).toEqual({
      settled: 'already_settled',
    })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
    const events = await awaitEvents(
      1,
      "rail = 'x402' AND outcome <> 'denied' AND at >= ?",
      started
    )
    expect(events).toMatchObject([
      { outcome: 'charged', amount: 20_000, payment: settled.transaction },
    ])
  })

  it('counts a payment the stopped follow-up had settled on chain as paid, once, when its nonce is found used', async () => {
    const started = Date.now()
    const before = await balanceOf(payTo)
    const { payment, token, reservation, lock, lease } = await stuckInSettling()
    // The stopped follow-up's settle landed; its record never did.
    const { terms, payload, requirements } = reservation.payment
    const landed = await settlePayment(
      { url: terms.facilitator.url, verifyTimeoutMs: 10_000, settleTimeoutMs: 10_000 },
      payload,
      requirements
    )
    expect(landed).toMatchObject({ kind: 'settled' })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)

    await ageClaim(lock, nonceOf(payment), lease)
    expect(await settleJson(token, { 'x-pay-upstream-status': '200' })).toMatchObject({
      settled: 'charged',
      reason: 'settled_before_retake',
    })
    expect(await lockRecord(payment)).toMatchObject({
      state: 'settled',
      reason: 'settled_before_retake',
    })
    expect(await settleJson(token, { 'x-pay-upstream-status': '200' })).toEqual({
      settled: 'already_settled',
    })
    expect((await balanceOf(payTo)) - before).toBe(PRICE_UNITS)
    const events = await awaitEvents(
      1,
      "rail = 'x402' AND outcome <> 'denied' AND at >= ?",
      started
    )
    expect(events).toMatchObject([{ outcome: 'charged', amount: 20_000 }])
  })

  it('releases a call the origin failed, taken over the same way: nothing moves on chain', async () => {
    const before = await balanceOf(payTo)
    const { payment, token, lock, lease } = await stuckInSettling()
    await ageClaim(lock, nonceOf(payment), lease)
    expect(await settleJson(token, { 'x-pay-upstream-status': '503' })).toEqual({
      settled: 'released',
    })
    expect(await lockRecord(payment)).toMatchObject({ state: 'released' })
    expect(await balanceOf(payTo)).toBe(before)
  })
})
