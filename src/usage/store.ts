/**
 * @module usage/store
 * Writing usage events to D1, off the hot path. Events from calls that end close
 * together in one isolate are written in one D1 batch (one round trip, one
 * transaction), from a `waitUntil` of the request that started the batch.
 * Each insert is `ON CONFLICT (id) DO NOTHING`, so a write retried after a lost
 * reply, or sent twice, stays one row: an event is never doubled, and a failed
 * write is retried rather than dropped.
 */
import type { UsageEvent } from './event'
import { withUsageTable } from './schema'

const INSERT = `INSERT INTO usage_events
  (id, at, key_id, payer, rail, route, method, tool, amount, list_price, outcome, reason, status, latency_ms, reservation_id, payment)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO NOTHING`

/** Attempts at a write before it is given up (logged, with the count only). */
const WRITE_ATTEMPTS = 4
/** Events per D1 batch. */
const MAX_BATCH = 100
/** A writer retires after this long, well inside the runtime's waitUntil allowance; the next event starts another. */
const WRITER_LIFETIME_MS = 10_000

/**
 * Insert events; each one at most once, whatever is retried.
 * @returns how many rows were new
 */
export async function insertEvents(db: D1Database, events: readonly UsageEvent[]): Promise<number> {
  if (events.length === 0) return 0
  return withUsageTable(db, async () => {
    const statement = db.prepare(INSERT)
    const results = await db.batch(
      events.map((e) =>
        statement.bind(e.id, e.at, e.keyId, e.payer, e.rail, e.route, e.method, e.tool, e.amount, e.listPrice, e.outcome, e.reason, e.status, e.latencyMs, e.reservationId, e.payment)
      )
    )
    return results.reduce((sum, result) => sum + (result.meta.changes ?? 0), 0)
  })
}

/** Insert with retries and backoff. False when every attempt failed. */
export async function insertWithRetry(db: D1Database, events: readonly UsageEvent[]): Promise<boolean> {
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    try {
      await insertEvents(db, events)
      return true
    } catch (error) {
      if (attempt === WRITE_ATTEMPTS - 1) {
        // The count and the database's message only: never the events' contents.
        console.error(`pay-gate: usage write failed for ${events.length} event(s): ${(error as Error).message}`)
        return false
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt))
    }
  }
  return false
}

/**
 * Collects the events of one gate and isolate and writes them in batches. The
 * first event starts a writer in its request's `waitUntil`; events that arrive
 * while it waits `delayMs` ride along.
 */
export class UsageWriter {
  private pending: UsageEvent[] = []
  private writing = false

  /** @param delayMs how long the first event of a batch waits for others (0: the next tick) */
  constructor(private readonly delayMs: number) {}

  add(db: D1Database, event: UsageEvent, waitUntil: (promise: Promise<unknown>) => void): void {
    this.pending.push(event)
    if (this.writing) return
    this.writing = true
    waitUntil(this.drain(db))
  }

  private async drain(db: D1Database): Promise<void> {
    const retireAt = Date.now() + WRITER_LIFETIME_MS
    try {
      while (this.pending.length > 0 && Date.now() < retireAt) {
        await new Promise((resolve) => setTimeout(resolve, this.delayMs))
        await insertWithRetry(db, this.pending.splice(0, MAX_BATCH))
      }
    } finally {
      this.writing = false
    }
    // Retiring with events still waiting: write them rather than leave them.
    while (this.pending.length > 0) await insertWithRetry(db, this.pending.splice(0, MAX_BATCH))
  }
}
