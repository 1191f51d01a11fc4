/**
 * @module credits/policy-check
 * The checks a key's policy puts on a call, before its hold is taken: may it call
 * these tools, does it fit the day's and month's quotas, and the lifetime cap.
 * Pure: the account object passes in its counters and runs these inside the
 * transaction that takes the hold, so no two calls can both fit the last unit.
 */
import { periodEnd } from './periods'
import type { KeyPolicy, Quota, ReserveItem, UsageCount } from './types'

/** The first tool in the request the key may not call, if any. */
export function refusedTool(policy: KeyPolicy, items: ReserveItem[]): string | undefined {
  for (const { tool } of items) {
    if (tool === undefined) continue
    if (policy.denyTools.includes(tool)) return tool
    if (policy.allowTools !== null && !policy.allowTools.includes(tool)) return tool
  }
  return undefined
}

/** Whether a key with this policy may see `tool` (for filtering `tools/list`). */
export function toolVisible(
  policy: Pick<KeyPolicy, 'allowTools' | 'denyTools'>,
  tool: string
): boolean {
  return (
    !policy.denyTools.includes(tool) &&
    (policy.allowTools === null || policy.allowTools.includes(tool))
  )
}

/**
 * The first quota `calls` more calls costing `spend` would break.
 * @param used this day's and month's counts so far (served and in flight)
 */
export function brokenQuota(
  policy: KeyPolicy,
  used: { day: UsageCount; month: UsageCount },
  calls: number,
  spend: number,
  now: number
): { quota: Quota; retryAfterSeconds: number } | undefined {
  for (const quota of policy.quotas) {
    const count = used[quota.period]
    const after = quota.metric === 'calls' ? count.calls + calls : count.spend + spend
    if (after > quota.limit) {
      return {
        quota,
        retryAfterSeconds: Math.max(1, Math.ceil((periodEnd(quota.period, now) - now) / 1000)),
      }
    }
  }
  return undefined
}

/** Whether charging `amount` more, on top of what is spent and held, passes the lifetime cap. */
export function overLifetimeLimit(
  policy: KeyPolicy,
  spent: number,
  held: number,
  amount: number
): boolean {
  return policy.lifetimeLimit !== null && spent + held + amount > policy.lifetimeLimit
}
