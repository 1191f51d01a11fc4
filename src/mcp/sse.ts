/**
 * @module mcp/sse
 * An incremental reader of `text/event-stream` (HTML Living Standard §9.2): it
 * finds complete events as chunks arrive, without waiting for the stream to end,
 * so the gate can look inside an SSE response while it streams. Framework-free.
 */

/** One event: its fields in order (comments dropped) and its joined `data`. */
export interface SseEvent {
  fields: Array<[name: string, value: string]>
  /** The `data` lines joined with "\n", or undefined when the event has none. */
  data: string | undefined
}

function parseBlock(block: string): SseEvent | undefined {
  const fields: Array<[string, string]> = []
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const name = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    fields.push([name, value])
    if (name === 'data') data.push(value)
  }
  if (fields.length === 0) return undefined
  return { fields, data: data.length > 0 ? data.join('\n') : undefined }
}

/** Splits decoded text into events. Line ends may be CRLF, LF or CR, mixed. */
export class SseReader {
  private buffer = ''

  /** Add text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.buffer += text
    // Normalise line ends; a final "\r" may be the first half of a "\r\n", so wait.
    const holdCr = this.buffer.endsWith('\r')
    let body = holdCr ? this.buffer.slice(0, -1) : this.buffer
    body = body.replace(/\r\n?/g, '\n')
    const events: SseEvent[] = []
    let end = body.indexOf('\n\n')
    while (end !== -1) {
      const event = parseBlock(body.slice(0, end))
      if (event) events.push(event)
      body = body.slice(end + 2)
      end = body.indexOf('\n\n')
    }
    this.buffer = holdCr ? `${body}\r` : body
    return events
  }

  /** What is left when the stream ends: an event the server never terminated. */
  finish(): SseEvent | undefined {
    const rest = this.buffer.replace(/\r\n?/g, '\n')
    this.buffer = ''
    return parseBlock(rest)
  }
}

/**
 * The event with its `id` field (the event id, HTML §9.2.6) rewritten; the same
 * event when it has none. Returns whether it had one.
 */
export function withEventId(
  event: SseEvent,
  rewrite: (id: string) => string
): { event: SseEvent; hadId: boolean } {
  if (!event.fields.some(([name]) => name === 'id')) return { event, hadId: false }
  return {
    event: {
      ...event,
      fields: event.fields.map(([name, value]) =>
        name === 'id' ? ['id', rewrite(value)] : [name, value]
      ),
    },
    hadId: true,
  }
}

/** Write an event back out, with `data` replaced by `data` when given. */
export function serializeEvent(event: SseEvent, data?: string): string {
  let out = ''
  let dataWritten = false
  for (const [name, value] of event.fields) {
    if (name === 'data' && data !== undefined) {
      if (dataWritten) continue
      dataWritten = true
      for (const line of data.split('\n')) out += `data: ${line}\n`
      continue
    }
    out += `${name}: ${value}\n`
  }
  return `${out}\n`
}
