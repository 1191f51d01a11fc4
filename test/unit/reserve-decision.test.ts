/**
 * The reserve decision as a pure function (credits/reserve-decision): every
 * refusal, every replay and every plan rule, from a snapshot of what the account
 * object read, with no Durable Object. The integration tests (credit-account,
 * key-policies, concurrency) check the same rules through the real object.
 */
import { describe, expect, it } from 'vitest'
import type { AccountRow } from '../../src/credits/account-sql'
import { decide, type ReserveSnapshot } from '../../src/credits/reserve-decision'
import {
  NO_POLICY,
  type AssignedPlan,
  type KeyPolicy,
  type ReserveItem,
  type ReserveRequest,
} from '../../src/credits'

/** 2026-11-21 12:00:00 UTC. */
const NOW = Date.UTC(2026, 10, 21, 12)
const DAY_END = Date.UTC(2026, 10, 22)

const ROW: AccountRow = {
  id: 'key_1',
  name: 'test',
  status: 'active',
  balance: 1_000,
  held: 0,
  expires_at: null,
  rate_limit: null,
  rate_window: null,
  created_at: NOW - 1000,
  updated_at: NOW - 1000,
  spent: 0,
}

function snapshot(change: Partial<ReserveSnapshot> = {}): ReserveSnapshot {
  return {
    row: ROW,
    opens: true,
    policy: NO_POLICY,
    plan: null,
    paidAttempt: null,
    idempotency: null,
    windows: new Map(),
    usage: { day: { calls: 0, spend: 0 }, month: { calls: 0, spend: 0 } },
    feeTaken: false,
    holdId: 7,
    ...change,
  }
}

function request(change: Partial<ReserveRequest> = {}): ReserveRequest {
  return {
    amount: 100,
    holdMs: 30_000,
    label: 'POST /mcp tools/call search',
    limits: [],
    ...change,
  }
}

const ONE: ReserveItem[] = [{ price: 100, tool: 'search' }]
const policy = (change: Partial<KeyPolicy>): KeyPolicy => ({ ...NO_POLICY, ...change })
const plan = (definition: AssignedPlan['definition']): AssignedPlan => ({ name: 'pro', definition })
const used = (calls: number, spend = 0) => ({ day: { calls, spend }, month: { calls, spend } })

