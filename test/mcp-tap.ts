/**
 * The fetch an SDK client uses to reach the gate (through the Worker's fetch
 * handler), with a tap on the wire: it records every exchange, and can make the
 * client lose one POST's SSE stream at a chosen event, as a dropped connection
 * would, so that the client resumes with GET and Last-Event-ID (MCP 2025-11-25
 * §Resumability). Where the resume goes is up to the client; the tap only holds
 * it until the test's condition is met, so that what the origin replays is known.
 */
import { exports } from 'cloudflare:workers'

export interface Exchange {
  method: string
  /** The POSTed JSON-RPC body, parsed. */
  body: unknown
  lastEventId: string | null
  status: number
  contentType: string
}

export interface Cut {
  /** The tools/call whose POST stream is cut. */
  tool: string
  /** The event after which the client loses the stream: it is the last one handed on. */
  after: (message: Record<string, unknown>) => boolean
  /** Settles once the client has handled that event; the stream errors only then. */
  seen: Promise<unknown>
  /**
   * What happens to the gate's stream: `drain` reads it to its end behind the
   * client's back (the gate delivered the answer, the client lost it); `cancel`
   * cancels it there (the caller hung up before the answer).
   */
  gate: 'drain' | 'cancel'
  /** The client's resume waits for this (and, with `drain`, for the gate's stream to end). */
  resumeAfter?: Promise<unknown>
}

type Message = Record<string, unknown>

/** The JSON-RPC message in one SSE event block, if any. */
function messageOf(block: string): Message | undefined {
  const data = block
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trimStart())
    .join('\n')
  if (data === '') return undefined
  try {
    return JSON.parse(data) as Message
  } catch {
    return undefined
  }
}

export class McpTap {
  readonly exchanges: Exchange[] = []
  private cut: Cut | undefined
  private resumeWait: Promise<unknown> = Promise.resolve()
  private waiters: Array<{
    match: (exchange: Exchange) => boolean
    resolve: (exchange: Exchange) => void
  }> = []
  /** Settles when the gate's side of the cut stream is over: drained to its end, or cancelled. */
  cutDone: Promise<void> = Promise.resolve()

  /** Cut the next POST stream of `cut.tool`. */
  cutNext(cut: Cut): void {
    this.cut = cut
  }

  /** The first exchange, from now on, that matches. */
  waitFor(match: (exchange: Exchange) => boolean): Promise<Exchange> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }))
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const text = request.method === 'POST' ? await request.clone().text() : ''
    const body: unknown = text === '' ? undefined : JSON.parse(text)
    const lastEventId = request.headers.get('last-event-id')
    if (lastEventId !== null) await this.resumeWait
    const response = await exports.default.fetch(request)
    const exchange: Exchange = {
      method: request.method,
      body,
      lastEventId,
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
    }
    this.exchanges.push(exchange)
    this.waiters = this.waiters.filter((waiter) =>
      waiter.match(exchange) ? (waiter.resolve(exchange), false) : true
    )
    const cut = this.cut
    const call = body as { method?: string; params?: { name?: string } } | undefined
    if (
      cut &&
      response.body &&
      exchange.contentType.startsWith('text/event-stream') &&
      call?.method === 'tools/call' &&
      call.params?.name === cut.tool
    ) {
      this.cut = undefined
      return this.cutStream(response, response.body, cut)
    }
    return response
  }

  /** The gate's response, with a body that the client loses after `cut.after`. */
  private cutStream(response: Response, body: ReadableStream<Uint8Array>, cut: Cut): Response {
    const reader = body.getReader()
    const decoder = new TextDecoder()
    const encoder = new TextEncoder()
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const toClient = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
    const pump = async () => {
      let buffer = ''
      let cutting = false
      for (;;) {
        const { value, done } = await reader.read()
        if (done) {
          // Never cut (the event did not come): the client gets the whole stream.
          if (!cutting) controller.close()
          return
        }
        if (cutting) continue
        buffer += decoder.decode(value, { stream: true })
        const blocks = buffer.split(/\r?\n\r?\n/)
        buffer = blocks.pop() ?? ''
        for (const block of blocks) {
          controller.enqueue(encoder.encode(`${block}\n\n`))
          const message = messageOf(block)
          if (!message || !cut.after(message)) continue
          cutting = true
          await cut.seen
          controller.error(new TypeError('network connection lost'))
          if (cut.gate === 'cancel') return void (await reader.cancel('network connection lost'))
          break
        }
      }
    }
    const pumped = pump()
    this.cutDone = pumped
    this.resumeWait = Promise.all([cut.gate === 'drain' ? pumped : undefined, cut.resumeAfter])
    return new Response(toClient, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }
}

/** A POSTed JSON-RPC response (the client answering a server's request). */
export function isClientResponse(exchange: Exchange): boolean {
  const body = exchange.body as Message | undefined
  return (
    exchange.method === 'POST' &&
    body !== undefined &&
    !('method' in body) &&
    ('result' in body || 'error' in body)
  )
}
