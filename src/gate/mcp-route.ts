/**
 * @module gate/mcp-route
 * MCP routes (Streamable HTTP): a POST body is read and priced message by message
 * (gate/mcp-pricing); a free one is forwarded as it came (gate/mcp-free); a paid
 * one takes its payment (gate/accept) and is answered the way its rail settles:
 * credits charged once the successful answers were handed on (gate/mcp-metered),
 * x402 settled before its answer is (gate/mcp-x402). GET (the notification stream,
 * or a resumed one: gate/mcp-stream) and DELETE (end of session) pass through
 * free, headers and all; task requests go to gate/mcp-tasks.
 */
import { GateError } from '../errors'
import {
  INVALID_REQUEST,
  jsonRpcError,
  parseMcpBody,
  requestedTask,
  taskIdParam,
  TASK_METHODS,
  type McpMessage,
  type ParsedBody,
} from '../mcp'
import type { McpPriceBook } from '../pricing'
import { acceptPayment } from './accept'
import { mcpHoldRequest } from './hold-requests'
import { passThrough, type RouteContext } from './http-route'
import { keyToolFilter } from './key-tool-filter'
import {
  batchNotPayable,
  mcpErrorResponse,
  mcpGateErrorResponse,
  mcpJson,
  PAYMENT_REQUIRED_CODE,
  readBodyWithin,
} from './mcp-answers'
import { releaseCancelled, releaseSession } from './mcp-cancel'
import { serveFreeCall, type McpPost } from './mcp-free'
import { serveMeteredCall } from './mcp-metered'
import { originRefusal } from './mcp-origin'
import { annotator, priceBody, type PricedBody } from './mcp-pricing'
import { holderOf, serveMcpStream } from './mcp-stream'
import { serveTaskRequest } from './mcp-tasks'
import { mcpResource, metaPayment, serveHeldAnswer, x402McpAnswer } from './mcp-x402'
import type { Refusal } from './payment'
import { chooseRail } from './rails'
import { callOrigin } from './upstream'

export async function serveMcpRoute(context: RouteContext, book: McpPriceBook): Promise<Response> {
  const { env, request, route, forwardPath } = context
  const forbidden = originRefusal(request, context.url, book)
  if (forbidden) return forbidden
  if (request.method === 'GET') return serveMcpStream(context, book)
  if (request.method === 'DELETE') await releaseSession(context)
  if (request.method !== 'POST') return passThrough(await callOrigin(context))

  const contentType = (request.headers.get('content-type') ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase()
  if (contentType !== 'application/json') {
    return mcpErrorResponse(
      415,
      null,
      -32000,
      'Unsupported Media Type: Content-Type must be application/json',
      'unsupported_media_type'
    )
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
  const isTaskRequest = (message: McpMessage) =>
    message.kind === 'request' &&
    (requestedTask(message) !== undefined || TASK_METHODS.has(message.method))
  if (parsed.batch && parsed.messages.some(isTaskRequest)) {
    return mcpErrorResponse(
      400,
      null,
      INVALID_REQUEST,
      'Invalid request: send task-augmented calls and task requests (tasks/*) on their own, not in a batch',
      'invalid_request'
    )
  }
  if (single?.kind === 'request' && TASK_METHODS.has(single.method)) {
    const answered = await serveTaskRequest(context, single, taskIdParam(single), holder)
    if (answered) return answered
  }
  const priced = priceBody(book, parsed.messages)
  const keep =
    priced.listIds.size > 0 ? await keyToolFilter(env.CREDITS, context.caller) : undefined
  const annotate = annotator(book, priced.listIds, route.rails, keep)
  context.usage.priced(
    priced.total,
    single?.kind === 'request' ? single.method : 'batch',
    single?.kind === 'request' ? (single.tool ?? null) : null
  )
  const post: McpPost = { book, text: read.text, parsed, priced, single, holder, annotate }
  if (priced.total === 0) return serveFreeCall(context, post)

  const call = single?.kind === 'request' ? single : undefined
  const inMeta = call
    ? metaPayment(call)
    : {
        present: parsed.messages.some((message) => metaPayment(message).present),
        decoded: undefined,
      }
  const rail = chooseRail(request.headers, route.rails, inMeta, context.caller)
  // One x402 payment pays one call: a batch is paid with credits (its refusal says so), and a
  // batch on a route that takes x402 only cannot be paid at all: never fall through to credits.
  if (!call && route.rails.x402 && (rail.kind === 'x402' || !route.rails.credits))
    return batchNotPayable(route.rails.credits)
  // An x402 payment is taken for a flight of its own, so that a resumed stream can claim and settle it if the answer comes there.
  const flight = rail.kind === 'x402' ? { flight: crypto.randomUUID() } : {}
  const price = {
    micros: priced.total,
    hold: () =>
      mcpHoldRequest(
        route,
        priced,
        request.method,
        `${forwardPath}${context.url.search}`,
        post.text
      ),
    resource: () =>
      call ? mcpResource(context, call) : { url: context.url.href, description: 'MCP batch' },
    ask: 'Payment required',
  }
  const accepted = await acceptPayment(context, call ? rail : { kind: 'credits' }, price, flight)
  if (!accepted.ok) return mcpRefusal(context, accepted.refusal, parsed, priced, call)
  const { payment } = accepted
  // Settled before its answer is handed on, or charged once it was: the two ways an MCP answer is paid.
  if (payment.rail === 'x402')
    return serveHeldAnswer(context, payment, call as Extract<McpMessage, { kind: 'request' }>)
  return serveMeteredCall(context, post, payment)
}

/** A refusal of the call's payment, answered in-band (gate/mcp-answers): the credits rail's per request, x402's as the call's answer. */
function mcpRefusal(
  context: RouteContext,
  refusal: Refusal,
  parsed: Extract<ParsedBody, { ok: true }>,
  priced: PricedBody,
  call: Extract<McpMessage, { kind: 'request' }> | undefined
): Response {
  if (refusal.rail === 'credits') {
    const { error } = refusal
    // An OAuth route: a caller with no credential is told how to authorize (RFC 9728 §5.1), not paid in-band.
    const told =
      error.code === 'missing_api_key' && context.challenge
        ? new GateError('unauthorized', 'Authorize with OAuth, or send an API key.', {
            headers: { 'www-authenticate': context.challenge },
          })
        : error
    return context.usage.deniedWith(told, mcpGateErrorResponse(told, parsed, priced.prices))
  }
  const { reason, required } = refusal.refusal
  // A batch is never offered x402, so an x402 refusal always answers one call.
  const answer = call
    ? x402McpAnswer(call, required, reason, context.route.rails.credits)
    : jsonRpcError(null, PAYMENT_REQUIRED_CODE, refusal.refusal.message, { reason })
  return context.usage.x402DeniedWith(reason, mcpJson(200, answer))
}