describe('decide: refusals', () => {
  const cases: Array<{
    name: string
    snapshot: Partial<ReserveSnapshot>
    request?: Partial<ReserveRequest>
    items?: ReserveItem[]
    refusal: Record<string, unknown>
  }> = [
    {
      name: 'a key that does not open the account (rotated away)',
      snapshot: { opens: false },
      refusal: { reason: 'invalid_api_key' },
    },
    {
      name: 'a suspended key',
      snapshot: { row: { ...ROW, status: 'suspended' } },
      refusal: { reason: 'key_suspended' },
    },
    {
      name: 'a revoked key',
      snapshot: { row: { ...ROW, status: 'revoked' } },
      refusal: { reason: 'key_revoked' },
    },
    {
      name: 'a key past its expiry',
      snapshot: { row: { ...ROW, expires_at: NOW } },
      refusal: { reason: 'key_expired' },
    },
    {
      name: 'an Idempotency-Key used for another request',
      snapshot: { idempotency: { kind: 'mismatch' } },
      request: { idempotency: { key: 'k', fingerprint: 'f' } },
      refusal: { reason: 'idempotency_mismatch', available: 1_000 },
    },
    {
      name: 'an Idempotency-Key whose batch was only partly served',
      snapshot: { idempotency: { kind: 'partly-served' } },
      request: { idempotency: { key: 'k', fingerprint: 'f' } },
      refusal: { reason: 'idempotency_mismatch' },
    },
    {
      name: 'an Idempotency-Key whose call is in flight',
      snapshot: { idempotency: { kind: 'in-progress' } },
      request: { idempotency: { key: 'k', fingerprint: 'f' } },
      refusal: { reason: 'idempotency_in_progress' },
    },
    {
      name: "the key's own rate limit, full",
      snapshot: {
        row: { ...ROW, rate_limit: 2, rate_window: 60 },
        windows: new Map([['key', { windowStart: Date.UTC(2026, 10, 21, 12), count: 2 }]]),
      },
      refusal: {
        reason: 'rate_limited',
        retryAfterSeconds: 60,
        rateLimit: { limit: 2, remaining: 0, resetSeconds: 60 },
      },
    },
    {
      name: "a route's limit, which a batch's cost does not fit",
      snapshot: { windows: new Map([['route:a', { windowStart: NOW, count: 8 }]]) },
      request: { limits: [{ bucket: 'route:a', limit: 10, windowSeconds: 3600, cost: 3 }] },
      refusal: {
        reason: 'rate_limited',
        retryAfterSeconds: 3600,
        rateLimit: { limit: 10, remaining: 2, resetSeconds: 3600 },
      },
    },
    {
      name: 'a tool on the deny-list',
      snapshot: { policy: policy({ denyTools: ['search'] }) },
      refusal: { reason: 'tool_not_allowed', tool: 'search' },
    },
    {
      name: 'a tool not on the allow-list',
      snapshot: { policy: policy({ allowTools: ['echo'] }) },
      refusal: { reason: 'tool_not_allowed', tool: 'search' },
    },
    {
      name: "the day's call quota",
      snapshot: {
        policy: policy({ quotas: [{ period: 'day', metric: 'calls', limit: 5 }] }),
        usage: used(5),
      },
      refusal: {
        reason: 'quota_exceeded',
        quota: { period: 'day', metric: 'calls', limit: 5 },
        retryAfterSeconds: (DAY_END - NOW) / 1000,
      },
    },
    {
      name: "the month's spend quota",
      snapshot: {
        policy: policy({ quotas: [{ period: 'month', metric: 'spend', limit: 150 }] }),
        usage: used(1, 60),
      },
      refusal: {
        reason: 'quota_exceeded',
        quota: { period: 'month', metric: 'spend', limit: 150 },
      },
    },
    {
      name: 'the lifetime cap, counting what is spent and held',
      snapshot: { policy: policy({ lifetimeLimit: 500 }), row: { ...ROW, spent: 300, held: 150 } },
      refusal: { reason: 'spending_limit_reached', available: 850 },
    },
    {
      name: 'too few credits available (balance less held)',
      snapshot: { row: { ...ROW, balance: 1_000, held: 950 } },
      refusal: { reason: 'insufficient_credits', available: 50 },
    },
    {
      name: 'a subscription past its included calls, overage denied',
      snapshot: {
        plan: plan({
          kind: 'subscription',
          period: 'month',
          fee: 0,
          includedCalls: 3,
          overage: 'deny',
        }),
        usage: used(3),
      },
      refusal: { reason: 'plan_allowance_exhausted' },
    },
    {
      name: "a subscription's fee that the credits cannot pay",
      snapshot: {
        plan: plan({
          kind: 'subscription',
          period: 'month',
          fee: 2_000,
          includedCalls: 10,
          overage: 'deny',
        }),
      },
      refusal: { reason: 'insufficient_credits', available: 1_000 },
    },
    {
      name: "a subscription's fee past the lifetime cap",
      snapshot: {
        plan: plan({
          kind: 'subscription',
          period: 'month',
          fee: 600,
          includedCalls: 10,
          overage: 'deny',
        }),
        policy: policy({ lifetimeLimit: 500 }),
      },
      refusal: { reason: 'spending_limit_reached' },
    },
  ]
  it.each(cases)('refuses $name', ({ snapshot: change, request: req, items, refusal }) => {
    const decision = decide(snapshot(change), request(req), items ?? ONE, NOW)
    expect(decision.effects).toBeNull()
    expect(decision.outcome).toMatchObject({ ok: false, ...refusal })
  })

  const order: Array<{ name: string; snapshot: Partial<ReserveSnapshot>; reason: string }> = [
    {
      name: 'a key that does not open before its status',
      snapshot: { opens: false, row: { ...ROW, status: 'revoked' } },
      reason: 'invalid_api_key',
    },
    {
      name: 'status before idempotency',
      snapshot: { row: { ...ROW, status: 'suspended' }, idempotency: { kind: 'mismatch' } },
      reason: 'key_suspended',
    },
    {
      name: 'the tool lists before the balance',
      snapshot: { policy: policy({ denyTools: ['search'] }), row: { ...ROW, balance: 0 } },
      reason: 'tool_not_allowed',
    },
    {
      name: 'a quota before the lifetime cap',
      snapshot: {
        policy: policy({
          lifetimeLimit: 0,
          quotas: [{ period: 'day', metric: 'calls', limit: 0 }],
        }),
      },
      reason: 'quota_exceeded',
    },
  ]
  it.each(order)('checks $name', ({ snapshot: change, reason }) => {
    expect(
      decide(snapshot(change), request({ idempotency: { key: 'k', fingerprint: 'f' } }), ONE, NOW)
        .outcome
    ).toMatchObject({ ok: false, reason })
  })
})

