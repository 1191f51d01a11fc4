/**
 * @module credits/plan-pricing
 * What each call of a request costs under a key's plan, given how many calls the
 * key has already made in the plan's period. Pure and integer-only: a percentage
 * of a list price is rounded down to the micro-dollar, the same way every time.
 */
import type { PlanDefinition, PlanPosition, PlanTier } from './types'

export type PlanPricing =
  { ok: true; charges: number[] } | { ok: false; reason: 'plan_allowance_exhausted' }

function tierPrice(tier: PlanTier, list: number): number {
  return 'micros' in tier.price
    ? tier.price.micros
    : Math.floor((list * tier.price.percentOfList) / 100)
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
export function priceUnderPlan(
  plan: PlanDefinition | null,
  lists: number[],
  callsBefore: number
): PlanPricing {
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

/**
 * What the served calls of a request cost. A plan prices a period's calls by
 * their number, so the served ones are priced as the period's next calls, in
 * request order: a call of a batch that failed is not counted, and does not push
 * the calls after it past the free calls or into another tier. Never more than
 * the hold (`charges` is what the reserve held for each call).
 * @param served indices of the served calls into `lists` and `charges`
 */
export function chargeOfServed(
  plan: PlanPosition | null,
  lists: readonly number[],
  charges: readonly number[],
  served: readonly number[]
): number {
  const held = charges.reduce((sum, charge) => sum + charge, 0)
  const inOrder = [...new Set(served)]
    .filter((index) => index >= 0 && index < charges.length)
    .sort((a, b) => a - b)
  const asHeld = inOrder.reduce((sum, index) => sum + (charges[index] ?? 0), 0)
  if (!plan) return asHeld
  const repriced = priceUnderPlan(
    plan.definition,
    inOrder.map((index) => lists[index] ?? 0),
    plan.callsBefore
  )
  // Served calls are never more than were allowed when held, so a plan cannot refuse them now.
  if (!repriced.ok) return asHeld
  return Math.min(
    held,
    repriced.charges.reduce((sum, charge) => sum + charge, 0)
  )
}
