/**
 * Plan prices and UTC periods, as pure functions: integer micro-dollars only,
 * percentages rounded down, boundaries exactly at midnight UTC.
 */
import { describe, expect, it } from 'vitest'
import { periodEnd, periodKey } from '../../src/credits/periods'
import { chargeOfServed, priceUnderPlan } from '../../src/credits/plan-pricing'
import { brokenQuota, overLifetimeLimit, refusedTool } from '../../src/credits/policy-check'
import { NO_POLICY, type KeyPolicy, type PlanDefinition } from '../../src/credits'
import { validateRoutesFile } from '../../src/pricing'

describe('priceUnderPlan', () => {
  it('charges list prices with no plan', () => {
    expect(priceUnderPlan(null, [10, 20], 5)).toEqual({ ok: true, charges: [10, 20] })
  })

  it('makes the first free calls of the period free, counting the calls before', () => {
    const plan = { kind: 'payg', period: 'month', freeCalls: 3 } as const
    expect(priceUnderPlan(plan, [10, 10, 10], 1)).toEqual({ ok: true, charges: [0, 0, 10] })
  })

  it('prices each call by its tier; percentages round down to the micro-dollar', () => {
    const plan: PlanDefinition = {
      kind: 'tiered',
      period: 'month',
      tiers: [
        { upTo: 2, price: { micros: 7 } },
        { upTo: 4, price: { percentOfList: 50 } },
        { upTo: null, price: { percentOfList: 0 } },
      ],
    }
    expect(priceUnderPlan(plan, [11, 11, 11, 11, 11, 11], 0)).toEqual({
      ok: true,
      charges: [7, 7, 5, 5, 0, 0],
    })
  })

  it('refuses a subscription past its included calls with overage "deny", or charges list with "payg"', () => {
    const deny = {
      kind: 'subscription',
      period: 'day',
      fee: 100,
      includedCalls: 2,
      overage: 'deny',
    } as const
    expect(priceUnderPlan(deny, [5, 5], 0)).toEqual({ ok: true, charges: [0, 0] })
    expect(priceUnderPlan(deny, [5, 5], 1)).toEqual({
      ok: false,
      reason: 'plan_allowance_exhausted',
    })
    expect(priceUnderPlan({ ...deny, overage: 'payg' }, [5, 5], 1)).toEqual({
      ok: true,
      charges: [0, 5],
    })
  })
})

describe('chargeOfServed', () => {
  const payg = { kind: 'payg', period: 'month', freeCalls: 2 } as const
  const held = (plan: PlanDefinition, lists: number[], callsBefore: number) => {
    const pricing = priceUnderPlan(plan, lists, callsBefore)
    if (!pricing.ok) throw new Error('refused')
    return pricing.charges
  }

  it('with no plan, charges what was held for each served call', () => {
    expect(chargeOfServed(null, [10, 20, 30], [10, 20, 30], [2, 0])).toBe(40)
    expect(chargeOfServed(null, [10, 20, 30], [10, 20, 30], [])).toBe(0)
  })

  it("prices served calls as the period's next calls: a failed call does not use up a free call", () => {
    const lists = [10, 10, 10, 10]
    const charges = held(payg, lists, 0) // [0, 0, 10, 10]
    expect(chargeOfServed({ definition: payg, callsBefore: 0 }, lists, charges, [1, 2, 3])).toBe(10) // not 20
    expect(chargeOfServed({ definition: payg, callsBefore: 0 }, lists, charges, [0, 1, 2, 3])).toBe(
      20
    )
    expect(
      chargeOfServed({ definition: payg, callsBefore: 1 }, lists, held(payg, lists, 1), [3])
    ).toBe(0)
  })

  it('keeps request order whatever order the answers came in, and counts an index once', () => {
    const tiered: PlanDefinition = {
      kind: 'tiered',
      period: 'month',
      tiers: [
        { upTo: 1, price: { percentOfList: 100 } },
        { upTo: null, price: { percentOfList: 10 } },
      ],
    }
    const lists = [100, 50, 1000]
    const charges = held(tiered, lists, 0) // [100, 5, 100]
    expect(chargeOfServed({ definition: tiered, callsBefore: 0 }, lists, charges, [2, 1, 1])).toBe(
      150
    ) // 50 at 100 %, then 1000 at 10 %
  })

  it('never charges more than was held, nor for an index outside the request', () => {
    // Rising tiers: moving the dear call to the first place would cost more than its hold.
    const rising: PlanDefinition = {
      kind: 'tiered',
      period: 'month',
      tiers: [
        { upTo: 1, price: { percentOfList: 100 } },
        { upTo: null, price: { percentOfList: 0 } },
      ],
    }
    const lists = [1, 1000]
    const charges = held(rising, lists, 0) // [1, 0]
    expect(chargeOfServed({ definition: rising, callsBefore: 0 }, lists, charges, [1])).toBe(1)
    expect(chargeOfServed({ definition: rising, callsBefore: 0 }, lists, charges, [5, -1])).toBe(0)
  })
})

