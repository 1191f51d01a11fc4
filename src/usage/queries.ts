/**
 * @module usage/queries
 * The usage and revenue aggregates, computed in D1 over a time range [from, to).
 * Amounts are summed as integers (SQLite INTEGER), so micro-dollars stay exact.
 * The grouping column is chosen from a fixed list, never from input. Stored text
 * is read within its bound (usage/bounds), so no row, however it was written,
 * makes an answer large.
 */
import { BOUNDED_EVENT_COLUMNS, boundedColumn } from './bounds'
import type { UsageEvent, UsageOutcome, UsageRail } from './event'
import type { Grouping, Interval, TimeRange } from './params'
import { withUsageTable } from './schema'
import { eventFromRow, type EventRow } from './store'

const GROUP_COLUMN: Record<Grouping, string> = {
  day: `strftime('%Y-%m-%d', at / 1000, 'unixepoch')`,
  tool: boundedColumn('tool'),
  rail: 'rail',
  key: boundedColumn('keyId'),
  route: boundedColumn('route'),
  outcome: 'outcome',
}

const PERIOD_FORMAT: Record<Interval, string> = { day: '%Y-%m-%d', month: '%Y-%m' }

/** What was earned: calls charged, and plan fees (which are not calls). */
const CHARGED = `COALESCE(SUM(CASE WHEN outcome IN ('charged', 'fee') THEN amount ELSE 0 END), 0)`
const CALLS = `COALESCE(SUM(outcome != 'fee'), 0)`

/** The most groups one answer lists. */
const MAX_GROUPS = 1_000

export interface UsageRow {
  /** The day (YYYY-MM-DD, UTC), tool, rail, key id, route or outcome; null for calls without one (no tool, no key). */
  group: string | null
  calls: number
  /** Micro-dollars charged (plan fees included). */
  charged: number
  /** Calls refunded (held or paid, then not charged). */
  refunded: number
  /** Calls denied. */
  denied: number
}

export async function usageBy(
  db: D1Database,
  groupBy: Grouping,
  range: TimeRange
): Promise<UsageRow[]> {
  const order = groupBy === 'day' ? 'grp ASC' : 'charged DESC, calls DESC, grp ASC'
  const sql = `SELECT ${GROUP_COLUMN[groupBy]} AS grp, ${CALLS} AS calls, ${CHARGED} AS charged,
      SUM(outcome = 'refunded') AS refunded, SUM(outcome = 'denied') AS denied
    FROM usage_events WHERE at >= ? AND at < ? GROUP BY grp ORDER BY ${order} LIMIT ${MAX_GROUPS}`
  const rows = await withUsageTable(db, () =>
    db.prepare(sql).bind(range.from, range.to).all<{
      grp: string | null
      calls: number
      charged: number
      refunded: number
      denied: number
    }>()
  )
  return rows.results.map((row) => ({
    group: row.grp,
    calls: row.calls,
    charged: row.charged,
    refunded: row.refunded,
    denied: row.denied,
  }))
}

export interface TopRow {
  keyId: string
  calls: number
  charged: number
}

/** The keys that were charged most (then called most) in the range. */
export async function topKeys(db: D1Database, range: TimeRange, limit: number): Promise<TopRow[]> {
  const sql = `SELECT ${boundedColumn('keyId')} AS grp, ${CALLS} AS calls, ${CHARGED} AS charged FROM usage_events
    WHERE at >= ? AND at < ? AND key_id IS NOT NULL GROUP BY grp ORDER BY charged DESC, calls DESC, grp ASC LIMIT ?`
  const rows = await withUsageTable(db, () =>
    db
      .prepare(sql)
      .bind(range.from, range.to, limit)
      .all<{ grp: string; calls: number; charged: number }>()
  )
  return rows.results.map((row) => ({ keyId: row.grp, calls: row.calls, charged: row.charged }))
}

export interface RevenuePeriod {
  /** YYYY-MM-DD or YYYY-MM (UTC). */
  period: string
  credits: number
  x402: number
  total: number
}

/** Every period from `from` to `to` (UTC), in order: the series has no gaps. */
export function periodsOf(range: TimeRange, interval: Interval): string[] {
  const periods: string[] = []
  const cursor = new Date(range.from)
  cursor.setUTCHours(0, 0, 0, 0)
  if (interval === 'month') cursor.setUTCDate(1)
  while (cursor.getTime() < range.to) {
    periods.push(cursor.toISOString().slice(0, interval === 'day' ? 10 : 7))
    if (interval === 'day') cursor.setUTCDate(cursor.getUTCDate() + 1)
    else cursor.setUTCMonth(cursor.getUTCMonth() + 1)
  }
  return periods
}

/** Revenue (micro-dollars charged for calls, and plan fees) per period and rail, every period of the range listed. */
export async function revenueSeries(
  db: D1Database,
  range: TimeRange,
  interval: Interval
): Promise<RevenuePeriod[]> {
  const sql = `SELECT strftime('${PERIOD_FORMAT[interval]}', at / 1000, 'unixepoch') AS period, rail, SUM(amount) AS amount
    FROM usage_events WHERE at >= ? AND at < ? AND outcome IN ('charged', 'fee') GROUP BY period, rail`
  const rows = await withUsageTable(db, () =>
    db
      .prepare(sql)
      .bind(range.from, range.to)
      .all<{ period: string; rail: UsageRail; amount: number }>()
  )
  const byPeriod = new Map(
    periodsOf(range, interval).map((period) => [period, { period, credits: 0, x402: 0, total: 0 }])
  )
  for (const row of rows.results) {
    const entry = byPeriod.get(row.period)
    if (!entry || (row.rail !== 'credits' && row.rail !== 'x402')) continue
    entry[row.rail] += row.amount
    entry.total += row.amount
  }
  return [...byPeriod.values()]
}

/** The newest events in the range, optionally of one key, one route and one outcome; `offset` skips that many (a page). */
export async function recentEvents(
  db: D1Database,
  query: TimeRange & {
    limit: number
    keyId?: string
    outcome?: UsageOutcome
    route?: string
    offset?: number
  }
): Promise<UsageEvent[]> {
  const where = ['at >= ?', 'at < ?']
  const values: Array<string | number> = [query.from, query.to]
  if (query.keyId !== undefined) {
    where.push('key_id = ?')
    values.push(query.keyId)
  }
  if (query.outcome !== undefined) {
    where.push('outcome = ?')
    values.push(query.outcome)
  }
  if (query.route !== undefined) {
    where.push('route = ?')
    values.push(query.route)
  }
  const sql = `SELECT ${BOUNDED_EVENT_COLUMNS} FROM usage_events WHERE ${where.join(' AND ')} ORDER BY at DESC, id ASC LIMIT ? OFFSET ?`
  const offset = Math.max(0, Math.trunc(query.offset ?? 0))
  const rows = await withUsageTable(db, () =>
    db
      .prepare(sql)
      .bind(...values, query.limit, offset)
      .all<EventRow>()
  )
  return rows.results.map(eventFromRow)
}
