/**
 * @module usage/queue
 * Usage events through a Cloudflare Queue (binding USAGE_QUEUE, optional).
 *
 * Without a queue, events are written to D1 from the request's `waitUntil`: an
 * isolate that is torn down mid-write loses them. With one, the request only
 * hands them to the queue (one `sendBatch`, milliseconds); from then on the
 * queue holds them until the consumer below has written them to D1, retrying
 * with backoff, and parks them in its dead-letter queue if it never can.
 * Delivery is at least once, and every insert is `ON CONFLICT (id) DO NOTHING`,
 * so a redelivered event is still one row.
 */
import { withRetries } from '../retry'
import { USAGE_OUTCOMES, USAGE_RAILS, type UsageEvent } from './event'
import { insertEvents } from './store'

/** Messages per `sendBatch`: the Queues limit is 100. */
const SEND_BATCH = 100
/**
 * Bytes per `sendBatch`, estimated: the Queues limit is 256 KB a batch (and
 * 128 KB a message). An event's text is bounded (usage/bounds: at most about
 * 18 KB as JSON even if every character were escaped), so a message is far
 * below the limit; a batch of large ones is split.
 */
const SEND_BATCH_BYTES = 192_000
/** What a message adds to its body's size in a batch (content type, delay), estimated high. */
const MESSAGE_OVERHEAD_BYTES = 100
const SEND_ATTEMPTS = 3
/** The longest a failed batch waits before it is delivered again. */
const MAX_RETRY_DELAY_S = 300

const encoder = new TextEncoder()

/** The events in `sendBatch`-sized runs: at most SEND_BATCH messages and SEND_BATCH_BYTES each. */
function sendBatches(events: readonly UsageEvent[]): UsageEvent[][] {
  const batches: UsageEvent[][] = []
  let current: UsageEvent[] = []
  let bytes = 0
  for (const event of events) {
    const size = encoder.encode(JSON.stringify(event)).byteLength + MESSAGE_OVERHEAD_BYTES
    if (current.length > 0 && (current.length === SEND_BATCH || bytes + size > SEND_BATCH_BYTES)) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(event)
    bytes += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}

/** Hand events to the queue. False when every attempt failed (the caller then writes them to D1 itself). */
export async function sendToQueue(
  queue: Queue<UsageEvent>,
  events: readonly UsageEvent[]
): Promise<boolean> {
  for (const batch of sendBatches(events)) {
    const chunk = batch.map((body) => ({ body, contentType: 'json' as const }))
    const tried = await withRetries(() => queue.sendBatch(chunk), {
      attempts: SEND_ATTEMPTS,
      baseMs: 50,
    })
    if (!tried.ok) {
      console.error(
        `pay-gate: usage queue send failed for ${chunk.length} event(s): ${(tried.error as Error)?.message}`
      )
      // What was sent before stays sent; the rest goes to D1 directly (a duplicate is one row).
      return false
    }
  }
  return true
}

const isText = (value: unknown): value is string => typeof value === 'string'
const isTextOrNull = (value: unknown) => value === null || isText(value)
const isInteger = (value: unknown): value is number => Number.isSafeInteger(value)

/** Whether a queue message's body is a usage event as this gate writes them. */
export function isUsageEvent(body: unknown): body is UsageEvent {
  if (typeof body !== 'object' || body === null) return false
  const e = body as Record<string, unknown>
  return (
    isText(e.id) &&
    e.id.length > 0 &&
    e.id.length <= 100 &&
    isInteger(e.at) &&
    isTextOrNull(e.keyId) &&
    isTextOrNull(e.payer) &&
    USAGE_RAILS.includes(e.rail as UsageEvent['rail']) &&
    isText(e.route) &&
    (e.path === undefined || isTextOrNull(e.path)) &&
    isText(e.method) &&
    isTextOrNull(e.tool) &&
    isInteger(e.amount) &&
    e.amount >= 0 &&
    isInteger(e.listPrice) &&
    e.listPrice >= 0 &&
    USAGE_OUTCOMES.includes(e.outcome as UsageEvent['outcome']) &&
    isTextOrNull(e.reason) &&
    isInteger(e.status) &&
    (e.latencyMs === null || isInteger(e.latencyMs)) &&
    isTextOrNull(e.reservationId) &&
    isTextOrNull(e.payment)
  )
}

/**
 * The queue consumer: write a batch of events to D1 in one transaction, then
 * acknowledge it; if D1 fails, have the whole batch delivered again later (the
 * rows already written stay one each). A message that is not a usage event can
 * never be written: it is acknowledged and counted in the log, so it cannot
 * hold the queue up.
 */
export async function consumeUsageBatch(
  batch: MessageBatch<unknown>,
  db: D1Database | undefined
): Promise<void> {
  const messages: Array<Message<UsageEvent>> = []
  let malformed = 0
  for (const message of batch.messages) {
    if (isUsageEvent(message.body)) messages.push(message as Message<UsageEvent>)
    else {
      malformed++
      message.ack()
    }
  }
  if (malformed > 0)
    console.error(
      `pay-gate: ${malformed} message(s) on ${batch.queue} are not usage events; dropped`
    )
  if (messages.length === 0) return
  const retry = () => {
    for (const message of messages)
      message.retry({ delaySeconds: Math.min(MAX_RETRY_DELAY_S, 2 ** message.attempts) })
  }
  if (!db) {
    console.error(
      'pay-gate: usage events are queued but USAGE_DB is not bound; they will be delivered again'
    )
    return retry()
  }
  try {
    await insertEvents(
      db,
      messages.map((message) => message.body)
    )
    for (const message of messages) message.ack()
  } catch (error) {
    console.error(
      `pay-gate: usage write from the queue failed for ${messages.length} event(s); they will be delivered again: ${(error as Error).message}`
    )
    retry()
  }
}
