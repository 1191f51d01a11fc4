/**
 * @module gate/mcp-free
 * A POST with nothing priced in it: forwarded as it came, its answer passed on
 * untouched unless a `tools/list` answer is annotated or a task is created, with
 * its SSE event ids sealed so that a resumed stream delivers these answers (and
 * only these). No payment, no Durable Object, no usage event.
 */
import {
  bodyFormat,
  McpResponseReader,
  type MessageRewrite,
  type McpMessage,
  type ParsedBody,
} from '../mcp'
import type { McpPriceBook } from '../pricing'
import { downstreamResponseHeaders, observeBody } from '../proxy'
import { passThrough, type RouteContext } from './http-route'
import { inlineJson, isSmallJson } from './mcp-inline'
import { both, type PricedBody } from './mcp-pricing'
import { streamTickets } from './mcp-stream'
import { taskCreation } from './mcp-tasks'
import { callOrigin } from './upstream'

export interface McpPost {
  book: McpPriceBook
  /** The body as read (forwarded as it came). */
  text: string
  parsed: Extract<ParsedBody, { ok: true }>
  priced: PricedBody
  /** The one message of a body that is not a batch. */
  single: McpMessage | undefined
  /** The hash of the caller's key ('' when none), whose tickets these are. */
  holder: string
  /** The price annotations of `tools/list` answers, if any. */
  annotate: MessageRewrite | undefined
}

export async function serveFreeCall(context: RouteContext, post: McpPost): Promise<Response> {
  const { book, parsed, priced, single, holder, annotate } = post
  const task = taskCreation(context, single, null, holder, priced.waitMs)
  const rewrite = both(annotate, task?.rewrite)
  const response = await callOrigin(context, { body: post.text })
  const format =
    response.ok && response.body ? bodyFormat(response.headers.get('content-type')) : null
  // A JSON answer is never resumed: without an annotation it passes untouched.
  if (!format || !response.body || (format === 'json' && !rewrite)) return passThrough(response)
  if (isSmallJson(response, format))
    return inlineJson(response, new McpResponseReader('json', rewrite))
  // Its event ids become tickets, so a resumed stream still delivers these free answers (and only these).
  const tickets =
    format === 'sse'
      ? streamTickets(context, book, parsed.messages, priced.prices, response, null, holder)
      : undefined
  const reader = new McpResponseReader(
    format,
    rewrite,
    tickets?.fits ? (id) => tickets.seal(id) : undefined
  )
  const body = observeBody(response.body, {
    chunk: (bytes) => reader.chunk(bytes),
    flush: () => reader.flush(),
    end: () => undefined,
  })
  const headers = downstreamResponseHeaders(response.headers)
  headers.delete('content-length')
  return new Response(body, { status: response.status, headers })
}
