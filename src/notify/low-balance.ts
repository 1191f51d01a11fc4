/**
 * @module notify/low-balance
 * `key.low_balance`: raised by the hold that takes a key's available credits from
 * at or above LOW_BALANCE_THRESHOLD to below it. Stateless: the hold knows what
 * was available just before it (after + amount, in the same transaction) and after
 * it, so exactly one hold crosses on the way down; a top-up above the threshold
 * re-arms it by itself. Reads the settings from the Worker's env (the importable
 * `env` of cloudflare:workers), so the gate's hot path only passes numbers.
 */
import { env } from 'cloudflare:workers'
import { formatDollars } from '../money'
import { emitOperatorEvent } from './events'
import { lowBalanceThreshold } from './settings'

/** True when going from `before` to `after` micro-dollars crosses `threshold` downwards. */
export function crossesDown(before: number, after: number, threshold: number): boolean {
  return before >= threshold && after < threshold
}

/**
 * Raise `key.low_balance` if this hold crossed the threshold. Cheap when it did not:
 * two comparisons after reading one setting.
 * @param before micro-dollars available just before the hold
 * @param after micro-dollars available after it
 */
export function notifyIfLowBalance(
  keyId: string,
  before: number,
  after: number,
  waitUntil: (promise: Promise<unknown>) => void
): void {
  const settings = env as unknown as Record<string, unknown>
  const threshold = lowBalanceThreshold(settings)
  if (threshold === null || !crossesDown(before, after, threshold)) return
  emitOperatorEvent(
    settings,
    'key.low_balance',
    {
      key: { id: keyId },
      credits: formatDollars(after),
      previousCredits: formatDollars(before),
      threshold: formatDollars(threshold),
    },
    waitUntil
  )
}
