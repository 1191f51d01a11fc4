/**
 * Usage events through the real gate: a charged, a refunded and a denied call each
 * leave exactly one event in D1 with the right fields, on plain HTTP and MCP
 * routes, with credits and with x402; free calls leave none; a write retried
 * with the same event id stays one row.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { createGate } from '../../src/app'
import {
  insertEvents,
  MAX_ROUTE_CHARS,
  MAX_TEXT_CHARS,
  sendToQueue,
  UNKNOWN_NAME,
  UsageCall,
  type UsageEvent,
} from '../../src/usage'
import {
  admin,
  createKey,
  gate,
  mcpHeaders,
  newTag,
  settledState,
  TEST_ADMIN_TOKEN,
  putRouteTable,
} from '../helpers'
import { awaitEvents, sampleEvent, storedEvents } from '../usage-helpers'
import { freshPayTo, payerAddress, payingFetch, x402Block } from '../x402-helpers'

const payTo = freshPayTo()

beforeEach(async () => {
  await putRouteTable({
    x402: x402Block(payTo),
    routes: [
      { path: '/api/health', origin: env.API_ORIGIN, free: true },
      { path: '/api/paid/*', origin: env.API_ORIGIN, price: '0.02', accept: ['x402', 'credits'] },
      { path: '/api/status/*', origin: env.API_ORIGIN, price: '0.02', accept: ['x402', 'credits'] },
      {
        path: '/mcp-json',
        origin: env.MCP_ORIGIN,
        mcp: { price: '0.001', tools: { search: '0.01', echo: 'free', fail: '0.03' } },
      },
      { path: '/api/*', origin: env.API_ORIGIN, price: '0.02', accept: ['credits'] },
    ],
  })
})

function get(path: string, key: string | undefined, headers: Record<string, string> = {}) {
  return gate(path, {
    headers: {
      'x-test-tag': newTag(),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
  })
}

const toolCall = (id: number, tool: string, args: Record<string, unknown> = {}) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: tool, arguments: args },
  })

describe('usage events on plain HTTP routes (credits)', () => {
  it('a charged call: one event with key, reservation, amount, status and latency', async () => {
    const { id, key } = await createKey('1')
    const started = Date.now()
    const response = await get('/api/users/1', key)
    expect(response.status).toBe(200)
    await response.text()
    await settledState(id)
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toHaveLength(1)
    const [event] = events as [UsageEvent]
    expect(event).toMatchObject({
      keyId: id,
      payer: null,
      rail: 'credits',
      route: '/api/*',
      path: '/api/users/1',
      method: 'GET',
      tool: null,
      amount: 20_000,
      listPrice: 20_000,
      outcome: 'charged',
      reason: null,
      status: 200,
      reservationId: '1',
      payment: null,
    })
    // A charge is named by what it charged, so that recording it twice stays one event.
    expect(event.id).toBe(`charge:${id}:1`)
    expect(event.at).toBeGreaterThanOrEqual(started - 1)
    expect(event.latencyMs).toBeGreaterThanOrEqual(0)
  })

  it('a refunded call (the origin answers 500): one event, nothing charged, reason origin_error', async () => {
    const { id, key } = await createKey('1')
    const response = await get('/api/status/500', key)
    expect(response.status).toBe(500)
    await response.text()
    const state = await settledState(id)
    expect(state.credits).toBe('1')
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      outcome: 'refunded',
      amount: 0,
      listPrice: 20_000,
      reason: 'origin_error',
      status: 500,
      reservationId: '1',
    })
  })

  it('a denied call (too little credit): one event with the denial code and the key id', async () => {
    const { id, key } = await createKey('0.01')
    const response = await get('/api/users/1', key)
    expect(response.status).toBe(402)
    await response.text()
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      keyId: id,
      rail: 'credits',
      outcome: 'denied',
      reason: 'insufficient_credits',
      status: 402,
      amount: 0,
      listPrice: 20_000,
      latencyMs: null,
      reservationId: null,
    })
  })

  it('an idempotent replay is served without a new charge: its event is charged 0, idempotent_replay', async () => {
    const { id, key } = await createKey('1')
    for (let i = 0; i < 2; i++)
      await (await get('/api/users/5', key, { 'idempotency-key': 'once' })).text()
    await settledState(id)
    const events = await awaitEvents(2, 'key_id = ?', id)
    expect(
      events.map(({ outcome, amount, reason, reservationId }) => ({
        outcome,
        amount,
        reason,
        reservationId,
      }))
    ).toEqual(
      expect.arrayContaining([
        { outcome: 'charged', amount: 20_000, reason: null, reservationId: '1' },
        { outcome: 'charged', amount: 0, reason: 'idempotent_replay', reservationId: null },
      ])
    )
    expect(events).toHaveLength(2)
  })

  it('a call without a key: a denial with no key id', async () => {
    const tag = newTag()
    const response = await gate('/api/never-seen-before', { headers: { 'x-test-tag': tag } })
    expect(response.status).toBe(401)
    await response.text()
    const events = await awaitEvents(
      1,
      `reason = 'missing_api_key' AND at >= ?`,
      Date.now() - 5_000
    )
    expect(events.every((event) => event.keyId === null && event.outcome === 'denied')).toBe(true)
  })

  it('a free call leaves no event', async () => {
    const before = await storedEvents(`route = '/api/health'`)
    const response = await get('/api/health', undefined)
    expect(response.status).toBe(200)
    await response.text()
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await storedEvents(`route = '/api/health'`)).toHaveLength(before.length)
  })
})

describe('usage events on MCP routes (credits)', () => {
  const post = (key: string, body: string) =>
    gate('/mcp-json', { method: 'POST', headers: mcpHeaders(key, newTag()), body })

  it('a charged tools/call names the JSON-RPC method and the tool', async () => {
    const { id, key } = await createKey('1')
    await (await post(key, toolCall(1, 'search', { query: 'q' }))).text()
    await settledState(id)
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      route: '/mcp-json',
      path: '/mcp-json',
      method: 'tools/call',
      tool: 'search',
      outcome: 'charged',
      amount: 10_000,
      listPrice: 10_000,
      status: 200,
    })
  })

  it('a tool that answers with an error is refunded', async () => {
    const { id, key } = await createKey('1')
    await (await post(key, toolCall(1, 'fail'))).text()
    await settledState(id)
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toMatchObject([
      {
        tool: 'fail',
        outcome: 'refunded',
        amount: 0,
        listPrice: 30_000,
        reason: 'not_served',
        status: 200,
      },
    ])
  })

  it('an in-band refusal (-32402) is a denial with the status given, 200', async () => {
    const { id, key } = await createKey('0.005')
    const answer = (await (await post(key, toolCall(1, 'search'))).json()) as {
      error: { code: number }
    }
    expect(answer.error.code).toBe(-32402)
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toMatchObject([
      {
        tool: 'search',
        outcome: 'denied',
        reason: 'insufficient_credits',
        status: 200,
        amount: 0,
        listPrice: 10_000,
      },
    ])
  })

  it('a batch is one event (one hold, one charge) with method "batch", charged what succeeded', async () => {
    const { id, key } = await createKey('1')
    const batch = `[${toolCall(1, 'search', { query: 'q' })},${toolCall(2, 'fail')}]`
    await (await post(key, batch)).text()
    await settledState(id)
    const events = await awaitEvents(1, 'key_id = ?', id)
    expect(events).toMatchObject([
      {
        method: 'batch',
        tool: null,
        outcome: 'charged',
        amount: 10_000,
        listPrice: 40_000,
        reservationId: '1',
      },
    ])
  })

  it('a free MCP call leaves no event', async () => {
    const { id, key } = await createKey('1')
    await (await post(key, toolCall(1, 'echo', { text: 'hi' }))).text()
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await storedEvents('key_id = ?', id)).toHaveLength(0)
  })
})

/** Payers of their own (see client() in x402-helpers): this file's settlements move no other file's balances. */
const PAYER = 3
const REFUNDED_PAYER = 4

