/**
 * @module mcp/response-reader
 * Reads the JSON-RPC messages an MCP origin sends back while the bytes stream to
 * the caller: a single `application/json` body, or `text/event-stream` events
 * (MCP Streamable HTTP: the server answers a POST with either). Bytes pass through
 * unchanged unless a rewrite is asked for (the `tools/list` price annotation), and
 * then only the events that carry a rewritten message change. Framework-free.
 */
import { concatBytes } from '../bytes'
import { SseReader, serializeEvent, withEventId, type SseEvent } from './sse'

/** Stop keeping a copy of a JSON body past this size; it still streams through. */
export const MAX_INSPECTED_BYTES = 16 * 1024 * 1024

/** Given a message from the origin, return a replacement, or undefined to keep it. */
export type MessageRewrite = (message: unknown) => unknown

/** Given the origin's SSE event id, the id to hand on instead. */
export type EventIdRewrite = (id: string) => string

export type BodyFormat = 'json' | 'sse'

/** The format of an origin response, from its Content-Type; null for anything else. */
export function bodyFormat(contentType: string | null): BodyFormat | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase()
  if (type === 'application/json') return 'json'
  if (type === 'text/event-stream') return 'sse'
  return null
}

function flatten(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value]
}

export class McpResponseReader {
  private readonly format: BodyFormat
  private readonly rewrite: MessageRewrite | undefined
  private readonly eventId: EventIdRewrite | undefined
  private readonly decoder = new TextDecoder()
  private readonly encoder = new TextEncoder()
  private readonly sse = new SseReader()
  private readonly kept: Uint8Array[] = []
  private keptBytes = 0
  private messages: unknown[] = []
  /** True when a JSON body was too large to inspect. */
  overflowed = false
  /** True once an SSE event with an id was handed on: the stream can be resumed from it. */
  resumable = false

  constructor(format: BodyFormat, rewrite?: MessageRewrite, eventId?: EventIdRewrite) {
    this.format = format
    this.rewrite = rewrite
    this.eventId = eventId
  }

  /**
   * Take a chunk from the origin.
   * @returns the bytes to send on now (the chunk itself unless rewriting)
   */
  chunk(bytes: Uint8Array): Uint8Array | undefined {
    if (this.format === 'json') {
      if (!this.overflowed) {
        this.keptBytes += bytes.byteLength
        if (this.keptBytes > MAX_INSPECTED_BYTES && !this.rewrite) {
          this.overflowed = true
          this.kept.length = 0
        } else this.kept.push(bytes)
      }
      return this.rewrite ? undefined : bytes
    }
    const events = this.sse.push(this.decoder.decode(bytes, { stream: true }))
    if (!this.rewrite && !this.eventId) {
      for (const event of events) this.readEvent(event.data)
      return bytes
    }
    let out = ''
    for (const event of events) out += this.rewriteEvent(event)
    return out ? this.encoder.encode(out) : undefined
  }

  /** The stream ended: returns any bytes still to send. */
  flush(): Uint8Array | undefined {
    if (this.format === 'sse') {
      const rest = this.sse.finish()
      if (!rest) return undefined
      if (!this.rewrite && !this.eventId) {
        this.readEvent(rest.data)
        return undefined
      }
      return this.encoder.encode(this.rewriteEvent(rest))
    }
    if (this.overflowed) return undefined
    const whole = concatBytes(this.kept)
    this.kept.length = 0
    let value: unknown
    try {
      value = JSON.parse(this.decoder.decode(whole))
    } catch {
      return this.rewrite ? whole : undefined
    }
    if (!this.rewrite) {
      this.messages.push(...flatten(value))
      return undefined
    }
    const rewritten = Array.isArray(value)
      ? value.map((item) => this.apply(item))
      : this.apply(value)
    return this.encoder.encode(JSON.stringify(rewritten))
  }

  /**
   * Take a whole JSON body at once (the cheap path for small answers).
   * @returns the text to send: the body itself, or its rewrite
   */
  whole(text: string): string {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return text
    }
    if (!this.rewrite) {
      this.messages.push(...flatten(value))
      return text
    }
    return JSON.stringify(
      Array.isArray(value) ? value.map((item) => this.apply(item)) : this.apply(value)
    )
  }

  /** Messages completed since the last call, in order. */
  take(): unknown[] {
    const out = this.messages
    this.messages = []
    return out
  }

  private readEvent(data: string | undefined): void {
    if (data === undefined || data === '') return
    try {
      this.messages.push(...flatten(JSON.parse(data)))
    } catch {
      // Not JSON: not a JSON-RPC message, so nothing to read from it.
    }
  }

  private rewriteEvent(original: SseEvent): string {
    const event = this.withEventId(original)
    if (event.data === undefined || event.data === '' || !this.rewrite) {
      this.readEvent(event.data)
      return serializeEvent(event)
    }
    let value: unknown
    try {
      value = JSON.parse(event.data)
    } catch {
      return serializeEvent(event)
    }
    const rewritten = Array.isArray(value)
      ? value.map((item) => this.apply(item))
      : this.apply(value)
    return serializeEvent(event, JSON.stringify(rewritten))
  }

  /** The event with its id rewritten, if the reader rewrites ids. */
  private withEventId(original: SseEvent): SseEvent {
    if (!this.eventId) return original
    const { event, hadId } = withEventId(original, this.eventId)
    if (hadId) this.resumable = true
    return event
  }

  private apply(message: unknown): unknown {
    this.messages.push(message)
    return this.rewrite?.(message) ?? message
  }
}
