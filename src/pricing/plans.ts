/**
 * @module pricing/plans
 * The `plans` block of routes.json: plans an operator defines once and assigns to
 * keys through the admin API. A plan changes what a key's calls cost relative to
 * the routes' (list) prices; the key's account object applies it with the debit.
 * @example
 * "plans": {
 *   "starter": { "kind": "payg", "freeCalls": 100 },
 *   "volume":  { "kind": "tiered", "tiers": [{ "upTo": 1000, "price": "0.01" }, { "upTo": null, "percentOfList": 50 }] },
 *   "team":    { "kind": "subscription", "fee": "20", "includedCalls": 5000, "overage": "payg" }
 * }
 */
import * as z from 'zod'
import { parseDollars } from '../money'
import { DollarString } from './dollars'

/** Periods are UTC calendar days or months; plans default to a month. */
const Period = z.enum(['day', 'month']).default('month')
const Count = z.int().min(0).max(1_000_000_000)

const Tier = z.union(
  [
    z.strictObject({ upTo: Count.min(1).nullable(), price: DollarString }),
    z.strictObject({ upTo: Count.min(1).nullable(), percentOfList: z.int().min(0).max(100) }),
  ],
  {
    error:
      'a tier is { "upTo": calls or null, "price": "0.01" } or { "upTo": …, "percentOfList": 50 }',
  }
)

export const PlanSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('payg'), period: Period, freeCalls: Count }),
    z.strictObject({
      kind: z.literal('tiered'),
      period: Period,
      tiers: z
        .array(Tier)
        .min(1)
        .max(20)
        .superRefine((tiers, ctx) => {
          tiers.forEach((tier, index) => {
            const last = index === tiers.length - 1
            if (!last && tier.upTo === null)
              ctx.addIssue({
                code: 'custom',
                path: [index, 'upTo'],
                message: 'only the last tier may be open-ended (null)',
              })
            if (last && tier.upTo !== null)
              ctx.addIssue({
                code: 'custom',
                path: [index, 'upTo'],
                message: 'the last tier must be open-ended: "upTo": null',
              })
            const before = index > 0 ? tiers[index - 1]?.upTo : 0
            if (tier.upTo !== null && typeof before === 'number' && tier.upTo <= before) {
              ctx.addIssue({
                code: 'custom',
                path: [index, 'upTo'],
                message: 'tiers must go up: each "upTo" above the one before',
              })
            }
          })
        }),
    }),
    z.strictObject({
      kind: z.literal('subscription'),
      period: Period,
      fee: DollarString,
      includedCalls: Count,
      overage: z.enum(['payg', 'deny']).default('deny'),
    }),
  ],
  { error: 'a plan needs "kind": "payg", "tiered" or "subscription"' }
)

export const PlansSchema = z.record(z.string(), PlanSchema).superRefine((plans, ctx) => {
  for (const name of Object.keys(plans)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: 'plan names are 1–64 letters, digits, "_", "." or "-"',
      })
  }
})

export type PlanConfig = z.infer<typeof PlanSchema>

/** A plan with its amounts in micro-dollars, as the account object applies it. */
export type CompiledPlan =
  | { kind: 'payg'; period: 'day' | 'month'; freeCalls: number }
  | {
      kind: 'tiered'
      period: 'day' | 'month'
      tiers: Array<{ upTo: number | null; price: { micros: number } | { percentOfList: number } }>
    }
  | {
      kind: 'subscription'
      period: 'day' | 'month'
      fee: number
      includedCalls: number
      overage: 'payg' | 'deny'
    }

function micros(text: string): number {
  const parsed = parseDollars(text)
  if (!parsed.ok) throw new TypeError(`unvalidated amount: ${text}`)
  return parsed.micros
}

export function compilePlan(plan: PlanConfig): CompiledPlan {
  switch (plan.kind) {
    case 'payg':
      return { kind: 'payg', period: plan.period, freeCalls: plan.freeCalls }
    case 'tiered':
      return {
        kind: 'tiered',
        period: plan.period,
        tiers: plan.tiers.map((tier) => ({
          upTo: tier.upTo,
          price:
            'price' in tier
              ? { micros: micros(tier.price) }
              : { percentOfList: tier.percentOfList },
        })),
      }
    case 'subscription':
      return {
        kind: 'subscription',
        period: plan.period,
        fee: micros(plan.fee),
        includedCalls: plan.includedCalls,
        overage: plan.overage,
      }
  }
}
