/**
 * @module credits/rate-window
 * Fixed-window call counters kept in the account object's SQLite, so a key's limit
 * is exact: one writer, no cache, no per-location drift. A window starts at a
 * multiple of its length since the epoch, so every counter resets at a predictable time.
 */
import type { AccountRow } from './account-sql'
import type { LimitCheck, RateLimitState } from './types'

type WindowRow = { window_start: number; count: number }

function windowOf(check: LimitCheck, now: number): { start: number; end: number } {
  const length = check.windowSeconds * 1000
  const start = Math.floor(now / length) * length
  return { start, end: start + length }
}

function used(sql: SqlStorage, check: LimitCheck, start: number): number {
  const row = sql.exec<WindowRow>('SELECT window_start, count FROM rate_windows WHERE bucket = ?', check.bucket).toArray()[0]
  return row && row.window_start === start ? row.count : 0
}

/** The tightest of several states: the one with the fewest calls left. */
function tightest(states: RateLimitState[]): RateLimitState | undefined {
  return states.reduce<RateLimitState | undefined>(
    (best, state) => (best === undefined || state.remaining < best.remaining ? state : best),
    undefined
  )
}

/**
 * Would these calls fit every limit? Reads only.
 * @returns the tightest state, or how long to wait when a limit is full
 */
export function checkLimits(
  sql: SqlStorage,
  checks: LimitCheck[],
  now: number
): { ok: true; state?: RateLimitState } | { ok: false; retryAfterSeconds: number; state: RateLimitState } {
  const states: RateLimitState[] = []
  for (const check of checks) {
    const { start, end } = windowOf(check, now)
    const count = used(sql, check, start)
    const resetSeconds = Math.max(1, Math.ceil((end - now) / 1000))
    if (count + check.cost > check.limit) {
      return {
        ok: false,
        retryAfterSeconds: resetSeconds,
        state: { limit: check.limit, remaining: Math.max(0, check.limit - count), resetSeconds },
      }
    }
    states.push({ limit: check.limit, remaining: check.limit - count, resetSeconds })
  }
  return { ok: true, state: tightest(states) }
}

/**
 * Count the calls against every limit. Call only after `checkLimits` passed, in
 * the same synchronous transaction.
 * @returns the tightest state after counting
 */
export function countLimits(sql: SqlStorage, checks: LimitCheck[], now: number): RateLimitState | undefined {
  const states: RateLimitState[] = []
  for (const check of checks) {
    const { start, end } = windowOf(check, now)
    const count = used(sql, check, start) + check.cost
    sql.exec(
      `INSERT INTO rate_windows (bucket, window_start, count) VALUES (?, ?, ?)
       ON CONFLICT (bucket) DO UPDATE SET window_start = excluded.window_start, count = excluded.count`,
      check.bucket,
      start,
      count
    )
    states.push({ limit: check.limit, remaining: check.limit - count, resetSeconds: Math.max(1, Math.ceil((end - now) / 1000)) })
  }
  return tightest(states)
}

/** The key's own limit, set by the operator on the account, if any. */
export function keyLimit(row: AccountRow): LimitCheck | undefined {
  if (row.rate_limit === null || row.rate_window === null) return undefined
  return { bucket: 'key', limit: row.rate_limit, windowSeconds: row.rate_window, cost: 1 }
}
