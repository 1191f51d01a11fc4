/**
 * A key's own policy, enforced by its account object with the debit: tool allow-
 * and deny-lists (also on tools/list), the lifetime cap, daily and monthly quotas
 * across a UTC boundary, rotation, trial credits. Each test checks the answer,
 * that a refused call never reached the origin, the balance and the ledger.
 */
import { env } from 'cloudflare:workers'
import { runDurableObjectAlarm } from 'cloudflare:test'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { hashApiKey } from '../../src/credits'
import {
  admin,
  charges,
  createKey,
  gate,
  keyState,
  mcpHeaders,
  mcpMessages,
  newTag,
  originRequests,
  settledState,
  putRouteTable,
} from '../helpers'
import { awaitEvents } from '../usage-helpers'

const mcp = { price: '0.001', tools: { search: '0.01', 'generate-report': '0.05', echo: 'free' } }

beforeEach(async () => {
  await putRouteTable({
    routes: [
      { path: '/mcp-json', origin: env.MCP_ORIGIN, mcp },
      { path: '/api/*', origin: env.API_ORIGIN, price: '0.01' },
    ],
    plans: {
      starter: { kind: 'payg', freeCalls: 2 },
      volume: {
        kind: 'tiered',
        tiers: [
          { upTo: 2, price: '0.002' },
          { upTo: null, percentOfList: 50 },
        ],
      },
      team: { kind: 'subscription', fee: '0.1', includedCalls: 2, overage: 'deny' },
      daily: {
        kind: 'subscription',
        period: 'day',
        fee: '0.05',
        includedCalls: 1,
        overage: 'payg',
      },
    },
  })
})

afterEach(() => {
  vi.useRealTimers()
})

const call = (id: number, tool: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: tool, arguments: args },
})

/** POST JSON-RPC as a client that reads the whole answer (see apiGet). */
async function mcpPost(body: unknown, key: string | undefined, tag: string): Promise<Response> {
  const response = await gate('/mcp-json', {
    method: 'POST',
    headers: mcpHeaders(key, tag),
    body: JSON.stringify(body),
  })
  const text = await response.arrayBuffer()
  return new Response(text, { status: response.status, headers: response.headers })
}

/**
 * GET through the gate as a client that reads the whole answer: a body nobody
 * reads is never delivered, and an undelivered call is released, not charged.
 */
async function apiGet(path: string, key: string, tag: string): Promise<Response> {
  const response = await gate(path, {
    headers: { authorization: `Bearer ${key}`, 'x-test-tag': tag },
  })
  const body = await response.arrayBuffer()
  return new Response(body, { status: response.status, headers: response.headers })
}

const toolCallsAtOrigin = async (tag: string) =>
  (await originRequests(tag)).filter((r) => r.body.includes('tools/call'))

async function put(path: string, body: unknown): Promise<Response> {
  return admin(path, { method: 'PUT', body: JSON.stringify(body) })
}

