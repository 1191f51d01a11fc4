/**
 * @module gate/mcp-route
 * MCP routes (Streamable HTTP): a POST body is read and priced message by message
 * (a batch as its sum, held all-or-nothing). The gate reads each JSON-RPC response
 * in the answer and charges only the calls that succeeded: an SSE answer (or a
 * large JSON one) streams through and a call is charged once its response has
 * been handed on; a caller gone before that pays nothing. A small JSON answer is
 * read whole (natively, cheaper than streaming it through JavaScript) and charged
 * as it is handed to the runtime. GET (the notification stream) and DELETE (end of
 * session) pass through free, headers and all.
 */
import { GateError } from '../errors'
import {
  annotateToolsList,
  bodyFormat,
  idKey,
  INVALID_REQUEST,
  requestedTask,
  taskIdParam,
  TASK_METHODS,
  McpResponseReader,
  parseMcpBody,
  type BodyFormat,
  type McpMessage,
  type MessageRewrite,
} from '../mcp'
import { priceMcpRequest, priceOfTool, type McpPriceBook, type PaymentRails, type RateLimit } from '../pricing'
import { downstreamResponseHeaders, observeBody } from '../proxy'
import { CallMeter } from './call-meter'
import { chargeForServed, holdCredits, holdHeaders, HoldSettlement } from './credits-payment'
import { mcpHoldRequest } from './hold-requests'
import { keyToolFilter } from './key-tool-filter'
import { toolPriceMeta } from './tool-price-meta'
import { passThrough, type RouteContext } from './http-route'
import { batchNotPayable, mcpErrorResponse, mcpGateErrorResponse, mcpJson, readBodyWithin } from './mcp-answers'
import { mcpResource, metaPayment, serveMcpWithX402, x402McpAnswer } from './mcp-x402'
import { chooseRail } from './rails'
import { requiredFor } from './x402-payment'
import { callOrigin } from './upstream'
import { holderOf, serveMcpStream, streamTickets } from './mcp-stream'
import { serveTaskRequest, taskCreation } from './mcp-tasks'
import { markWaiting, releaseCancelled, releaseSession } from './mcp-cancel'
import { originRefusal } from './mcp-origin'

export interface PricedBody {
  total: number
  /** Price of each priced request, by id. */
  prices: Map<string, number>
  /** The priced requests in order, as the key's plan prices them. */
  items: Array<{ id: string; price: number; tool?: string }>
  /** Ids of `tools/list` requests, whose answers get price annotations. */
  listIds: Set<string>
  toolLimits: Array<{ tool: string; limit: RateLimit }>
  label: string
  /** How long a held call may wait for its answer after its POST stream ended. */
  waitMs: number
}

/** Price every request in an MCP body (a batch as its sum). */
export function priceBody(book: McpPriceBook, messages: McpMessage[]): PricedBody {
  const priced: PricedBody = { total: 0, prices: new Map(), items: [], listIds: new Set(), toolLimits: [], label: '', waitMs: book.resumeMs }
  const names: string[] = []
  for (const message of messages) {
    if (message.kind !== 'request') continue
    if (message.method === 'tools/list') priced.listIds.add(idKey(message.id))
    // A task's result may be fetched as long as the task lives (its ttl), within the route's cap.
    const task = requestedTask(message)
    if (task) priced.waitMs = Math.max(priced.waitMs, Math.min(task.ttlMs ?? book.taskMs, book.taskMs))
    const price = priceMcpRequest(book, message.method, message.tool)
    if (price.micros === 0) continue
    priced.total += price.micros
    priced.prices.set(idKey(message.id), price.micros)
    priced.items.push({ id: idKey(message.id), price: price.micros, ...(message.tool !== undefined ? { tool: message.tool } : {}) })
    if (message.tool !== undefined && price.toolRateLimit) {
      priced.toolLimits.push({ tool: message.tool, limit: price.toolRateLimit })
    }
    names.push(message.tool !== undefined ? `${message.method} ${message.tool}` : message.method)
  }
  priced.label = names.length > 3 ? `${names.slice(0, 3).join(', ')} (+${names.length - 3})` : names.join(', ')
  return priced
}

function annotator(book: McpPriceBook, listIds: Set<string>, rails: PaymentRails, keep?: (tool: string) => boolean): MessageRewrite | undefined {
  if (listIds.size === 0) return undefined
  return (message) => annotateToolsList(message, listIds, (tool) => toolPriceMeta(priceOfTool(book, tool), rails), keep)
}