describe('decide: replays', () => {
  it("answers a charged try of the same call with its charge, before the key's status", () => {
    const decision = decide(
      snapshot({
        paidAttempt: { reservationId: 3, charged: 100, calls: 1 },
        row: { ...ROW, expires_at: NOW - 1 },
      }),
      request({ attempt: 'a1' }),
      ONE,
      NOW
    )
    expect(decision).toEqual({
      outcome: {
        ok: true,
        kind: 'replayed',
        available: 1_000,
        earlier: { reservationId: '3', charged: 100, calls: 1 },
        own: true,
      },
      effects: null,
    })
  })

  it('answers a charged Idempotency-Key with the earlier charge, not a new one', () => {
    const decision = decide(
      snapshot({
        idempotency: { kind: 'charged', earlier: { reservationId: 4, charged: 90, calls: 2 } },
      }),
      request({ idempotency: { key: 'k', fingerprint: 'f' } }),
      ONE,
      NOW
    )
    expect(decision).toEqual({
      outcome: {
        ok: true,
        kind: 'replayed',
        available: 1_000,
        earlier: { reservationId: '4', charged: 90, calls: 2 },
        own: false,
      },
      effects: null,
    })
  })

  it('takes a new hold for an Idempotency-Key never seen, or whose attempt was not charged', () => {
    const decision = decide(
      snapshot({ idempotency: { kind: 'new' } }),
      request({ idempotency: { key: 'k', fingerprint: 'f' }, attempt: 'a2' }),
      ONE,
      NOW
    )
    expect(decision.outcome).toMatchObject({ ok: true, kind: 'reserved', reservationId: '7' })
    expect(decision.effects?.remember).toEqual([
      { key: 'k', fingerprint: 'f' },
      { key: 'attempt a2', fingerprint: 'attempt' },
    ])
  })
})

describe('decide: a hold', () => {
  it('holds the list price, counts the call and leaves the balance to the charge', () => {
    const { outcome, effects } = decide(snapshot(), request(), ONE, NOW)
    expect(outcome).toEqual({
      ok: true,
      kind: 'reserved',
      reservationId: '7',
      amount: 100,
      charges: [100],
      plan: null,
      fee: 0,
      charged: false,
      available: 900,
      rateLimit: undefined,
    })
    expect(effects).toEqual({
      row: { ...ROW, held: 100, updated_at: NOW },
      fee: null,
      hold: {
        id: 7,
        hold: {
          amount: 100,
          calls: 1,
          tracked: true,
          label: 'POST /mcp tools/call search',
          createdAt: NOW,
          expiresAt: NOW + 30_000,
        },
      },
      counters: { calls: 1, spend: 100 },
      remember: [],
      windows: [],
    })
  })

  it('counts every limit, starts a new window when the stored one is past, and reports the tightest', () => {
    const hour = Date.UTC(2026, 10, 21, 12)
    const windows = new Map([
      ['key', { windowStart: hour - 3_600_000, count: 9 }],
      ['tool:search', { windowStart: hour, count: 4 }],
    ])
    const limits = [{ bucket: 'tool:search', limit: 10, windowSeconds: 3600, cost: 2 }]
    const { outcome, effects } = decide(
      snapshot({ row: { ...ROW, rate_limit: 10, rate_window: 3600 }, windows }),
      request({ limits }),
      [{ price: 50 }, { price: 50 }],
      NOW
    )
    expect(effects?.windows).toEqual([
      { bucket: 'key', windowStart: hour, count: 1 },
      { bucket: 'tool:search', windowStart: hour, count: 6 },
    ])
    expect(outcome).toMatchObject({
      ok: true,
      rateLimit: { limit: 10, remaining: 4, resetSeconds: 3600 },
    })
  })

  it('counts two checks on one bucket on top of each other', () => {
    const limits = [
      { bucket: 'b', limit: 10, windowSeconds: 60, cost: 1 },
      { bucket: 'b', limit: 10, windowSeconds: 60, cost: 1 },
    ]
    expect(
      decide(snapshot(), request({ limits }), ONE, NOW).effects?.windows.map((write) => write.count)
    ).toEqual([1, 2])
  })

  it('holds exactly what is available', () => {
    expect(
      decide(snapshot({ row: { ...ROW, held: 900 } }), request(), ONE, NOW).outcome
    ).toMatchObject({ ok: true, available: 0 })
  })
})

