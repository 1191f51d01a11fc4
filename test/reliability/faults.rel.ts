/**
 * Faults on the credits rail: an origin that errors, resets the connection,
 * hangs past the route's timeout, or breaks a body (JSON or SSE) off midway; a
 * caller who goes away mid-stream; account objects aborted mid-run; and the
 * route table missing, unreadable or replaced mid-run. A failed call is never
 * charged, a served one exactly once, and the gate's only 5xx are the
 * documented upstream ones (502, 503, 504), never its own 500.
 */
import {
  abortAllDurableObjects,
  createExecutionContext,
  runDurableObjectAlarm,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, it, vi } from 'vitest'
import { createGate } from '../../src/app'
import { hashApiKey } from '../../src/credits'
import { createKey, gate, GATE, mcpHeaders, originRequests, putRoutes } from '../helpers'
import { check } from '../sidecar-helpers'
import { bounded, checkLedger, faultRequests, sleep, Tally } from './harness'
import { CALL_HEADER, checkVisits, ending, visitsByCall, visitsOf } from './timeouts'

const TIMEOUT_MS = 300
const ROUTES = () => [
  { path: '/fault/http/*', origin: env.FAULT_ORIGIN, price: '0.001', timeoutMs: TIMEOUT_MS },
  {
    path: '/fault/mcp/*',
    origin: env.FAULT_ORIGIN,
    mcp: { price: '0.001', tools: { search: '0.003', fail: '0.004' } },
    timeoutMs: TIMEOUT_MS,
  },
  { path: '/api/health', origin: env.API_ORIGIN, free: true },
  { path: '/api/*', origin: env.API_ORIGIN, price: '0.002' },
]

/** Reads a body to its end; a body the origin broke off rejects, and that is what the caller sees. */
async function drain(response: Response): Promise<{ text: string; broken: boolean }> {
  try {
    return { text: await response.text(), broken: false }
  } catch {
    return { text: '', broken: true }
  }
}

/** A 500 the gate made itself is a bug; the origin's own 500 passes through as it was. */
const gateInternalError = (status: number, text: string) =>
  status === 500 && text.includes('internal_error')

const COPIES = 8