describe('usage events with x402', () => {
  it('a paid call: one charged event with the payer and the settlement transaction', async () => {
    const response = await payingFetch(PAYER)('https://gate.test/api/paid/report', {
      headers: { 'x-test-tag': newTag() },
    })
    expect(response.status).toBe(200)
    await response.text()
    const payment = JSON.parse(atob(response.headers.get('payment-response') ?? '')) as {
      transaction: string
    }
    const events = await awaitEvents(1, 'payment = ?', payment.transaction)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      rail: 'x402',
      outcome: 'charged',
      amount: 20_000,
      listPrice: 20_000,
      payer: payerAddress(PAYER),
      keyId: null,
      status: 200,
      route: '/api/paid/*',
      path: '/api/paid/report',
    })
  })

  it('a paid call the origin fails is refunded, with the payer and no transaction', async () => {
    const since = Date.now()
    const response = await payingFetch(REFUNDED_PAYER)('https://gate.test/api/status/503', {
      headers: { 'x-test-tag': newTag() },
    })
    expect(response.status).toBe(503)
    await response.text()
    const events = await awaitEvents(
      1,
      `payer = ? AND at >= ?`,
      payerAddress(REFUNDED_PAYER),
      since - 1
    )
    expect(events).toMatchObject([
      {
        rail: 'x402',
        outcome: 'refunded',
        amount: 0,
        reason: 'origin_error',
        status: 503,
        payment: null,
      },
    ])
  })

  it('an unpaid call is a payment_required denial on the x402 rail', async () => {
    const since = Date.now()
    const response = await get('/api/paid/unpaid-probe', undefined)
    expect(response.status).toBe(402)
    await response.text()
    const events = await awaitEvents(
      1,
      `rail = 'x402' AND reason = 'payment_required' AND at >= ?`,
      since - 1
    )
    expect(events[0]).toMatchObject({
      outcome: 'denied',
      status: 402,
      amount: 0,
      listPrice: 20_000,
    })
  })
})