describe('decide: plan rules', () => {
  const cases: Array<{
    name: string
    plan: AssignedPlan['definition']
    before: number
    feeTaken?: boolean
    items: number[]
    charges: number[]
    fee?: number
    position?: boolean
  }> = [
    {
      name: 'payg: free calls of the period cost 0',
      plan: { kind: 'payg', period: 'month', freeCalls: 3 },
      before: 2,
      items: [100],
      charges: [0],
    },
    {
      name: 'payg: past the free calls, list price',
      plan: { kind: 'payg', period: 'month', freeCalls: 3 },
      before: 3,
      items: [100],
      charges: [100],
    },
    {
      name: 'payg: a batch straddling the free calls',
      plan: { kind: 'payg', period: 'day', freeCalls: 3 },
      before: 2,
      items: [100, 100],
      charges: [0, 100],
      position: true,
    },
    {
      name: 'tiered: each call priced by its tier, percentages rounded down',
      plan: {
        kind: 'tiered',
        period: 'month',
        tiers: [
          { upTo: 1, price: { micros: 7 } },
          { upTo: null, price: { percentOfList: 33 } },
        ],
      },
      before: 0,
      items: [100, 100],
      charges: [7, 33],
      position: true,
    },
    {
      name: "subscription: the period's first call takes the fee",
      plan: { kind: 'subscription', period: 'month', fee: 500, includedCalls: 10, overage: 'deny' },
      before: 0,
      items: [100],
      charges: [0],
      fee: 500,
    },
    {
      name: 'subscription: the fee is taken once a period',
      plan: { kind: 'subscription', period: 'month', fee: 500, includedCalls: 10, overage: 'deny' },
      before: 1,
      feeTaken: true,
      items: [100],
      charges: [0],
    },
    {
      name: 'subscription: overage at list price with "payg"',
      plan: { kind: 'subscription', period: 'day', fee: 0, includedCalls: 1, overage: 'payg' },
      before: 0,
      items: [100, 100],
      charges: [0, 100],
      position: true,
    },
  ]
  it.each(cases)(
    '$name',
    ({ plan: definition, before, feeTaken, items, charges, fee = 0, position }) => {
      const list = items.map((price) => ({ price }))
      const sum = items.reduce((a, b) => a + b, 0)
      const held = charges.reduce((a, b) => a + b, 0)
      const { outcome, effects } = decide(
        snapshot({ plan: plan(definition), usage: used(before), feeTaken: feeTaken ?? false }),
        request({ amount: sum, items: list }),
        list,
        NOW
      )
      expect(outcome).toMatchObject({
        ok: true,
        kind: 'reserved',
        amount: held,
        charges,
        fee,
        available: 1_000 - fee - held,
      })
      expect(outcome).toMatchObject({ plan: position ? { definition, callsBefore: before } : null })
      expect(effects?.counters).toEqual({ calls: items.length, spend: held })
      expect(effects?.row).toMatchObject({ balance: 1_000 - fee, held, spent: fee })
      if (fee > 0)
        expect(effects?.fee).toEqual({
          period: definition.period,
          amount: fee,
          label: 'pro (2026-11)',
          balanceAfter: 1_000 - fee,
        })
      else expect(effects?.fee).toBeNull()
    }
  )

  it('labels a daily fee with its day', () => {
    const definition = {
      kind: 'subscription',
      period: 'day',
      fee: 5,
      includedCalls: 1,
      overage: 'deny',
    } as const
    expect(
      decide(snapshot({ plan: plan(definition) }), request(), ONE, NOW).effects?.fee?.label
    ).toBe('pro (2026-11-21)')
  })
})
