/**
 * @module credits/plan-pricing
 * What each call of a request costs under a key's plan, given how many calls the
 * key has already made in the plan's period. Pure and integer-only: a percentage
 * of a list price is rounded down to the micro-dollar, the same way every time.
 */
import type { PlanDefinition, PlanTier } from './types'

export type PlanPricing =
  | { ok: true; charges: number[] }
  | { ok: false; reason: 'plan_allowance_exhausted' }

function tierPrice(tier: PlanTier, list: number): number {
  return 'micros' in tier.price ? tier.price.micros : Math.floor((list * tier.price.percentOfList) / 100)
}

/** The tier the `n`-th call of the period (1-based) falls in; the last tier takes the rest. */
function tierOf(tiers: PlanTier[], n: number): PlanTier {
  for (const tier of tiers) if (tier.upTo === null || n <= tier.upTo) return tier
  return tiers[tiers.length - 1] as PlanTier
}

/**
 * Price a request's calls in order.
 * @param lists each call's list price
 * @param callsBefore calls the key made earlier in the period (served or in flight)
 */
export function priceUnderPlan(plan: PlanDefinition | null, lists: number[], callsBefore: number): PlanPricing {
  if (!plan) return { ok: true, charges: lists }
  const charges: number[] = []
  for (const [index, list] of lists.entries()) {
    const n = callsBefore + index + 1
    switch (plan.kind) {
      case 'payg':
        charges.push(n <= plan.freeCalls ? 0 : list)
        break
      case 'tiered':
        charges.push(tierPrice(tierOf(plan.tiers, n), list))
        break
      case 'subscription':
        if (n <= plan.includedCalls) charges.push(0)
        else if (plan.overage === 'payg') charges.push(list)
        else return { ok: false, reason: 'plan_allowance_exhausted' }
        break
    }
  }
  return { ok: true, charges }
}