describe('text a caller names is bounded', () => {
  const post = (key: string | undefined, body: string) =>
    gate('/mcp-json', { method: 'POST', headers: mcpHeaders(key, newTag()), body })
  const huge = (char: string) => char.repeat(200_000)

  it('a call refused for want of a key records an over-long tool name as unknown, not whole', async () => {
    const since = Date.now()
    const response = await post(undefined, toolCall(1, huge('t')))
    expect(response.status).toBe(200)
    await response.text()
    const events = await awaitEvents(
      1,
      `route = '/mcp-json' AND reason = 'payment_required' AND at >= ?`,
      since - 1
    )
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      method: 'tools/call',
      tool: UNKNOWN_NAME,
      outcome: 'denied',
      keyId: null,
    })
  })

  it('an over-long JSON-RPC method is recorded as unknown; a name of exactly the limit is kept', async () => {
    const { id, key } = await createKey('0')
    const kept = 'é'.repeat(MAX_TEXT_CHARS)
    await (
      await post(key, JSON.stringify({ jsonrpc: '2.0', id: 1, method: huge('m'), params: {} }))
    ).text()
    await (await post(key, toolCall(2, kept))).text()
    const events = await awaitEvents(2, 'key_id = ?', id)
    expect(events.map(({ method, tool, reason }) => ({ method, tool, reason }))).toEqual(
      expect.arrayContaining([
        { method: UNKNOWN_NAME, tool: null, reason: 'insufficient_credits' },
        { method: 'tools/call', tool: kept, reason: 'insufficient_credits' },
      ])
    )
  })

  it('a ledger label names at most 200 characters of what the caller sent', async () => {
    const { id, key } = await createKey('1')
    await (
      await post(key, `[${toolCall(1, 'search', { query: 'q' })},${toolCall(2, huge('t'))}]`)
    ).text()
    await settledState(id)
    const shown = (await (await admin(`/keys/${id}?ledger=10`)).json()) as {
      ledger: Array<{ kind: string; label: string }>
    }
    const charge = shown.ledger.find((row) => row.kind === 'charge')
    expect(charge?.label.startsWith('POST /mcp-json tools/call search, tools/call ttt')).toBe(true)
    expect(charge?.label).toHaveLength(200)
  })

  it('every text field of an event is bounded where events are built', () => {
    const events: UsageEvent[] = []
    const call = new UsageCall((event) => events.push(event), {
      at: Date.now(),
      route: `/${'r'.repeat(5_000)}`,
      path: `/${'p'.repeat(5_000)}`,
      method: 'POST',
      mcp: true,
    })
    call.priced(1_000, huge('m'), huge('t'))
    call.x402Finished(
      { kind: 'refused', refusal: { status: 402, reason: huge('why ') } },
      huge('0x'),
      1_000
    )
    const [event] = events as [UsageEvent]
    expect(event.method).toBe(UNKNOWN_NAME)
    expect(event.tool).toBe(UNKNOWN_NAME)
    expect(event.route).toHaveLength(MAX_ROUTE_CHARS)
    expect(event.route.endsWith('r…')).toBe(true)
    expect(event.path).toHaveLength(MAX_ROUTE_CHARS)
    expect(event.path?.endsWith('p…')).toBe(true)
    for (const text of [event.reason, event.payer]) {
      expect(text).toHaveLength(MAX_TEXT_CHARS)
      expect(text?.endsWith('…')).toBe(true)
    }
  })

  it('a hundred events at the bounds, in characters that take 3 bytes, all fit through the queue', async () => {
    const tag = `bounded-${crypto.randomUUID()}`
    const events: UsageEvent[] = []
    for (let i = 0; i < 100; i++) {
      const call = new UsageCall((event) => events.push(event), {
        at: Date.now(),
        route: `/${'€'.repeat(5_000)}`,
        method: 'POST',
        mcp: true,
      })
      call.priced(1_000, 'tools/call', '€'.repeat(MAX_TEXT_CHARS))
      call.x402Finished(
        { kind: 'refused', refusal: { status: 402, reason: `${tag}${'€'.repeat(1_000)}` } },
        '€'.repeat(1_000),
        1_000
      )
    }
    expect(await sendToQueue(env.USAGE_QUEUE, events)).toBe(true)
    const stored = await awaitEvents(100, 'reason LIKE ?', `${tag}%`)
    expect(stored).toHaveLength(100)
    expect(
      stored.every(
        (event) =>
          event.route.length === MAX_ROUTE_CHARS && event.tool === '€'.repeat(MAX_TEXT_CHARS)
      )
    ).toBe(true)
  })
})

