/**
 * Sidecar mode under a proxy that misbehaves: checks and follow-ups at once, on
 * credits and on x402 settled by the follow-up. Each call ends one way, drawn
 * from a seeded mix: served; failed (503); answer broken off (200, outcome
 * failed); the same follow-up sent three times at once; the follow-up lost;
 * a forged token sent first; and, for x402, a payment released and then used
 * again by a second call. After each scenario: exactly one follow-up per call
 * decides it, the ledger and the chain moved for served calls only, once each,
 * lost follow-ups leave their hold or authorization open (never charged), and
 * every charge has its usage event. And hostile follow-ups (fast-check): tokens
 * truncated, altered, doubled or made up, outcomes and bodies malformed, with
 * and without the sidecar secret, never settle anything nor answer 5xx.
 */
import { env, exports } from 'cloudflare:workers'
import fc from 'fast-check'
import { it } from 'vitest'
import { lockName, type PaymentRecord } from '../../src/x402'
import { createKey, GATE, putRouteTable } from '../helpers'
import { check, settle } from '../sidecar-helpers'
import {
  balanceOf,
  chain,
  decode,
  encode,
  freshPayTo,
  handSigned,
  payerAddress,
  x402Block,
} from '../x402-helpers'
import {
  accountSnapshot,
  bounded,
  checkLedger,
  checkPaymentEvents,
  forAll,
  leaks,
  prng,
  Tally,
} from './harness'

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
const forge = (token: string) =>
  token.slice(0, 30) + (token[30] === 'A' ? 'B' : 'A') + token.slice(31)

/**
 * Send the follow-up(s) an ending calls for; returns the `settled` answers, in
 * order, and whether the call counts as served (charged or paid).
 */
