/**
 * Reading usage events straight from the D1 table, for tests: events are written
 * after the response (in waitUntil, batched), so a test waits for them to appear.
 */
import { env } from 'cloudflare:workers'
import { eventFromRow, withUsageTable, type EventRow, type UsageEvent } from '../src/usage'

/** Every stored event matching `where` (SQL over usage_events, with bound values). */
export async function storedEvents(where: string, ...values: unknown[]): Promise<UsageEvent[]> {
  const db = env.USAGE_DB
  const rows = await withUsageTable(db, () =>
    db
      .prepare(`SELECT * FROM usage_events WHERE ${where} ORDER BY at, id`)
      .bind(...values)
      .all<EventRow>()
  )
  return rows.results.map(eventFromRow)
}

/**
 * The events matching `where` once at least `count` are stored, and the writer
 * has had time to write any more (so a test can check there are no extra ones).
 * Fails after `ms`.
 */
export async function awaitEvents(
  count: number,
  where: string,
  ...values: unknown[]
): Promise<UsageEvent[]> {
  for (let polls = 200; ; polls--) {
    const events = await storedEvents(where, ...values)
    if (events.length >= count) {
      await new Promise((resolve) => setTimeout(resolve, 300))
      return storedEvents(where, ...values)
    }
    if (polls <= 0)
      throw new Error(`expected ${count} usage event(s) where ${where}, found ${events.length}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A well-formed event with a fresh id, for tests that write events themselves. */
export function sampleEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return {
    id: crypto.randomUUID(),
    at: Date.now(),
    keyId: 'key_bbbbbbbbbbbbbbbbbbbb',
    payer: null,
    rail: 'credits',
    route: '/api/*',
    path: '/api/items/1',
    method: 'GET',
    tool: null,
    amount: 20_000,
    listPrice: 20_000,
    outcome: 'charged',
    reason: null,
    status: 200,
    latencyMs: 4,
    reservationId: '7',
    payment: null,
    ...overrides,
  }
}