export async function serveMcpRoute(context: RouteContext, book: McpPriceBook): Promise<Response> {
  const { env, request, route, forwardPath } = context
  const forbidden = originRefusal(request, context.url, book)
  if (forbidden) return forbidden
  if (request.method === 'GET') return serveMcpStream(context, book)
  if (request.method === 'DELETE') await releaseSession(context)
  if (request.method !== 'POST') return passThrough(await callOrigin(context))

  const contentType = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (contentType !== 'application/json') {
    return mcpErrorResponse(415, null, -32000, 'Unsupported Media Type: Content-Type must be application/json', 'unsupported_media_type')
  }
  const read = await readBodyWithin(request, route.maxBodyBytes)
  if (!read.ok) return read.response
  const parsed = parseMcpBody(read.text)
  if (!parsed.ok) return mcpErrorResponse(400, null, parsed.code, parsed.message, 'invalid_request')

  const single = parsed.batch ? undefined : parsed.messages[0]
  const holder = await holderOf(context.caller)
  await releaseCancelled(context, parsed.messages, holder)
  // Tasks go on their own: a task's hold is settled by its own tasks/result (gate/mcp-tasks), and
  // a batch would carry a tasks/result past that, naming the origin's own task id.
  const isTaskRequest = (message: McpMessage) => message.kind === 'request' && (requestedTask(message) !== undefined || TASK_METHODS.has(message.method))
  if (parsed.batch && parsed.messages.some(isTaskRequest)) {
    return mcpErrorResponse(400, null, INVALID_REQUEST, 'Invalid request: send task-augmented calls and task requests (tasks/*) on their own, not in a batch', 'invalid_request')
  }
  if (single?.kind === 'request' && TASK_METHODS.has(single.method)) {
    const answered = await serveTaskRequest(context, single, taskIdParam(single), holder)
    if (answered) return answered
  }
  const priced = priceBody(book, parsed.messages)
  const keep = priced.listIds.size > 0 ? await keyToolFilter(env.CREDITS, context.caller) : undefined
  const annotate = annotator(book, priced.listIds, route.rails, keep)
  context.usage.priced(priced.total, single?.kind === 'request' ? single.method : 'batch', single?.kind === 'request' ? (single.tool ?? null) : null)
  const inMeta = single ? metaPayment(single) : { present: parsed.messages.some((message) => metaPayment(message).present), decoded: undefined }
  const rail = chooseRail(request.headers, route.rails, inMeta, context.caller)
  const x402 = route.rails.x402
  if (priced.total > 0 && x402 && rail.kind !== 'credits') {
    // One x402 payment pays one call: a batch is paid with credits (its refusal says so).
    if (single?.kind === 'request') {
      if (rail.kind === 'x402') return serveMcpWithX402(context, x402, single, priced.total, rail.payment)
      const required = requiredFor(x402, priced.total, mcpResource(context, single), 'Payment required')
      return context.usage.x402DeniedWith('payment_required', mcpJson(200, x402McpAnswer(single, required, 'payment_required', route.rails.credits)))
    }
    // A batch on a route that takes x402 only cannot be paid at all: never fall through to credits.
    if (rail.kind === 'x402' || !route.rails.credits) return batchNotPayable(route.rails.credits)
  }
  if (priced.total === 0) {
    const task = taskCreation(context, single, null, holder, priced.waitMs)
    const rewrite = both(annotate, task?.rewrite)
    const response = await callOrigin(context, { body: read.text })
    const format = response.ok && response.body ? bodyFormat(response.headers.get('content-type')) : null
    // A JSON answer is never resumed: without an annotation it passes untouched.
    if (!format || !response.body || (format === 'json' && !rewrite)) return passThrough(response)
    if (isSmallJson(response, format)) return inlineJson(response, new McpResponseReader('json', rewrite))
    // Its event ids become tickets, so a resumed stream still delivers these free answers (and only these).
    const tickets = format === 'sse' ? streamTickets(context, book, parsed.messages, priced.prices, response, null, holder) : undefined
    const reader = new McpResponseReader(format, rewrite, tickets?.fits ? (id) => tickets.seal(id) : undefined)
    const body = observeBody(response.body, { chunk: (bytes) => reader.chunk(bytes), flush: () => reader.flush(), end: () => undefined })
    const headers = downstreamResponseHeaders(response.headers)
    headers.delete('content-length')
    return new Response(body, { status: response.status, headers })
  }

  let hold
  try {
    const holdRequest = mcpHoldRequest(route, priced, request.method, `${forwardPath}${context.url.search}`, read.text)
    hold = await holdCredits(env.CREDITS, request.headers, holdRequest, { queue: context.settlements, waitUntil: context.waitUntil }, context.caller)
  } catch (error) {
    if (!(error instanceof GateError)) throw error
    // An OAuth route: a caller with no credential is told how to authorize (RFC 9728 §5.1), not paid in-band.
    const refusal = error.code === 'missing_api_key' && context.challenge ? new GateError('unauthorized', 'Authorize with OAuth, or send an API key.', { headers: { 'www-authenticate': context.challenge } }) : error
    return context.usage.deniedWith(refusal, mcpGateErrorResponse(refusal, parsed, priced.prices))
  }
  const settlement = context.usage.credits(hold, new HoldSettlement(env.CREDITS, hold, context.settlements, context.waitUntil))
  let response: Response
  try {
    response = await callOrigin(context, { body: read.text })
  } catch (error) {
    settlement.failed()
    if (error instanceof GateError) return mcpGateErrorResponse(error, parsed, priced.prices)
    throw error
  }
  const format = bodyFormat(response.headers.get('content-type'))
  // An error status, an empty body or a body that is not JSON-RPC cannot carry a
  // successful answer, so nothing in it is charged.
  if (response.status >= 400 || response.body === null || format === null) {
    settlement.failed()
    return passThrough(response)
  }
  // The meter notes which calls succeeded; the key's plan prices those.
  const meter = new CallMeter(new Map(priced.items.map((item, index) => [item.id, index])))
  // A task's creation is not its result: the hold waits for tasks/result (gate/mcp-tasks).
  const task = taskCreation(context, single, hold, holder, priced.waitMs)
  const rewrite = both(annotate, task?.rewrite)
  const record = (messages: unknown[]) => {
    for (const message of messages) if (!task?.isCreation(message)) meter.record(message)
  }
  // Once: later chunks of a stream whose calls are all answered need no pricing again.
  let settled = false
  const settleServed = () => {
    if (settled || task?.created) return
    settled = true
    const { amount, calls } = chargeForServed(hold, meter.succeeded)
    settlement.settle(amount, calls)
  }
  // A single call on an SSE stream can be answered on a resumed one: its event ids carry its hold.
  // (Not a task's creation: it is settled by tasks/result, never by an answer on a resumed stream.)
  const resumable = format === 'sse' && single?.kind === 'request' && requestedTask(single) === undefined
  const tickets = format === 'sse' ? streamTickets(context, book, parsed.messages, priced.prices, response, resumable ? hold : null, holder) : undefined
  const reader = new McpResponseReader(format, rewrite, tickets?.fits ? (id) => tickets.seal(id) : undefined)
  if (isSmallJson(response, format)) {
    // One small JSON answer: read it whole (natively), charge what succeeded as it is handed on.
    let answer: Response
    try {
      answer = await inlineJson(response, reader, holdHeaders(hold))
    } catch (error) {
      settlement.failed()
      const broken = new GateError('upstream_unreachable', `The origin broke off its answer: ${(error as Error).message}`)
      return mcpGateErrorResponse(broken, parsed, priced.prices)
    }
    record(reader.take())
    settleServed()
    return answer
  }
  // The answer can still come on a resumed stream (the caller was handed an event id).
  const waitsForAnswer = () => resumable && reader.resumable && !meter.allAnswered && !settled && !task?.created
  const session = response.headers.get('mcp-session-id') ?? request.headers.get('mcp-session-id')
  const waitForAnswer = () => (single?.kind === 'request' ? markWaiting(context, hold, holder, session, single.id) : Promise.resolve())
  const body = observeBody(response.body, {
    chunk: (bytes) => reader.chunk(bytes),
    flush: async () => {
      const rest = reader.flush()
      record(reader.take())
      // Marked waiting before the caller sees the stream end, so a cancel it sends next finds it.
      if (waitsForAnswer()) await waitForAnswer()
      return rest
    },
    delivered: () => {
      record(reader.take())
      if (meter.allAnswered) settleServed()
    },
    // Whatever was not answered and delivered by now is released, unless its answer
    // can still come on a resumed stream: then the hold waits for it (gate/mcp-stream)
    // until a cancellation, the session's end or its expiry. A JSON body too large to
    // inspect was still delivered whole with a 2xx: charged.
    end: (how) => {
      if (how === 'complete' && reader.overflowed) return settlement.served()
      if (waitsForAnswer()) {
        if (how !== 'complete') context.waitUntil(waitForAnswer())
        return
      }
      settleServed()
    },
  })
  const headers = downstreamResponseHeaders(response.headers)
  for (const [name, value] of Object.entries(holdHeaders(hold))) headers.set(name, value)
  if (rewrite) headers.delete('content-length')
  return new Response(body, { status: response.status, statusText: response.statusText, headers })
}

/** Two rewrites of the origin's messages, the first that changes a message winning. */
function both(first: MessageRewrite | undefined, second: MessageRewrite | undefined): MessageRewrite | undefined {
  if (!first || !second) return first ?? second
  return (message) => first(message) ?? second(message)
}

/** JSON answers up to this size are read whole rather than streamed through JavaScript. */
const INLINE_JSON_BYTES = 256 * 1024

/** A JSON answer whose declared length is small: cheaper to read at once than to stream. */
function isSmallJson(response: Response, format: BodyFormat): boolean {
  const length = Number(response.headers.get('content-length') ?? Number.NaN)
  return format === 'json' && Number.isSafeInteger(length) && length <= INLINE_JSON_BYTES
}

/** Read a JSON answer whole, let the reader see (and annotate) it, and answer with the result. */
async function inlineJson(response: Response, reader: McpResponseReader, extraHeaders: Record<string, string> = {}): Promise<Response> {
  const text = await response.text()
  const body = reader.whole(text)
  const headers = downstreamResponseHeaders(response.headers)
  headers.delete('content-length')
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value)
  return new Response(body, { status: response.status, statusText: response.statusText, headers })
}
