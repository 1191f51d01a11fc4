/**
 * @module gate/answer-stream
 * An SSE body that streams as it comes except for the one event carrying the
 * answer the gate must decide on first (an x402 settlement, a task's result
 * charged at once): that event waits for the decision, and is handed on as it
 * says. Events before it are not held back.
 */
import { SseReader, serializeEvent, type SseEvent } from '../mcp'
import { observeBody } from '../proxy'

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
export function holdAnswerInStream(body: ReadableStream<Uint8Array>, held: HeldAnswer): ReadableStream<Uint8Array> {
  const { isAnswer, decide, eventId } = held
  const sse = new SseReader()
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let decided = false
  let resumable = false
  const withId = (event: SseEvent): SseEvent => {
    if (!eventId || !event.fields.some(([name]) => name === 'id')) return event
    resumable = true
    return { ...event, fields: event.fields.map(([name, value]) => (name === 'id' ? ['id', eventId(value)] : [name, value])) }
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
      // The answer may come wrapped in an array (a batch of one): it is the answer all the same.
      const messages: unknown[] = Array.isArray(value) ? value : [value]
      const at = decided ? -1 : messages.findIndex(isAnswer)
      if (at !== -1) {
        decided = true
        const decision = (await decide(messages[at] as Record<string, unknown>)).message
        out += serializeEvent(event, JSON.stringify(Array.isArray(value) ? messages.map((message, index) => (index === at ? decision : message)) : decision))
      } else out += serializeEvent(event)
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
