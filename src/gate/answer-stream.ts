/**
 * @module gate/answer-stream
 * An SSE body that streams as it comes except for the one event carrying the
 * answer the gate must decide on first (an x402 settlement, a task's result
 * charged at once): that event waits for the decision, and is handed on as it
 * says. Events before it are not held back.
 */
import { SseReader, serializeEvent, withEventId, type SseEvent } from '../mcp'
import { observeBody } from '../proxy'

/**
 * Decide the call's answer inside a parsed message (alone, or wrapped in an array:
 * a batch of one is the answer all the same).
 * @returns the message to hand on with the answer replaced by the decision's, or null when it holds no answer
 */
export async function decideAnswerIn<T extends { message: unknown }>(
  value: unknown,
  isAnswer: (value: unknown) => value is Record<string, unknown>,
  decide: (answer: Record<string, unknown>) => Promise<T>
): Promise<{ body: unknown; decision: T } | null> {
  const messages: unknown[] = Array.isArray(value) ? value : [value]
  const at = messages.findIndex(isAnswer)
  if (at === -1) return null
  const decision = await decide(messages[at] as Record<string, unknown>)
  return {
    body: Array.isArray(value)
      ? messages.map((message, index) => (index === at ? decision.message : message))
      : decision.message,
    decision,
  }
}

export interface HeldAnswer {
  isAnswer: (value: unknown) => value is Record<string, unknown>
  decide: (answer: Record<string, unknown>) => Promise<{ message: unknown }>
  /** Runs when the stream is over without the answer: nothing delivered, nothing taken. */
  abandon: () => Promise<unknown>
  waitUntil: (promise: Promise<unknown>) => void
  /**
   * The event ids to hand on instead of the origin's (gate/stream-ticket). Once one
   * was handed on, the answer can still come on a resumed stream: a stream over
   * without it no longer abandons the payment, which waits for that stream.
   */
  eventId?: (id: string) => string
}

/**
 * An SSE body in which every event passes as it comes except the one carrying
 * the call's answer, which waits for `decide`. If the stream ends, breaks or is
 * cancelled before the answer, `abandon` runs instead, unless the answer can
 * still come on a resumed stream.
 */
export function holdAnswerInStream(
  body: ReadableStream<Uint8Array>,
  held: HeldAnswer
): ReadableStream<Uint8Array> {
  const { isAnswer, decide, eventId } = held
  const sse = new SseReader()
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let decided = false
  let resumable = false
  const withId = (original: SseEvent): SseEvent => {
    if (!eventId) return original
    const { event, hadId } = withEventId(original, eventId)
    if (hadId) resumable = true
    return event
  }
  const pass = async (events: SseEvent[]): Promise<Uint8Array | undefined> => {
    let out = ''
    for (const original of events) {
      const event = withId(original)
      let value: unknown = null
      try {
        value = event.data ? JSON.parse(event.data) : null
      } catch {
        value = null
      }
      const found = decided ? null : await decideAnswerIn(value, isAnswer, decide)
      if (found) decided = true
      out += found ? serializeEvent(event, JSON.stringify(found.body)) : serializeEvent(event)
    }
    return out ? encoder.encode(out) : undefined
  }
  return observeBody(body, {
    chunk: (bytes) => pass(sse.push(decoder.decode(bytes, { stream: true }))),
    flush: () => pass([sse.finish()].filter((event) => event !== undefined)),
    end: () => {
      if (decided || resumable) return
      decided = true
      held.waitUntil(held.abandon())
    },
  })
}
