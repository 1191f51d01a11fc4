/**
 * @module credits/rate-window
 * Fixed-window call counters kept in the account object's SQLite, so a key's limit
 * is exact: one writer, no cache, no per-location drift. A window starts at a
 * multiple of its length since the epoch, so every counter resets at a predictable time.
 * Checking and counting are pure (over the stored windows the object read); reading
 * and writing the windows are the two SQL functions at the end.
 */
import type { AccountRow } from './account-sql'
import type { LimitCheck, RateLimitState } from './types'

/** A bucket's stored window: when it started and how many calls it counted. */
export interface StoredWindow {
  windowStart: number
  count: number
}

/** A bucket's window after counting, to be written. */
export interface WindowWrite extends StoredWindow {
  bucket: string
}

type WindowRow = { bucket: string; window_start: number; count: number }

function windowOf(check: LimitCheck, now: number): { start: number; end: number } {
  const length = check.windowSeconds * 1000
  const start = Math.floor(now / length) * length
  return { start, end: start + length }
}

/** Calls counted in the window starting at `start` (a stored window of an earlier start counts 0). */
function usedIn(windows: ReadonlyMap<string, StoredWindow>, bucket: string, start: number): number {
  const stored = windows.get(bucket)
  return stored && stored.windowStart === start ? stored.count : 0
}

const resetSecondsOf = (end: number, now: number) => Math.max(1, Math.ceil((end - now) / 1000))

/** The tightest of several states: the one with the fewest calls left. */
function tightest(states: RateLimitState[]): RateLimitState | undefined {
  return states.reduce<RateLimitState | undefined>(
    (best, state) => (best === undefined || state.remaining < best.remaining ? state : best),
    undefined
  )
}

/**
 * Would these calls fit every limit?
 * @returns the tightest state, or how long to wait when a limit is full
 */
export function checkWindows(
  windows: ReadonlyMap<string, StoredWindow>,
  checks: LimitCheck[],
  now: number
):
  | { ok: true; state?: RateLimitState }
  | { ok: false; retryAfterSeconds: number; state: RateLimitState } {
  const states: RateLimitState[] = []
  for (const check of checks) {
    const { start, end } = windowOf(check, now)
    const count = usedIn(windows, check.bucket, start)
    const resetSeconds = resetSecondsOf(end, now)
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
 * Count the calls against every limit (only after `checkWindows` passed). Two
 * checks on one bucket count twice, the second on top of the first.
 * @returns the windows to write and the tightest state after counting
 */
export function countWindows(
  windows: ReadonlyMap<string, StoredWindow>,
  checks: LimitCheck[],
  now: number
): { writes: WindowWrite[]; state: RateLimitState | undefined } {
  const counted = new Map(windows)
  const writes: WindowWrite[] = []
  const states: RateLimitState[] = []
  for (const check of checks) {
    const { start, end } = windowOf(check, now)
    const count = usedIn(counted, check.bucket, start) + check.cost
    counted.set(check.bucket, { windowStart: start, count })
    writes.push({ bucket: check.bucket, windowStart: start, count })
    states.push({
      limit: check.limit,
      remaining: check.limit - count,
      resetSeconds: resetSecondsOf(end, now),
    })
  }
  return { writes, state: tightest(states) }
}

/** The key's own limit, set by the operator on the account, if any. */
export function keyLimit(row: AccountRow): LimitCheck | undefined {
  if (row.rate_limit === null || row.rate_window === null) return undefined
  return { bucket: 'key', limit: row.rate_limit, windowSeconds: row.rate_window, cost: 1 }
}

/** The stored windows of these checks' buckets. */
export function readWindows(sql: SqlStorage, checks: LimitCheck[]): Map<string, StoredWindow> {
  const windows = new Map<string, StoredWindow>()
  for (const { bucket } of checks) {
    if (windows.has(bucket)) continue
    const row = sql
      .exec<WindowRow>(
        'SELECT bucket, window_start, count FROM rate_windows WHERE bucket = ?',
        bucket
      )
      .toArray()[0]
    if (row) windows.set(bucket, { windowStart: row.window_start, count: row.count })
  }
  return windows
}

export function writeWindows(sql: SqlStorage, writes: WindowWrite[]): void {
  for (const write of writes) {
    sql.exec(
      `INSERT INTO rate_windows (bucket, window_start, count) VALUES (?, ?, ?)
       ON CONFLICT (bucket) DO UPDATE SET window_start = excluded.window_start, count = excluded.count`,
      write.bucket,
      write.windowStart,
      write.count
    )
  }
}