describe('UTC periods', () => {
  it('names days and months and ends them at UTC midnight', () => {
    const now = Date.parse('2031-12-31T23:59:59.999Z')
    expect(periodKey('day', now)).toBe('d:2031-12-31')
    expect(periodKey('month', now)).toBe('m:2031-12')
    expect(periodEnd('day', now)).toBe(Date.parse('2032-01-01T00:00:00Z'))
    expect(periodEnd('month', now)).toBe(Date.parse('2032-01-01T00:00:00Z'))
    expect(periodKey('day', now + 1)).toBe('d:2032-01-01')
  })
})

describe('policy checks', () => {
  it('deny wins over allow', () => {
    const policy = { ...NO_POLICY, allowTools: ['a', 'b'], denyTools: ['b'] }
    expect(refusedTool(policy, [{ price: 1, tool: 'a' }])).toBeUndefined()
    expect(refusedTool(policy, [{ price: 1, tool: 'b' }])).toBe('b')
    expect(refusedTool(policy, [{ price: 1, tool: 'c' }])).toBe('c')
    expect(refusedTool(policy, [{ price: 1 }])).toBeUndefined()
  })

  it('counts calls in flight against quotas and the lifetime cap', () => {
    const policy: KeyPolicy = {
      ...NO_POLICY,
      lifetimeLimit: 100,
      quotas: [{ period: 'day', metric: 'spend', limit: 50 }],
    }
    const used = { day: { calls: 0, spend: 40 }, month: { calls: 0, spend: 40 } }
    const now = Date.parse('2031-01-01T23:00:00Z')
    expect(brokenQuota(policy, used, 1, 10, now)).toBeUndefined()
    expect(brokenQuota(policy, used, 1, 11, now)).toMatchObject({ retryAfterSeconds: 3600 })
    expect(overLifetimeLimit(policy, 60, 30, 10)).toBe(false)
    expect(overLifetimeLimit(policy, 60, 30, 11)).toBe(true)
  })
})

describe('plans in routes.json', () => {
  const file = (plans: unknown) => ({
    version: 1,
    routes: [{ path: '/x', origin: 'https://o.example', price: '0.01' }],
    plans,
  })

  it('accepts the three kinds', () => {
    const result = validateRoutesFile(
      file({
        a: { kind: 'payg', freeCalls: 100 },
        b: {
          kind: 'tiered',
          tiers: [
            { upTo: 1000, price: '0.01' },
            { upTo: null, percentOfList: 50 },
          ],
        },
        c: { kind: 'subscription', period: 'day', fee: '20', includedCalls: 5000, overage: 'payg' },
      })
    )
    expect(result.ok).toBe(true)
  })

  it('names what is wrong', () => {
    const result = validateRoutesFile(
      file({
        a: { kind: 'payg' },
        b: {
          kind: 'tiered',
          tiers: [
            { upTo: null, price: '0.01' },
            { upTo: 10, price: '0.02' },
          ],
        },
        c: { kind: 'subscription', fee: '1.1234567', includedCalls: 1 },
      })
    )
    expect(result.ok).toBe(false)
    if (result.ok) return
    const paths = result.issues.map((issue) => issue.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'plans.a.freeCalls',
        'plans.b.tiers[0].upTo',
        'plans.b.tiers[1].upTo',
        'plans.c.fee',
      ])
    )
    const named = validateRoutesFile(file({ 'bad name': { kind: 'payg', freeCalls: 1 } }))
    expect(named.ok === false && named.issues[0]).toMatchObject({
      path: 'plans["bad name"]',
      message: expect.stringContaining('plan names'),
    })
  })
})