describe('tool allow- and deny-lists', () => {
  it('refuses a denied tool with tool_not_allowed, never reaches the origin, charges nothing', async () => {
    const { id, key } = await createKey('1', { policy: { denyTools: ['generate-report'] } })
    const tag = newTag()
    const [refusal] = await mcpMessages(await mcpPost(call(1, 'generate-report'), key, tag))
    expect(refusal).toMatchObject({
      id: 1,
      error: { code: -32402, data: { reason: 'tool_not_allowed', tool: 'generate-report' } },
    })
    expect(await toolCallsAtOrigin(tag)).toHaveLength(0)
    const [served] = await mcpMessages(await mcpPost(call(2, 'search', { query: 'q' }), key, tag))
    expect(served).toMatchObject({ id: 2, result: {} })
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01'])
    expect(state.credits).toBe('0.99')
  })

  it('lets an allow-list through only its tools, and refuses a batch with one tool outside it as a whole', async () => {
    const { id, key } = await createKey('1', { policy: { allowTools: ['search'] } })
    const tag = newTag()
    const answers = await mcpMessages(
      await mcpPost([call(1, 'search', { query: 'a' }), call(2, 'generate-report')], key, tag)
    )
    expect(
      answers.every(
        (answer) =>
          (answer.error as { data?: { reason?: string } })?.data?.reason === 'tool_not_allowed'
      )
    ).toBe(true)
    expect(await toolCallsAtOrigin(tag)).toHaveLength(0)
    expect((await keyState(id)).credits).toBe('1')
  })

  it('lists only the tools the key may call in tools/list; without a key, all of them', async () => {
    const { key } = await createKey('1', {
      policy: { allowTools: ['search', 'echo', 'generate-report'], denyTools: ['generate-report'] },
    })
    const list = { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }
    const names = async (withKey: string | undefined) => {
      const [answer] = await mcpMessages(await mcpPost(list, withKey, newTag()))
      return ((answer?.result as { tools: Array<{ name: string }> }).tools ?? [])
        .map((tool) => tool.name)
        .sort()
    }
    expect(await names(key)).toEqual(['echo', 'search'])
    const all = await names(undefined)
    expect(all).toContain('generate-report')
    expect(all.length).toBeGreaterThan(2)
  })

  it('applies a policy changed later at once, and records the change in the ledger', async () => {
    const { id, key } = await createKey('1')
    expect((await put(`/keys/${id}/policy`, { denyTools: ['search'] })).status).toBe(200)
    const [refusal] = await mcpMessages(
      await mcpPost(call(1, 'search', { query: 'q' }), key, newTag())
    )
    expect(refusal).toMatchObject({ error: { data: { reason: 'tool_not_allowed' } } })
    const state = await keyState(id)
    expect(state.ledger.map((row) => row.kind)).toContain('policy')
  })
})

describe('lifetime spending limit', () => {
  it('stops a key at its cap, counting calls in flight, with spending_limit_reached', async () => {
    const { id, key } = await createKey('1', { policy: { lifetimeLimit: '0.02' } })
    const tag = newTag()
    expect((await apiGet('/api/a', key, tag)).status).toBe(200)
    expect((await apiGet('/api/b', key, tag)).status).toBe(200)
    const refused = await apiGet('/api/c', key, tag)
    expect(refused.status).toBe(402)
    expect(await refused.json()).toMatchObject({ error: { code: 'spending_limit_reached' } })
    expect((await originRequests(tag)).map((r) => r.path)).toEqual(['/api/a', '/api/b'])
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01', '-0.01'])
    expect((state as unknown as { spent: string }).spent).toBe('0.02')
  })

  it('does not count a failed call against the cap', async () => {
    const { id, key } = await createKey('1', { policy: { lifetimeLimit: '0.01' } })
    const tag = newTag()
    expect((await apiGet('/api/status/500', key, tag)).status).toBe(500)
    await settledState(id)
    expect((await apiGet('/api/ok', key, tag)).status).toBe(200)
    expect(charges(await settledState(id))).toEqual(['-0.01'])
  })
})

describe('quotas reset at UTC boundaries', () => {
  it('refuses the call past a daily call quota with 429 and Retry-After until midnight UTC, then serves again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2031-03-31T23:59:00Z'))
    const { id, key } = await createKey('1', { policy: { quotas: { daily: { calls: 2 } } } })
    const tag = newTag()
    expect((await apiGet('/api/1', key, tag)).status).toBe(200)
    expect((await apiGet('/api/2', key, tag)).status).toBe(200)
    const refused = await apiGet('/api/3', key, tag)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('60')
    expect(await refused.json()).toMatchObject({
      error: { code: 'quota_exceeded', quota: { period: 'day', metric: 'calls', limit: 2 } },
    })
    await settledState(id)
    vi.setSystemTime(new Date('2031-04-01T00:00:01Z'))
    expect((await apiGet('/api/4', key, tag)).status).toBe(200)
    expect((await originRequests(tag)).map((r) => r.path)).toEqual(['/api/1', '/api/2', '/api/4'])
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01', '-0.01', '-0.01'])
    expect((state as unknown as { usage: unknown }).usage).toMatchObject({
      today: { calls: 1, spend: '0.01' },
      thisMonth: { calls: 1 },
    })
  })

  it('caps monthly spend, gives a failed call its spend back, and resets on the 1st', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2031-01-31T12:00:00Z'))
    const { id, key } = await createKey('1', { policy: { quotas: { monthly: { spend: '0.02' } } } })
    const tag = newTag()
    expect((await apiGet('/api/status/502', key, tag)).status).toBe(502) // released: not spent
    await settledState(id)
    expect((await apiGet('/api/a', key, tag)).status).toBe(200)
    expect((await apiGet('/api/b', key, tag)).status).toBe(200)
    expect((await apiGet('/api/c', key, tag)).status).toBe(429)
    await settledState(id)
    vi.setSystemTime(new Date('2031-02-01T00:00:00Z'))
    expect((await apiGet('/api/d', key, tag)).status).toBe(200)
    expect(charges(await settledState(id))).toEqual(['-0.01', '-0.01', '-0.01'])
  })
})