describe('origin faults', () => {
  it('plain HTTP: error, reset, hang, cut body, cut stream and cut SSE are never charged; the clean call is', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await putRoutes(ROUTES())
    const key = await createKey('1')
    const tag = crypto.randomUUID()
    // [fault, status the caller gets, whether the body arrives whole]. Under load any of them may
    // instead be 504 by the route's timeout (test/reliability/timeouts.ts): then not served, not charged.
    const cases: Array<[string, number, boolean]> = [
      ['ok', 200, true],
      ['error', 500, true],
      ['reset', 502, true],
      ['hang', 504, true],
      ['cut', 200, false],
      ['stream-cut', 200, false],
      ['sse-cut', 200, false],
    ]
    const plan = cases.flatMap((c) => Array.from({ length: COPIES }, () => c))
    let served = 0
    const calls = await bounded(plan, 16, async ([fault, status, whole]) => {
      const id = crypto.randomUUID()
      const response = await gate(`/fault/http/${fault}`, {
        headers: { 'x-api-key': key.key, 'x-test-tag': tag, [CALL_HEADER]: id },
      })
      const body = await drain(response)
      tally.call()
      if (fault !== 'ok') tally.fault()
      const ended = ending(tally, fault, response.status, body.text, status)
      const arrives = ended === 'timed-out' || whole
      tally.equal(
        body.broken,
        !arrives,
        `${fault}: the body ${arrives ? 'arrives whole' : 'is broken off'}`
      )
      tally.check(!gateInternalError(response.status, body.text), `${fault}: no internal error`)
      if (fault === 'ok' && ended === 'answered' && !body.broken) served++
      return { id, visits: visitsOf(ended) }
    })
    // A caller who goes away after the first chunk of a slow stream (the demo origin, the default timeout).
    const streamTag = crypto.randomUUID()
    await bounded(Array.from({ length: COPIES }), 8, async () => {
      const response = await gate('/api/stream?chunks=40&delay=25', {
        headers: { 'x-api-key': key.key, 'x-test-tag': streamTag },
      })
      const reader = (response.body as ReadableStream<Uint8Array>).getReader()
      await reader.read()
      await reader.cancel()
      tally.call()
      tally.fault()
    })
    // Charged: exactly the clean calls served, whatever the timeouts took; nothing else.
    await checkLedger(
      tally,
      { ...key, name: 'http-faults' },
      { charges: served, charged: served * 1_000 }
    )
    checkVisits(
      tally,
      'http-faults at the fault origin',
      calls,
      visitsByCall(await faultRequests(tag))
    )
    tally.equal(
      (await originRequests(streamTag)).length,
      COPIES,
      'every stream reached the demo origin once'
    )
    tally.assertClean()
  })

  it('MCP: answers broken off in JSON or SSE are charged only for what was delivered', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await putRoutes(ROUTES())
    const key = await createKey('1')
    const tag = crypto.randomUUID()
    const search = (id: number) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'search', arguments: {} },
    })
    // [endpoint, body, status, micros charged per call]; any may instead be 504 by the route's timeout, charged nothing.
    const cases: Array<[string, unknown, number, number]> = [
      ['json', search(1), 200, 3_000],
      ['json-chunked', search(1), 200, 3_000],
      ['sse', search(1), 200, 3_000],
      ['json-cut', search(1), 502, 0],
      ['json-chunked-cut', search(1), 200, 0],
      // The first answer was delivered before the stream broke: that call is charged, the second is not.
      ['sse-cut-after-first', [search(1), search(2)], 200, 3_000],
      ['sse-cut-before-answer', search(1), 200, 0],
      ['reset', search(1), 502, 0],
      ['hang', search(1), 504, 0],
      ['error', search(1), 500, 0],
    ]
    const plan = cases.flatMap((c) => Array.from({ length: COPIES }, () => c))
    let expected = 0
    const calls = await bounded(plan, 16, async ([endpoint, body, status, charged]) => {
      const id = crypto.randomUUID()
      const response = await gate(`/fault/mcp/${endpoint}`, {
        method: 'POST',
        headers: mcpHeaders(key.key, tag, { [CALL_HEADER]: id }),
        body: JSON.stringify(body),
      })
      const read = await drain(response)
      tally.call()
      if (charged === 0 || Array.isArray(body)) tally.fault()
      const ended = ending(tally, endpoint, response.status, read.text, status)
      if (ended === 'answered') expected += charged
      tally.check(!gateInternalError(response.status, read.text), `${endpoint}: no internal error`)
      return { id, visits: visitsOf(ended) }
    })
    await checkLedger(
      tally,
      { ...key, name: 'mcp-faults' },
      { charges: expected / 3_000, charged: expected }
    )
    checkVisits(
      tally,
      'mcp-faults at the fault origin',
      calls,
      visitsByCall(await faultRequests(tag))
    )
    tally.assertClean()
  })
})

