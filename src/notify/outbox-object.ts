/**
 * @module notify/outbox-object
 * The webhook outbox: one Durable Object (named "operator") that stores every
 * operator event before it is sent and retries it from its alarm, so retries
 * outlive the request that raised the event, the isolate, and a redeploy.
 * Exponential backoff (notify/settings `retryDelayMs`) on network errors, 5xx and
 * 429; any other answer ends the event's delivery at once. An event that is never
 * accepted is kept as `failed` for a week, for the operator to look at.
 * Optional: without the WEBHOOK_OUTBOX binding the gate delivers within the request.
 */
import { DurableObject } from 'cloudflare:workers'
import { deliverOnce, type DeliveryOutcome, type PreparedEvent } from './deliver'
import { retryDelayMs, webhookSettings, type WebhookSettings } from './settings'

export type OutboxState = 'pending' | 'failed'

/** An event still in the outbox: waiting for (another) attempt, or given up. */
export interface OutboxEntry {
  id: string
  type: string
  state: OutboxState
  attempts: number
  nextAt: number
  lastError: string | null
  createdAt: number
}

type Row = {
  id: string
  type: string
  body: string
  state: OutboxState
  attempts: number
  next_at: number
  last_error: string | null
  created_at: number
}

/** Events sent in parallel by one alarm run; the rest wait for the next run, right after. */
const BATCH = 25
/** Events kept waiting at most: beyond it new events are dropped (and logged), so a dead receiver cannot fill storage. */
const MAX_PENDING = 10_000
const KEEP_FAILED_MS = 7 * 24 * 60 * 60 * 1000

export type OutboxNamespace = DurableObjectNamespace<WebhookOutbox>

/** The one outbox of a gate. */
export function outboxStub(namespace: OutboxNamespace): DurableObjectStub<WebhookOutbox> {
  return namespace.get(namespace.idFromName('operator'))
}

export class WebhookOutbox extends DurableObject<Record<string, unknown>> {
  private readonly sql = this.ctx.storage.sql

  constructor(ctx: DurableObjectState, env: Record<string, unknown>) {
    super(ctx, env)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS outbox (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      body TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      next_at INTEGER NOT NULL,
      last_error TEXT,
      created_at INTEGER NOT NULL
    )`)
    this.sql.exec('CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at)')
  }

  /** Store an event and have it sent now. Idempotent on the event id. */
  async enqueue(event: PreparedEvent): Promise<{ accepted: boolean }> {
    const pending = this.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
      .one().n
    if (pending >= MAX_PENDING) {
      console.warn(
        `pay-gate: webhook outbox full (${pending} waiting); event ${event.id} (${event.type}) dropped`
      )
      return { accepted: false }
    }
    const now = Date.now()
    this.sql.exec(
      "INSERT OR IGNORE INTO outbox (id, type, body, state, attempts, next_at, last_error, created_at) VALUES (?, ?, ?, 'pending', 0, ?, NULL, ?)",
      event.id,
      event.type,
      event.body,
      now,
      now
    )
    await this.scheduleAt(now)
    return { accepted: true }
  }

  /** What is waiting or has failed, oldest first (for tests and the operator). */
  async entries(): Promise<OutboxEntry[]> {
    return this.sql
      .exec<Row>('SELECT * FROM outbox ORDER BY created_at, id')
      .toArray()
      .map((row) => ({
        id: row.id,
        type: row.type,
        state: row.state,
        attempts: row.attempts,
        nextAt: row.next_at,
        lastError: row.last_error,
        createdAt: row.created_at,
      }))
  }

  override async alarm(): Promise<void> {
    const now = Date.now()
    this.sql.exec("DELETE FROM outbox WHERE state = 'failed' AND next_at < ?", now - KEEP_FAILED_MS)
    const settings = webhookSettings(this.env)
    if (!settings) {
      this.sql.exec(
        "UPDATE outbox SET state = 'failed', last_error = 'webhooks are off', next_at = ? WHERE state = 'pending'",
        now
      )
      return
    }
    const due = this.sql
      .exec<Row>(
        "SELECT * FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?",
        now,
        BATCH
      )
      .toArray()
    const outcomes = await Promise.all(
      due.map(async (row) => [row, await deliverOnce(settings, row)] as const)
    )
    for (const [row, outcome] of outcomes) this.record(settings, row, outcome)
    const next = this.sql
      .exec<{ at: number | null }>("SELECT MIN(next_at) AS at FROM outbox WHERE state = 'pending'")
      .one().at
    if (next !== null) await this.scheduleAt(next)
  }

  private record(settings: WebhookSettings, row: Row, outcome: DeliveryOutcome): void {
    const attempts = row.attempts + 1
    if (outcome.kind === 'delivered') {
      this.sql.exec('DELETE FROM outbox WHERE id = ?', row.id)
      return
    }
    const giveUp = outcome.kind === 'rejected' || attempts >= settings.maxAttempts
    if (giveUp) {
      console.warn(
        `pay-gate: webhook ${row.id} (${row.type}) given up after ${attempts} attempt(s): ${outcome.reason}`
      )
      this.sql.exec(
        "UPDATE outbox SET state = 'failed', attempts = ?, last_error = ?, next_at = ? WHERE id = ?",
        attempts,
        outcome.reason,
        Date.now(),
        row.id
      )
      return
    }
    const nextAt = Date.now() + retryDelayMs(settings, attempts, outcome.retryAfterMs)
    this.sql.exec(
      'UPDATE outbox SET attempts = ?, last_error = ?, next_at = ? WHERE id = ?',
      attempts,
      outcome.reason,
      nextAt,
      row.id
    )
  }

  /** Make sure the alarm fires no later than `at`. */
  private async scheduleAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > at) await this.ctx.storage.setAlarm(at)
  }
}