describe('key rotation', () => {
  it('gives a new key to the same account: old key refused, balance, limits, policy and history kept', async () => {
    const { id, key } = await createKey('1', {
      policy: { denyTools: ['generate-report'] },
      rateLimit: { limit: 100, windowSeconds: 60 },
    })
    const tag = newTag()
    expect((await apiGet('/api/before', key, tag)).status).toBe(200)
    await settledState(id)
    const rotated = await admin(`/keys/${id}/rotate`, { method: 'POST' })
    expect(rotated.status).toBe(200)
    const body = (await rotated.json()) as {
      key: string
      id: string
      credits: string
      rateLimit: unknown
      rotatedAt: string
    }
    expect(body).toMatchObject({
      id,
      credits: '0.99',
      rateLimit: { limit: 100, windowSeconds: 60 },
    })
    expect(body.key).toMatch(/^pg_/)
    expect(body.key).not.toBe(key)
    expect(body.rotatedAt).toBeTruthy()

    const old = await apiGet('/api/old', key, tag)
    expect(old.status).toBe(401)
    expect(await old.json()).toMatchObject({ error: { code: 'invalid_api_key' } })
    expect((await gate('/balance', { headers: { authorization: `Bearer ${key}` } })).status).toBe(
      401
    )

    expect((await apiGet('/api/after', body.key, tag)).status).toBe(200)
    const balance = await gate('/balance', { headers: { authorization: `Bearer ${body.key}` } })
    expect(await balance.json()).toMatchObject({ credits: '0.98' })
    const [refusal] = await mcpMessages(await mcpPost(call(1, 'generate-report'), body.key, tag))
    expect(refusal).toMatchObject({ error: { data: { reason: 'tool_not_allowed' } } })
    expect((await originRequests(tag)).map((r) => r.path)).toEqual(['/api/before', '/api/after'])

    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01', '-0.01'])
    expect(state.ledger.map((row) => row.kind)).toEqual(['charge', 'rotate', 'charge', 'grant'])
    // Rotating again retires the second key too.
    const again = (await (await admin(`/keys/${id}/rotate`, { method: 'POST' })).json()) as {
      key: string
    }
    expect((await apiGet('/api/x', body.key, tag)).status).toBe(401)
    expect((await apiGet('/api/y', again.key, tag)).status).toBe(200)
  })

  it('refuses to rotate an unknown key', async () => {
    expect((await admin('/keys/key_aaaaaaaaaaaaaaaaaaaa/rotate', { method: 'POST' })).status).toBe(
      404
    )
  })
})