describe('account objects aborted mid-run', () => {
  it('calls in flight when every object is aborted fail closed: nothing charged that was not served, nothing lost', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await putRoutes(ROUTES())
    const keys = await Promise.all([0, 1].map(() => createKey('5')))
    const counted = keys.map(() => ({ charges: 0, unavailable: 0 }))
    const plan = Array.from({ length: 400 }, (_, i) => i)
    const aborts: Promise<void>[] = []
    await bounded(plan, 32, async (i) => {
      if (i === 100 || i === 250) {
        aborts.push(abortAllDurableObjects())
        tally.fault()
      }
      const k = i % 2
      const response = await gate(`/api/item/${i}`, {
        headers: { 'x-api-key': (keys[k] as { key: string }).key },
      })
      const read = await drain(response)
      tally.call()
      const count = counted[k] as { charges: number; unavailable: number }
      if (response.status === 200 && !read.broken) count.charges++
      else if (response.status === 503 && read.text.includes('ledger_unavailable'))
        count.unavailable++
      else tally.check(false, `call ${i}: unexpected ${response.status} ${read.text.slice(0, 100)}`)
    })
    await Promise.all(aborts)
    for (const [k, key] of keys.entries()) {
      const count = counted[k] as { charges: number; unavailable: number }
      // A hold whose reply was lost with the aborted object cannot be settled by the gate; it waits for
      // its alarm (the route timeout plus 10 minutes) and is then released. So held may stay above 0, but
      // only by holds of calls the caller was told failed.
      const snapshot = await checkLedger(
        tally,
        { ...key, name: `aborted-${k}` },
        { charges: count.charges, charged: count.charges * 2_000, settled: false }
      )
      const open = snapshot.holds.filter((hold) => hold.state === 'open').length
      tally.check(
        open <= count.unavailable,
        `aborted-${k}: ${open} holds still open, at most the ${count.unavailable} calls refused with 503`
      )
    }
    // Past every hold's expiry (route timeout + 10 minutes), the objects' alarms release what is
    // left: nothing stays held, and nothing more is charged. The clock is moved, not waited for
    // (the objects run in this isolate, so they see the same mocked Date).
    vi.setSystemTime(Date.now() + 11 * 60_000)
    try {
      for (const [k, key] of keys.entries()) {
        await runDurableObjectAlarm(env.CREDITS.getByName(await hashApiKey(key.key)))
        const count = counted[k] as { charges: number }
        await checkLedger(
          tally,
          { ...key, name: `aborted-${k}, after expiry` },
          { charges: count.charges, charged: count.charges * 2_000 }
        )
      }
    } finally {
      vi.useRealTimers()
    }
    tally.assertClean()
  })

  it('sidecar checks that charge at once, in flight when every object is aborted: each charge is a call let through, once, with its usage event', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await putRoutes(ROUTES())
    const keys = await Promise.all([0, 1].map(() => createKey('5')))
    const counted = keys.map(() => ({ allowed: 0, unavailable: 0 }))
    const plan = Array.from({ length: 300 }, (_, i) => i)
    const aborts: Promise<void>[] = []
    await bounded(plan, 32, async (i) => {
      if (i === 120) {
        aborts.push(abortAllDurableObjects())
        tally.fault()
      }
      const k = i % 2
      // A check whose charge was made but whose reply was lost with the object tries again with the
      // same attempt id, and is answered with that charge: let through, not refused while charged.
      const response = await check('GET', `/api/item/${i}`, {
        'x-api-key': (keys[k] as { key: string }).key,
        'x-pay-settle': 'now',
      })
      const text = await response.text()
      tally.call()
      const count = counted[k] as { allowed: number; unavailable: number }
      if (response.status === 200 && response.headers.get('x-pay-settlement') === 'charged')
        count.allowed++
      else if (response.status === 503 && text.includes('ledger_unavailable')) count.unavailable++
      else tally.check(false, `check ${i}: unexpected ${response.status} ${text.slice(0, 100)}`)
    })
    await Promise.all(aborts)
    for (const [k, key] of keys.entries()) {
      const count = counted[k] as { allowed: number }
      // Charged at once: no hold is ever left open, and the charges are exactly the calls let through.
      await checkLedger(
        tally,
        { ...key, name: `settle-now aborted-${k}` },
        { charges: count.allowed, charged: count.allowed * 2_000 }
      )
    }
    tally.assertClean()
  })
})