async function followUps(
  tally: Tally,
  ending: Ending,
  token: string
): Promise<{ answers: string[]; served: boolean }> {
  const send = async (headers: Record<string, string>, sealed = token) => {
    tally.call()
    const response = await settle({ 'x-pay-reservation': sealed, ...headers })
    const body = (await response.json()) as { settled?: string; error?: { code: string } }
    return response.status === 200
      ? (body.settled ?? '?')
      : `${response.status} ${body.error?.code ?? '?'}`
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
      return {
        answers: await Promise.all([send(SERVED), send(SERVED), send(SERVED)]),
        served: true,
      }
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

/**
 * Exactly one follow-up decided the call, the way its ending says; the rest were
 * told it was settled already, or (x402, while it was being settled) to come back.
 */
function checkAnswers(tally: Tally, name: string, ending: Ending, answers: string[]): void {
  const decided =
    ending === 'served' || ending === 'repeated' || ending === 'forged' ? 'charged' : 'released'
  const expected: Record<Ending, string[]> = {
    served: [decided],
    failed: [decided],
    cut: [decided],
    reused: [decided],
    lost: [],
    repeated: [decided, 'already_settled', 'already_settled'],
    forged: ['400 invalid_reservation', decided],
  }
  const told = answers.map((answer) =>
    answer === '503 settlement_in_progress' ? 'already_settled' : answer
  )
  tally.check(
    JSON.stringify([...told].sort()) === JSON.stringify([...expected[ending]].sort()),
    `${name}: ${ending} answered ${answers.join(', ')}`
  )
}

it('credits: 150 checks on 3 keys with their follow-ups served, failed, cut, repeated at once, lost or forged: one decision each, charges = served', async ({
  task,
}) => {
  const tally = new Tally(task)
  await putRouteTable({
    routes: [
      { path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.01', accept: ['credits'] },
    ],
  })
  const keys = await Promise.all(
    [0, 1, 2].map(async (i) => ({ ...(await createKey('2')), name: `sidecar key ${i}` }))
  )
  const plan = endings(150, 0x51dec4, false)
  const results = await bounded(plan, 16, async (ending, i) => {
    const key = keys[i % keys.length] as (typeof keys)[number]
    tally.call()
    const allowed = await check('GET', `/api/item/${i}`, { 'x-api-key': key.key })
    const token = allowed.headers.get('x-pay-reservation')
    if (
      !tally.check(
        allowed.status === 200 && token !== null,
        `credits check ${i}: 200 with a token (got ${allowed.status})`
      )
    )
      return { key, ending, served: false }
    const { answers, served } = await followUps(tally, ending, token as string)
    checkAnswers(tally, `credits call ${i}`, ending, answers)
    return { key, ending, served }
  })
  for (const key of keys) {
    const mine = results.filter((result) => result.key === key)
    const served = mine.filter((result) => result.served).length
    const lost = mine.filter((result) => result.ending === 'lost').length
    await checkLedger(tally, key, {
      charges: served,
      charged: served * PRICE,
      credited: 2_000_000,
      settled: lost === 0,
    })
    const { account } = await accountSnapshot(key.key)
    tally.equal(
      account.held,
      lost * PRICE,
      `${key.name}: what is still held = the calls whose follow-up was lost`
    )
  }
  tally.assertClean()
})

it('x402 settled by the follow-up: 40 payments from 2 payers, the same mix plus released-then-reused: payTo receives exactly the served ones, once each', async ({
  task,
}) => {
  const tally = new Tally(task)
  await putRouteTable({
    x402: x402Block(payTo),
    routes: [
      {
        path: '/api/x402/*',
        method: 'GET',
        origin: env.API_ORIGIN,
        price: '0.01',
        accept: ['x402'],
      },
    ],
  })
  const unpaid = await check('GET', '/api/x402/requirements')
  const accepted = decode<{ accepts: Array<Record<string, unknown>> }>(
    unpaid.headers.get('payment-required')
  ).accepts[0]
  const before = await balanceOf(payTo)
  const plan = endings(40, 0x402d, true)
  const results = await bounded(plan, 8, async (ending, i) => {
    const payer = X402_PAYERS[i % X402_PAYERS.length] as number
    const payload = await handSigned(accepted as never, payer)
    const nonce = (
      payload.payload as { authorization: { nonce: string } }
    ).authorization.nonce.toLowerCase()
    const pay = async () => {
      tally.call()
      const allowed = await check('GET', `/api/x402/item/${i}`, {
        'payment-signature': encode(payload),
      })
      const token = allowed.headers.get('x-pay-reservation')
      tally.check(
        allowed.status === 200 &&
          token !== null &&
          allowed.headers.get('x-pay-settlement') === 'deferred',
        `x402 check ${i}: 200, deferred (got ${allowed.status})`
      )
      return token ?? ''
    }
    const { answers, served } = await followUps(tally, ending, await pay())
    checkAnswers(tally, `x402 call ${i}`, ending, answers)
    if (ending === 'reused') {
      // Released, so the payer's signature may pay for another call: settled by that call's follow-up.
      tally.call()
      const second = await settle({ 'x-pay-reservation': await pay(), ...SERVED })
      const body = (await second.json()) as { settled?: string }
      tally.check(
        body.settled === 'charged',
        `x402 call ${i}: the reused payment settled (${body.settled})`
      )
    }
    return { payer, nonce, ending, paid: served || ending === 'reused' }
  })
  // Transactions of the calls settled by their first follow-up come from the lock's records.
  const records = new Map<string, PaymentRecord>()
  for (const payer of X402_PAYERS) {
    const lock = env.X402_LOCKS.getByName(
      lockName(chain().network, chain().token.address, payerAddress(payer))
    )
    for (const record of await lock.list(1000)) records.set(record.nonce, record)
  }
  const paid = results.filter((result) => result.paid)
  for (const result of results) {
    const state = records.get(result.nonce)?.state
    const expected = result.paid ? 'settled' : result.ending === 'lost' ? 'in_flight' : 'released'
    tally.equal(
      state,
      expected,
      `x402 ${result.ending} call ${result.nonce.slice(0, 10)}: its authorization is ${expected}`
    )
  }
  tally.check(
    ![...records.values()].some((record) => record.state === 'settling'),
    'x402: no settlement left half begun'
  )
  const received = (await balanceOf(payTo)) - before
  tally.equal(
    received,
    BigInt(PRICE) * BigInt(paid.length),
    'x402: payTo received exactly one payment per served call'
  )
  const settled = paid.map((result) => ({
    transaction: records.get(result.nonce)?.transaction ?? '?',
    micros: PRICE,
  }))
  tally.equal(
    new Set(settled.map((s) => s.transaction)).size,
    settled.length,
    'x402: every served call its own transaction'
  )
  await checkPaymentEvents(tally, 'x402 sidecar', settled)
  tally.assertClean()
})

it('hostile follow-ups: forged, truncated and made-up tokens, malformed outcomes and bodies never settle anything nor answer 5xx', async ({
  task,
}) => {
  const tally = new Tally(task)
  await putRouteTable({
    routes: [
      { path: '/api/*', method: 'GET', origin: env.API_ORIGIN, price: '0.01', accept: ['credits'] },
    ],
  })
  const key = { ...(await createKey('1')), name: 'hostile follow-ups' }
  const tokens = await Promise.all(
    [0, 1, 2].map(
      async (i) =>
        (await check('GET', `/api/hostile/${i}`, { 'x-api-key': key.key })).headers.get(
          'x-pay-reservation'
        ) as string
    )
  )
  const genuine = tokens[0] as string
  const token = fc
    .oneof(
      fc.nat().map((n) => genuine.slice(0, n % genuine.length)),
      fc
        .tuple(fc.nat(), fc.constantFrom('A', 'z', '0', '-', '_', '.', ' ', '%'))
        .map(
          ([n, c]) =>
            genuine.slice(0, n % genuine.length) + c + genuine.slice((n % genuine.length) + 1)
        ),
      fc.constantFrom(
        `${genuine},${tokens[1]}`,
        `${genuine} ${genuine}`,
        genuine.replace('pgr1.', 'pgr2.'),
        `pgr1.${'A'.repeat(20_000)}`,
        'pgr1.',
        ''
      ),
      fc.string({ maxLength: 200 }).map((text) => `pgr1.${text}`),
      fc.string()
    )
    // A change that happens to restore a genuine token is not a forgery.
    .filter((candidate) => !tokens.includes(candidate))
  const outcome = fc.oneof(
    fc.record({
      'x-pay-upstream-status': fc.oneof(
        fc.constantFrom('200', '503', '99', '600', '2OO', '200, 503', '-1', ''),
        fc.string()
      ),
    }),
    fc.record({
      'x-pay-outcome': fc.oneof(
        fc.constantFrom('served', 'failed', 'SERVED', 'maybe', ''),
        fc.string()
      ),
    }),
    fc.constant({})
  )
  const body = fc.option(
    fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({ reservation: token, status: fc.jsonValue({ maxDepth: 1 }) })
    ),
    { nil: undefined }
  )
  const secret = fc.boolean()
  await forAll(
    tally,
    'hostile follow-ups',
    fc.tuple(token, outcome, body, secret),
    async ([sealed, given, json, withSecret]) => {
      const headers: Record<string, string> = { ...given, 'x-pay-reservation': sealed }
      try {
        new Headers(headers)
      } catch {
        return [] // not a legal header value: a proxy could not send it
      }
      tally.call()
      tally.fault()
      const response = withSecret
        ? await settle(headers, json)
        : await fetchWithoutSecret(headers, json)
      const text = await response.text()
      const problems: string[] = []
      if (response.status >= 500) problems.push(`status ${response.status}`)
      if (response.status === 200 && !/already_settled/.test(text))
        problems.push(`settled something: ${text.slice(0, 120)}`)
      for (const what of leaks(text)) problems.push(`the answer shows ${what}`)
      return problems.map((problem) => `${problem} (token ${sealed.slice(0, 40)}…)`)
    },
    150
  )
  // The three genuine holds are still open, untouched; the key was charged nothing.
  const { account } = await accountSnapshot(key.key)
  tally.equal(account.held, 3 * PRICE, 'hostile follow-ups: the three genuine holds are still held')
  for (const genuineToken of tokens)
    await settle({ 'x-pay-reservation': genuineToken, 'x-pay-outcome': 'failed' })
  await checkLedger(tally, key, { charges: 0, charged: 0, credited: 1_000_000 })
  tally.assertClean()
})

/** A follow-up without the sidecar secret: refused before anything is read. */
function fetchWithoutSecret(headers: Record<string, string>, body: unknown) {
  return exports.default.fetch(
    new Request(`${GATE}/__pay/settle`, {
      method: 'POST',
      headers: {
        ...headers,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    })
  )
}