describe('trial credits', () => {
  it('are spent before the others and the rest expires on time with an expire ledger row', async () => {
    const expiresAt = new Date(Date.now() + 60_000).toISOString()
    const { id, key } = await createKey('1', { trial: { credits: '0.015', expiresAt } })
    const tag = newTag()
    expect((await apiGet('/api/a', key, tag)).status).toBe(200)
    let state = (await settledState(id)) as unknown as {
      credits: string
      expiringCredits: Array<{ credits: string }>
    }
    expect(state.credits).toBe('1.005')
    expect(state.expiringCredits).toEqual([{ credits: '0.005', expiresAt }])
    // At the trial's end its alarm takes back what is left of it, and only that.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.parse(expiresAt) + 1)
    await runDurableObjectAlarm(env.CREDITS.getByName(await hashApiKey(key)))
    const after = await keyState(id)
    expect(after.credits).toBe('1')
    expect(after.ledger[0]).toMatchObject({ kind: 'expire', amount: '-0.005', balanceAfter: '1' })
    expect((after as unknown as { expiringCredits: unknown[] }).expiringCredits).toEqual([])
  })

  it('a trial that expires while a call holds credits keeps what that call will spend from it, never the paid credits', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2031-08-10T12:00:00Z'))
    const expiresAt = new Date('2031-08-10T12:01:00Z').toISOString()
    const { id, key } = await createKey('0.01', { trial: { credits: '0.01', expiresAt } })
    const account = env.CREDITS.getByName(await hashApiKey(key))
    const held = await account.reserve({
      amount: 10_000,
      holdMs: 600_000,
      label: 'in flight',
      limits: [],
    })
    if (!held.ok || held.kind !== 'reserved') throw new Error('not reserved')
    // The trial ends with the call in flight: the whole trial backs that call, so nothing is taken yet.
    vi.setSystemTime(Date.parse(expiresAt) + 1)
    await runDurableObjectAlarm(account)
    expect((await keyState(id)).ledger.filter((row) => row.kind === 'expire')).toEqual([])
    // The call is served and spends the trial: the paid credits are all still there.
    expect(await account.settle(held.reservationId, 10_000)).toMatchObject({
      ok: true,
      charged: 10_000,
    })
    const after = (await keyState(id)) as unknown as { credits: string; expiringCredits: unknown[] }
    expect(after.credits).toBe('0.01')
    expect(after.expiringCredits).toEqual([])
  })

  it('an expired trial never pays for a call held after its expiry, even while it still backs an earlier one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2031-08-11T12:00:00Z'))
    const expiresAt = new Date('2031-08-11T12:01:00Z').toISOString()
    const { id, key } = await createKey('0.1', { trial: { credits: '0.01', expiresAt } })
    const account = env.CREDITS.getByName(await hashApiKey(key))
    const reserve = async (label: string) => {
      const held = await account.reserve({ amount: 10_000, holdMs: 600_000, label, limits: [] })
      if (!held.ok || held.kind !== 'reserved') throw new Error('not reserved')
      return held.reservationId
    }
    const early = await reserve('before the expiry') // backed by the trial
    vi.setSystemTime(Date.parse(expiresAt) + 1)
    await runDurableObjectAlarm(account)
    const late = await reserve('after the expiry') // paid credits only
    // The early call fails: nothing backs the trial any more, so the next pass takes it all.
    expect(await account.settle(early, 0)).toMatchObject({ ok: true, charged: 0 })
    expect(await account.settle(late, 10_000)).toMatchObject({ ok: true, charged: 10_000 })
    await runDurableObjectAlarm(account)
    const state = (await keyState(id)) as unknown as {
      credits: string
      balance: string
      expiringCredits: unknown[]
      ledger: Array<{ kind: string; amount: string }>
    }
    expect(state.ledger.filter((row) => row.kind === 'expire').map((row) => row.amount)).toEqual([
      '-0.01',
    ])
    expect(state.balance).toBe('0.09') // 0.1 paid + 0.01 trial − 0.01 charged − 0.01 expired
    expect(state.expiringCredits).toEqual([])
  })

  it('a subscription fee is paid from trial credits first, so their expiry never takes paid credits', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2031-09-10T12:00:00Z'))
    const expiresAt = new Date('2031-09-10T13:00:00Z').toISOString()
    const { id, key } = await createKey('1', { plan: 'team', trial: { credits: '0.1', expiresAt } })
    expect(
      await mcpMessages(await mcpPost(call(1, 'search', { query: 'q' }), key, newTag()))
    ).toMatchObject([{ result: {} }])
    let state = (await settledState(id)) as unknown as {
      credits: string
      expiringCredits: unknown[]
    }
    expect(state.credits).toBe('1')
    expect(state.expiringCredits).toEqual([])
    vi.setSystemTime(Date.parse(expiresAt) + 1)
    await runDurableObjectAlarm(env.CREDITS.getByName(await hashApiKey(key)))
    state = (await keyState(id)) as unknown as { credits: string; expiringCredits: unknown[] }
    expect(state.credits).toBe('1')
  })

  it('can be granted to an existing key, and a grant in the past is refused', async () => {
    const { id } = await createKey('0')
    const past = await admin(`/keys/${id}/grants`, {
      method: 'POST',
      body: JSON.stringify({ credits: '1', expiresAt: '2001-01-01T00:00:00Z' }),
    })
    expect(past.status).toBe(400)
    const granted = await admin(`/keys/${id}/grants`, {
      method: 'POST',
      body: JSON.stringify({
        credits: '0.5',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      }),
    })
    expect(granted.status).toBe(200)
    expect(await granted.json()).toMatchObject({
      credits: '0.5',
      expiringCredits: [{ credits: '0.5' }],
    })
  })
})