describe('the route table', () => {
  const gateWith =
    (app: ReturnType<typeof createGate>, routes: unknown, path: string, key?: string) =>
    async () => {
      const ctx = createExecutionContext()
      const response = await app.fetch(
        new Request(`${GATE}${path}`, { headers: key ? { 'x-api-key': key } : {} }),
        { ...env, ROUTES: routes },
        ctx
      )
      const text = await response.text()
      await waitOnExecutionContext(ctx)
      return { status: response.status, text }
    }
  const missing = { get: async () => null }
  const unreachable = {
    get: async () => {
      throw new Error('KV is down')
    },
  }

  it('never had a table (missing or unreachable): every routed path answers 503 and nothing reaches an origin', async ({
    task,
  }) => {
    const tally = new Tally(task)
    const key = await createKey('1')
    for (const [what, kv] of [
      ['missing', missing],
      ['unreachable', unreachable],
    ] as const) {
      const app = createGate()
      for (const path of ['/api/health', '/api/item/1', '/fault/mcp/json']) {
        const answer = await gateWith(app, kv, path, key.key)()
        tally.call()
        tally.fault()
        tally.equal(answer.status, 503, `${what} table, ${path}: status`)
        tally.check(
          answer.text.includes('routes_unavailable'),
          `${what} table, ${path}: says routes_unavailable`
        )
      }
    }
    await checkLedger(tally, { ...key, name: 'no-table' }, { charges: 0 })
    tally.assertClean()
  })

  it('a table that goes missing, unreadable or invalid leaves the last good one in force: priced routes stay priced', async ({
    task,
  }) => {
    const tally = new Tally(task)
    await putRoutes(ROUTES())
    const key = await createKey('1')
    const app = createGate()
    const tag = crypto.randomUUID()
    const paid = async (kv: unknown, what: string) => {
      const ctx = createExecutionContext()
      const request = new Request(`${GATE}/api/item/${what}`, {
        headers: { 'x-api-key': key.key, 'x-test-tag': tag },
      })
      const response = await app.fetch(request, { ...env, ROUTES: kv }, ctx)
      await response.text()
      await waitOnExecutionContext(ctx)
      tally.call()
      tally.equal(response.status, 200, `${what}: served from the last good table`)
      tally.equal(
        response.headers.get('x-credits-remaining') !== null,
        true,
        `${what}: charged, not free`
      )
    }
    await paid(env.ROUTES, 'good')
    const invalid = {
      get: async () =>
        JSON.stringify({
          version: 1,
          routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: 'free of charge' }],
        }),
    }
    const notJson = { get: async () => '{"version": 1, "rou' }
    for (const [what, kv] of [
      ['missing', missing],
      ['unreachable', unreachable],
      ['invalid', invalid],
      ['not-json', notJson],
    ] as const) {
      tally.fault()
      await paid(kv, what)
    }
    await checkLedger(tally, { ...key, name: 'stale-table' }, { charges: 5, charged: 5 * 2_000 })
    tally.equal((await originRequests(tag)).length, 5, 'each call reached the origin once')
    tally.assertClean()
  })

  it('a table replaced again and again under load: each call is charged the old price or the new one, never nothing', async ({
    task,
  }) => {
    const tally = new Tally(task)
    const table = (price: string) => [{ path: '/api/*', origin: env.API_ORIGIN, price }]
    await putRoutes(table('0.002'))
    const key = await createKey('5')
    let flips = 0
    let running = true
    const flipper = (async () => {
      while (running) {
        await putRoutes(table(flips % 2 === 0 ? '0.003' : '0.002'))
        flips++
        await sleep(5)
      }
    })()
    let served = 0
    await bounded(
      Array.from({ length: 300 }, (_, i) => i),
      32,
      async (i) => {
        const response = await gate(`/api/item/${i}`, { headers: { 'x-api-key': key.key } })
        const read = await drain(response)
        tally.call()
        if (response.status === 200 && !read.broken) served++
      }
    )
    running = false
    await flipper
    tally.fault(flips)
    const snapshot = await checkLedger(
      tally,
      { ...key, name: 'flipping-table' },
      { charges: served }
    )
    const amounts = new Set(
      snapshot.ledger.filter((row) => row.kind === 'charge').map((row) => row.amount)
    )
    tally.check(
      [...amounts].every((amount) => amount === -2_000 || amount === -3_000),
      `charges are old or new prices: ${[...amounts].join(', ')}`
    )
    tally.assertClean()
  })
})
