/**
 * @module usage/writer
 * Usage events leave the hot path here. Events from calls that end close
 * together in one isolate travel together, from a `waitUntil` of the request
 * that started the batch: to the queue when USAGE_QUEUE is bound (usage/queue:
 * durable once sent, written to D1 by the consumer), else straight to D1; if
 * the queue cannot take them, straight to D1 as well.
 */
import type { UsageEvent } from './event'
import { sendToQueue } from './queue'
import { insertWithRetry } from './store'

/** Where a gate's usage events go. */
export interface UsageDestination {
  db: D1Database
  queue?: Queue<UsageEvent>
}

/** Events per D1 batch or queue send. */
const MAX_BATCH = 100
/** A writer retires after this long, well inside the runtime's waitUntil allowance; the next event starts another. */
const WRITER_LIFETIME_MS = 10_000

async function deliver(destination: UsageDestination, events: UsageEvent[]): Promise<void> {
  if (destination.queue && (await sendToQueue(destination.queue, events))) return
  await insertWithRetry(destination.db, events)
}

/**
 * Collects the events of one gate and isolate and sends them in batches. The
 * first event starts a writer in its request's `waitUntil`; events that arrive
 * while it waits `delayMs` ride along.
 */
export class UsageWriter {
  private pending: UsageEvent[] = []
  private writing = false

  /** @param delayMs how long the first event of a batch waits for others (0: the next tick) */
  constructor(private readonly delayMs: number) {}

  add(
    destination: UsageDestination,
    event: UsageEvent,
    waitUntil: (promise: Promise<unknown>) => void
  ): void {
    this.pending.push(event)
    if (this.writing) return
    this.writing = true
    waitUntil(this.drain(destination))
  }

  private async drain(destination: UsageDestination): Promise<void> {
    const retireAt = Date.now() + WRITER_LIFETIME_MS
    try {
      while (this.pending.length > 0 && Date.now() < retireAt) {
        await new Promise((resolve) => setTimeout(resolve, this.delayMs))
        await deliver(destination, this.pending.splice(0, MAX_BATCH))
      }
    } finally {
      this.writing = false
    }
    // Retiring with events still waiting: write them rather than leave them.
    while (this.pending.length > 0) await deliver(destination, this.pending.splice(0, MAX_BATCH))
  }
}