describe('writing events', () => {
  it('a write retried with the same event id stays one row', async () => {
    const event = sampleEvent({
      keyId: 'key_aaaaaaaaaaaaaaaaaaaa',
      amount: 5,
      listPrice: 5,
      latencyMs: 3,
      reservationId: '9',
    })
    expect(await insertEvents(env.USAGE_DB, [event])).toBe(1)
    expect(await insertEvents(env.USAGE_DB, [event, { ...event, amount: 999 }])).toBe(0)
    const rows = await storedEvents('id = ?', event.id)
    expect(rows).toEqual([event])
  })
})

describe('without USAGE_DB', () => {
  it('the gate charges as before, records nothing, and the usage endpoints answer 404', async () => {
    const gateWithout = createGate()
    const bare = { ...env, USAGE_DB: undefined }
    const { id, key } = await createKey('1')
    const ctx = createExecutionContext()
    const response = await gateWithout.fetch(
      new Request('https://gate.test/api/users/3', { headers: { authorization: `Bearer ${key}` } }),
      bare,
      ctx
    )
    expect(response.status).toBe(200)
    await response.text()
    await waitOnExecutionContext(ctx)
    expect((await settledState(id)).credits).toBe('0.98')
    expect(await storedEvents('key_id = ?', id)).toHaveLength(0)
    const usage = await gateWithout.fetch(
      new Request('https://gate.test/admin/usage', {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      }),
      bare,
      createExecutionContext()
    )
    expect(usage.status).toBe(404)
    const metrics = await gateWithout.fetch(
      new Request('https://gate.test/metrics', {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      }),
      bare,
      createExecutionContext()
    )
    expect(await metrics.text()).toContain('paygate_usage_enabled 0\n')
  })
})