describe('bad policy input', () => {
  it('is refused with the field named, and changes nothing', async () => {
    const { id } = await createKey('1')
    for (const body of [
      { lifetimeLimit: '-1' },
      { quotas: { daily: { calls: -1 } } },
      { allowTools: 'search' },
      { surprise: true },
    ]) {
      const response = await put(`/keys/${id}/policy`, body)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } })
    }
    expect((await put(`/keys/${id}/plan`, { plan: 'no-such-plan' })).status).toBe(400)
    const state = await keyState(id)
    expect(state.ledger.map((row) => row.kind)).toEqual(['grant'])
  })
})

describe('plans', () => {
  const search = (id: number) => call(id, 'search', { query: 'q' })

  it('pay-as-you-go: the first calls of the month are free (ledger rows of 0), then list price', async () => {
    const { id, key } = await createKey('1', { plan: 'starter' })
    const tag = newTag()
    for (let n = 1; n <= 3; n++)
      expect(await mcpMessages(await mcpPost(search(n), key, tag))).toMatchObject([
        { id: n, result: {} },
      ])
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01', '0', '0'])
    expect(state.credits).toBe('0.99')
    expect((state as unknown as { plan: unknown }).plan).toMatchObject({
      name: 'starter',
      kind: 'payg',
      freeCalls: 2,
    })
  })

  it('a free call that fails gives its allowance back', async () => {
    const { id, key } = await createKey('1', { plan: 'starter' })
    const tag = newTag()
    await mcpPost(call(1, 'fail'), key, tag) // a tool error: released, not counted
    await settledState(id)
    await mcpPost(search(2), key, tag)
    await mcpPost(search(3), key, tag)
    await mcpPost(search(4), key, tag)
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01', '0', '0'])
  })

  it('tiered: calls are priced by the tier they fall in, batches included', async () => {
    const { id, key } = await createKey('1', { plan: 'volume' })
    const tag = newTag()
    const response = await mcpPost([search(1), search(2), search(3), call(4, 'fail')], key, tag)
    expect(response.headers.get('x-credits-remaining')).toBe('0.9905') // 1 − (0.002 + 0.002 + 0.005 + 0.0005)
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.009']) // the failing tool is released
    expect(state.credits).toBe('0.991')
    // The failed call's place in the tiers is given back: the next call is the 4th of the month.
    await mcpPost(search(5), key, tag)
    expect(charges(await settledState(id))).toEqual(['-0.005', '-0.009'])
  })

  it("a call of a batch that fails does not use up a free call or a cheaper tier: the served ones are the period's next calls", async () => {
    const free = await createKey('1', { plan: 'starter' })
    const tag = newTag()
    // Held as calls 1–4 of the month (0, 0, 0.01, 0.01); the first fails, so the three served are calls 1–3.
    await mcpPost([call(1, 'fail'), search(2), search(3), search(4)], free.key, tag)
    expect(charges(await settledState(free.id))).toEqual(['-0.01'])
    await mcpPost(search(5), free.key, tag) // the 4th served call of the month: list price
    const freeState = await settledState(free.id)
    expect(charges(freeState)).toEqual(['-0.01', '-0.01'])
    expect(freeState.credits).toBe('0.98')
    expect((freeState as unknown as { usage: { thisMonth: unknown } }).usage.thisMonth).toEqual({
      calls: 4,
      spend: '0.02',
    })

    const volume = await createKey('1', { plan: 'volume' })
    await mcpPost([call(1, 'fail'), search(2), search(3), search(4)], volume.key, tag)
    expect(charges(await settledState(volume.id))).toEqual(['-0.009']) // 0.002 + 0.002 + 0.005, not 0.002 + 0.005 + 0.005
  })

  it('subscription: the fee is taken at the first call of the period, included calls are free, then refused', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2031-05-31T10:00:00Z'))
    const { id, key } = await createKey('1', { plan: 'team' })
    const tag = newTag()
    expect(await mcpMessages(await mcpPost(search(1), key, tag))).toMatchObject([{ result: {} }])
    expect(await mcpMessages(await mcpPost(search(2), key, tag))).toMatchObject([{ result: {} }])
    const [refusal] = await mcpMessages(await mcpPost(search(3), key, tag))
    expect(refusal).toMatchObject({
      error: { code: -32402, data: { reason: 'plan_allowance_exhausted' } },
    })
    expect(await toolCallsAtOrigin(tag)).toHaveLength(2)
    let state = await settledState(id)
    expect(state.ledger.map((row) => [row.kind, row.amount])).toEqual([
      ['charge', '0'],
      ['charge', '0'],
      ['fee', '-0.1'],
      ['grant', '1'],
    ])
    vi.setSystemTime(new Date('2031-06-01T00:00:05Z'))
    expect(await mcpMessages(await mcpPost(search(4), key, tag))).toMatchObject([{ result: {} }])
    state = await settledState(id)
    expect(state.credits).toBe('0.8')
    expect(state.ledger.filter((row) => row.kind === 'fee')).toHaveLength(2)
  })

  it("a subscription fee is revenue: a usage event of its own (outcome fee) beside the call's, and the next call takes none", async () => {
    const { id, key } = await createKey('1', { plan: 'team' })
    const tag = newTag()
    await mcpPost(search(1), key, tag)
    await mcpPost(search(2), key, tag)
    await settledState(id)
    const events = await awaitEvents(3, 'key_id = ?', id)
    expect(events.filter((event) => event.outcome === 'fee')).toMatchObject([
      { amount: 100_000, listPrice: 100_000, reason: 'plan_fee', tool: 'search', rail: 'credits' },
    ])
    expect(events.filter((event) => event.outcome === 'charged')).toMatchObject([
      { amount: 0, reason: 'plan_included' },
      { amount: 0, reason: 'plan_included' },
    ])
  })

  it('a reserve reports the subscription fee it took, so what was available before it is known (low-balance alerts)', async () => {
    const { key } = await createKey('1', { plan: 'team' })
    const account = env.CREDITS.getByName(await hashApiKey(key))
    const first = await account.reserve({
      amount: 10_000,
      holdMs: 60_000,
      label: 'first',
      limits: [],
    })
    expect(first).toMatchObject({
      ok: true,
      kind: 'reserved',
      amount: 0,
      fee: 100_000,
      available: 900_000,
    })
    const second = await account.reserve({
      amount: 10_000,
      holdMs: 60_000,
      label: 'second',
      limits: [],
    })
    expect(second).toMatchObject({ ok: true, kind: 'reserved', fee: 0 })
  })

  it('subscription with pay-as-you-go overage, per UTC day', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2031-07-10T23:59:30Z'))
    const { id, key } = await createKey('1', { plan: 'daily' })
    const tag = newTag()
    for (let n = 1; n <= 2; n++) await mcpPost(search(n), key, tag)
    await settledState(id)
    vi.setSystemTime(new Date('2031-07-11T00:00:00Z'))
    await mcpPost(search(3), key, tag)
    const state = await settledState(id)
    // day 1: fee 0.05, one included call, one at 0.01; day 2: fee 0.05, one included call
    expect(state.credits).toBe('0.89')
  })

  it('is assigned and removed through the admin API; an unknown plan is refused', async () => {
    const { id, key } = await createKey('1')
    expect((await put(`/keys/${id}/plan`, { plan: 'starter' })).status).toBe(200)
    await mcpPost(search(1), key, newTag())
    expect((await put(`/keys/${id}/plan`, { plan: null })).status).toBe(200)
    await mcpPost(search(2), key, newTag())
    const state = await settledState(id)
    expect(charges(state)).toEqual(['-0.01', '0'])
    expect(
      (await admin('/keys', { method: 'POST', body: JSON.stringify({ name: 'x', plan: 'gold' }) }))
        .status
    ).toBe(400)
  })
})
