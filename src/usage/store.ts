/**
 * @module usage/store
 * Writing usage events to D1: one batch of inserts is one round trip and one
 * transaction. Each insert is `ON CONFLICT (id) DO NOTHING`, so a write retried
 * after a lost reply, or sent twice, stays one row: an event is never doubled,
 * and a failed write is retried rather than dropped.
 */
import { withRetries } from '../retry'
import { boundEvent } from './bounds'
import type { UsageEvent, UsageOutcome, UsageRail } from './event'
import { withUsageTable } from './schema'

const INSERT = `INSERT INTO usage_events
  (id, at, key_id, payer, rail, route, path, method, tool, amount, list_price, outcome, reason, status, latency_ms, reservation_id, payment)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO NOTHING`

/** Attempts at a write before it is given up (logged, with the count only). */
const WRITE_ATTEMPTS = 4

/**
 * Insert events; each one at most once, whatever is retried. Their text is
 * bounded here too, whoever built them (a queued message from an older gate).
 * @returns how many rows were new
 */
export async function insertEvents(db: D1Database, events: readonly UsageEvent[]): Promise<number> {
  if (events.length === 0) return 0
  return withUsageTable(db, async () => {
    const statement = db.prepare(INSERT)
    const results = await db.batch(
      events
        .map(boundEvent)
        .map((e) =>
          statement.bind(
            e.id,
            e.at,
            e.keyId,
            e.payer,
            e.rail,
            e.route,
            e.path,
            e.method,
            e.tool,
            e.amount,
            e.listPrice,
            e.outcome,
            e.reason,
            e.status,
            e.latencyMs,
            e.reservationId,
            e.payment
          )
        )
    )
    return results.reduce((sum, result) => sum + (result.meta.changes ?? 0), 0)
  })
}

/** Insert with retries and backoff. False when every attempt failed. */
export async function insertWithRetry(
  db: D1Database,
  events: readonly UsageEvent[]
): Promise<boolean> {
  const tried = await withRetries(() => insertEvents(db, events), {
    attempts: WRITE_ATTEMPTS,
    baseMs: 100,
  })
  // The count and the database's message only: never the events' contents.
  if (!tried.ok)
    console.error(
      `pay-gate: usage write failed for ${events.length} event(s): ${(tried.error as Error)?.message}`
    )
  return tried.ok
}

/** A row of usage_events as D1 returns it. */
export interface EventRow {
  id: string
  at: number
  key_id: string | null
  payer: string | null
  rail: UsageRail
  route: string
  /** Null in rows written before the column was added (usage/schema migrates the table). */
  path: string | null
  method: string
  tool: string | null
  amount: number
  list_price: number
  outcome: UsageOutcome
  reason: string | null
  status: number
  latency_ms: number | null
  reservation_id: string | null
  payment: string | null
}

/** The event a usage_events row stores. */
export function eventFromRow(row: EventRow): UsageEvent {
  return {
    id: row.id,
    at: row.at,
    keyId: row.key_id,
    payer: row.payer,
    rail: row.rail,
    route: row.route,
    path: row.path ?? null,
    method: row.method,
    tool: row.tool,
    amount: row.amount,
    listPrice: row.list_price,
    outcome: row.outcome,
    reason: row.reason,
    status: row.status,
    latencyMs: row.latency_ms,
    reservationId: row.reservation_id,
    payment: row.payment,
  }
}
