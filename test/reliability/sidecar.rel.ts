/**
 * Sidecar mode under a proxy that misbehaves: checks and follow-ups at once, on
 * credits and on x402 settled by the follow-up. Each call ends one way, drawn
 * from a seeded mix: served; failed (503); answer broken off (200, outcome
 * failed); the same follow-up sent three times at once; the follow-up lost;
 * a forged token sent first; and, for x402, a payment released and then used
 * again by a second call. After each scenario: exactly one follow-up per call
 * decides it, the ledger and the chain moved for served calls only, once each,
 * lost follow-ups leave their hold or authorization open (never charged), and
 * every charge has its usage event.
 */
import { env } from 'cloudflare:workers'
import { it } from 'vitest'
import { lockName, type PaymentRecord } from '../../src/x402'
import { createKey, putRouteTable } from '../helpers'
import { check, settle } from '../sidecar-helpers'
import { balanceOf, chain, decode, encode, freshPayTo, handSigned, payerAddress, x402Block } from '../x402-helpers'
import { accountSnapshot, bounded, checkLedger, checkPaymentEvents, prng, Tally } from './harness'

const PRICE = 10_000
const payTo = freshPayTo()
const X402_PAYERS = [5, 6]

type Ending = 'served' | 'failed' | 'cut' | 'repeated' | 'lost' | 'forged' | 'reused'

/** A seeded mix of endings; `reused` only where a payment can be used again (x402). */
function endings(count: number, seed: number, withReuse: boolean): Ending[] {
  const random = prng(seed)
  return Array.from({ length: count }, () => {
    const r = random()
    if (r < 0.35) return 'served'
    if (r < 0.5) return 'failed'
    if (r < 0.6) return 'cut'
    if (r < 0.72) return 'repeated'
    if (r < 0.8) return 'lost'
    if (r < 0.9 || !withReuse) return 'forged'
    return 'reused'
  })
}

const SERVED = { 'x-pay-upstream-status': '200', 'x-pay-outcome': 'served' }
const FAILED = { 'x-pay-upstream-status': '503' }
const CUT = { 'x-pay-upstream-status': '200', 'x-pay-outcome': 'failed' }

/** A token with one character changed: it must not open. */
const forge = (token: string) => token.slice(0, 30) + (token[30] === 'A' ? 'B' : 'A') + token.slice(31)

/**
 * Send the follow-up(s) an ending calls for; returns the `settled` answers, in
 * order, and whether the call counts as served (charged or paid).
 */
async function followUps(tally: Tally, ending: Ending, token: string): Promise<{ answers: string[]; served: boolean }> {
  const send = async (headers: Record<string, string>, sealed = token) => {
    tally.call()
    const response = await settle({ 'x-pay-reservation': sealed, ...headers })
    const body = (await response.json()) as { settled?: string; error?: { code: string } }
    return response.status === 200 ? (body.settled ?? '?') : `${response.status} ${body.error?.code ?? '?'}`
  }
  switch (ending) {
    case 'served':
      return { answers: [await send(SERVED)], served: true }
    case 'failed':
      tally.fault()
      return { answers: [await send(FAILED)], served: false }
    case 'cut':
      tally.fault()
      return { answers: [await send(CUT)], served: false }
    case 'repeated':
      tally.fault(2)
      return { answers: await Promise.all([send(SERVED), send(SERVED), send(SERVED)]), served: true }
    case 'lost':
      tally.fault()
      return { answers: [], served: false }
    case 'forged': {
      tally.fault()
      const forged = await send(SERVED, forge(token))
      return { answers: [forged, await send(SERVED)], served: true }
    }
    case 'reused':
      return { answers: [await send(FAILED)], served: false }
  }
}

/** Exactly one follow-up decided the call, the way its ending says; the rest were told it was settled already. */
function checkAnswers(tally: Tally, name: string, ending: Ending, answers: string[]): void {
  const decided = ending === 'served' || ending === 'repeated' || ending === 'forged' ? 'charged' : 'released'
  const expected: Record<Ending, string[]> = {
    served: [decided],
    failed: [decided],
    cut: [decided],
    reused: [decided],
    lost: [],
    repeated: [decided, 'already_settled', 'already_settled'],
    forged: ['400 invalid_reservation', decided],
  }
  tally.check(JSON.stringify([...answers].sort()) === JSON.stringify([...expected[ending]].sort()), `${name}: ${ending} answered ${answers.join(', ')}`)
}

