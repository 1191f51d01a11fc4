/**
 * @module admin/policy-input
 * What the admin API accepts for a key's policy, plan and trial credits, and how
 * they look in its answers. Amounts are decimal-dollar strings both ways.
 */
import * as z from 'zod'
import type { AssignedPlan, KeyPolicy, Quota } from '../credits'
import { formatDollars } from '../money'
import { Dollars } from './dollars'

const ToolName = z.string().min(1).max(200)
const QuotaLimits = z.strictObject({
  calls: z.int().min(0).max(1_000_000_000).optional(),
  spend: Dollars.optional(),
})

/** A whole policy (PUT replaces it): anything left out is "no restriction". */
export const PolicyInput = z.strictObject({
  allowTools: z.array(ToolName).max(1000).nullable().default(null),
  denyTools: z.array(ToolName).max(1000).default([]),
  lifetimeLimit: Dollars.nullable().default(null),
  quotas: z
    .strictObject({ daily: QuotaLimits.optional(), monthly: QuotaLimits.optional() })
    .default({}),
})

export const TrialInput = z.strictObject({
  credits: Dollars.refine((micros) => micros > 0, { error: 'trial credits must be more than 0' }),
  expiresAt: z.iso.datetime({ offset: true }),
})

export type PolicyBody = z.infer<typeof PolicyInput>

export function toPolicy(input: PolicyBody): KeyPolicy {
  const quotas: Quota[] = []
  for (const [name, period] of [
    ['daily', 'day'],
    ['monthly', 'month'],
  ] as const) {
    const limits = input.quotas[name]
    if (limits?.calls !== undefined) quotas.push({ period, metric: 'calls', limit: limits.calls })
    if (limits?.spend !== undefined) quotas.push({ period, metric: 'spend', limit: limits.spend })
  }
  return {
    allowTools: input.allowTools,
    denyTools: input.denyTools,
    lifetimeLimit: input.lifetimeLimit,
    quotas,
  }
}

export function policyJson(policy: KeyPolicy): Record<string, unknown> {
  const quotas: Record<string, Record<string, number | string>> = {}
  for (const quota of policy.quotas) {
    const name = quota.period === 'day' ? 'daily' : 'monthly'
    quotas[name] = {
      ...quotas[name],
      [quota.metric]: quota.metric === 'spend' ? formatDollars(quota.limit) : quota.limit,
    }
  }
  return {
    allowTools: policy.allowTools,
    denyTools: policy.denyTools,
    lifetimeLimit: policy.lifetimeLimit === null ? null : formatDollars(policy.lifetimeLimit),
    quotas,
  }
}

export function planJson(plan: AssignedPlan | null): Record<string, unknown> | null {
  if (!plan) return null
  const definition = plan.definition
  switch (definition.kind) {
    case 'payg':
      return { name: plan.name, ...definition }
    case 'tiered':
      return {
        name: plan.name,
        kind: 'tiered',
        period: definition.period,
        tiers: definition.tiers.map((tier) => ({
          upTo: tier.upTo,
          ...('micros' in tier.price ? { price: formatDollars(tier.price.micros) } : tier.price),
        })),
      }
    case 'subscription':
      return { name: plan.name, ...definition, fee: formatDollars(definition.fee) }
  }
}