it('credits: 150 checks on 3 keys with their follow-ups served, failed, cut, repeated at once, lost or forged: one decision each, charges = served', async ({ task }) => {
  const tally = new Tally(task)
  await putRouteTable({ routes: [{ path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.01', accept: ['credits'] }] })
  const keys = await Promise.all([0, 1, 2].map(async (i) => ({ ...(await createKey('2')), name: `sidecar key ${i}` })))
  const plan = endings(150, 0x51dec4, false)
  const results = await bounded(plan, 16, async (ending, i) => {
    const key = keys[i % keys.length] as (typeof keys)[number]
    tally.call()
    const allowed = await check('GET', `/api/item/${i}`, { 'x-api-key': key.key })
    const token = allowed.headers.get('x-pay-reservation')
    if (!tally.check(allowed.status === 200 && token !== null, `credits check ${i}: 200 with a token (got ${allowed.status})`)) return { key, ending, served: false }
    const { answers, served } = await followUps(tally, ending, token as string)
    checkAnswers(tally, `credits call ${i}`, ending, answers)
    return { key, ending, served }
  })
  for (const key of keys) {
    const mine = results.filter((result) => result.key === key)
    const served = mine.filter((result) => result.served).length
    const lost = mine.filter((result) => result.ending === 'lost').length
    await checkLedger(tally, key, { charges: served, charged: served * PRICE, credited: 2_000_000, settled: lost === 0 })
    const { account } = await accountSnapshot(key.key)
    tally.equal(account.held, lost * PRICE, `${key.name}: what is still held = the calls whose follow-up was lost`)
  }
  tally.assertClean()
})

it('x402 settled by the follow-up: 40 payments from 2 payers, the same mix plus released-then-reused: payTo receives exactly the served ones, once each', async ({ task }) => {
  const tally = new Tally(task)
  await putRouteTable({ x402: x402Block(payTo), routes: [{ path: '/api/x402/*', method: 'GET', origin: env.API_ORIGIN, price: '0.01', accept: ['x402'] }] })
  const unpaid = await check('GET', '/api/x402/requirements')
  const accepted = decode<{ accepts: Array<Record<string, unknown>> }>(unpaid.headers.get('payment-required')).accepts[0]
  const before = await balanceOf(payTo)
  const plan = endings(40, 0x402d, true)
  const results = await bounded(plan, 8, async (ending, i) => {
    const payer = X402_PAYERS[i % X402_PAYERS.length] as number
    const payload = await handSigned(accepted as never, payer)
    const nonce = (payload.payload as { authorization: { nonce: string } }).authorization.nonce.toLowerCase()
    const pay = async () => {
      tally.call()
      const allowed = await check('GET', `/api/x402/item/${i}`, { 'payment-signature': encode(payload) })
      const token = allowed.headers.get('x-pay-reservation')
      tally.check(allowed.status === 200 && token !== null && allowed.headers.get('x-pay-settlement') === 'deferred', `x402 check ${i}: 200, deferred (got ${allowed.status})`)
      return token ?? ''
    }
    const { answers, served } = await followUps(tally, ending, await pay())
    checkAnswers(tally, `x402 call ${i}`, ending, answers)
    if (ending === 'reused') {
      // Released, so the payer's signature may pay for another call: settled by that call's follow-up.
      tally.call()
      const second = await settle({ 'x-pay-reservation': await pay(), ...SERVED })
      const body = (await second.json()) as { settled?: string }
      tally.check(body.settled === 'charged', `x402 call ${i}: the reused payment settled (${body.settled})`)
    }
    return { payer, nonce, ending, paid: served || ending === 'reused' }
  })
  // Transactions of the calls settled by their first follow-up come from the lock's records.
  const records = new Map<string, PaymentRecord>()
  for (const payer of X402_PAYERS) {
    const lock = env.X402_LOCKS.getByName(lockName(chain().network, chain().token.address, payerAddress(payer)))
    for (const record of await lock.list(1000)) records.set(record.nonce, record)
  }
  const paid = results.filter((result) => result.paid)
  for (const result of results) {
    const state = records.get(result.nonce)?.state
    const expected = result.paid ? 'settled' : result.ending === 'lost' ? 'in_flight' : 'released'
    tally.equal(state, expected, `x402 ${result.ending} call ${result.nonce.slice(0, 10)}: its authorization is ${expected}`)
  }
  tally.check(![...records.values()].some((record) => record.state === 'settling'), 'x402: no settlement left half begun')
  const received = (await balanceOf(payTo)) - before
  tally.equal(received, BigInt(PRICE) * BigInt(paid.length), 'x402: payTo received exactly one payment per served call')
  const settled = paid.map((result) => ({ transaction: records.get(result.nonce)?.transaction ?? '?', micros: PRICE }))
  tally.equal(new Set(settled.map((s) => s.transaction)).size, settled.length, 'x402: every served call its own transaction')
  await checkPaymentEvents(tally, 'x402 sidecar', settled)
  tally.assertClean()
})
