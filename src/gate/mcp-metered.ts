/**
 * @module gate/mcp-metered
 * A POST paid with credits: the gate reads each JSON-RPC response in the answer
 * and charges only the calls that succeeded. An SSE answer (or a large JSON one)
 * streams through and a call is charged once its response has been handed on; a
 * caller gone before that pays nothing, unless its answer can still come on a
 * resumed stream (gate/mcp-stream) or as a task's result (gate/mcp-tasks). A small
 * JSON answer is read whole and charged as it is handed to the runtime.
 */
import { GateError } from '../errors'
import { bodyFormat, McpResponseReader, requestedTask } from '../mcp'
import { downstreamResponseHeaders, observeBody } from '../proxy'
import { CallMeter } from './call-meter'
import { chargeForServed, holdHeaders } from './credits-payment'
import type { CreditsPayment } from './credits-rail'
import { passThrough, type RouteContext } from './http-route'
import { mcpGateErrorResponse } from './mcp-answers'
import { markWaiting } from './mcp-cancel'
import type { McpPost } from './mcp-free'
import { inlineJson, isSmallJson } from './mcp-inline'
import { both } from './mcp-pricing'
import { streamTickets } from './mcp-stream'
import { taskCreation } from './mcp-tasks'
import { callOrigin } from './upstream'

export async function serveMeteredCall(
  context: RouteContext,
  post: McpPost,
  payment: CreditsPayment
): Promise<Response> {
  const { request } = context
  const { book, parsed, priced, single, holder, annotate } = post
  const { hold } = payment
  let response: Response
  try {
    response = await callOrigin(context, { body: post.text, headers: payment.originHeaders() })
  } catch (error) {
    void payment.finish({ delivered: false })
    if (error instanceof GateError) return mcpGateErrorResponse(error, parsed, priced.prices)
    throw error
  }
  const format = bodyFormat(response.headers.get('content-type'))
  // An error status, an empty body or a body that is not JSON-RPC cannot carry a
  // successful answer, so nothing in it is charged.
  if (response.status >= 400 || response.body === null || format === null) {
    void payment.finish({ delivered: false })
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
    void payment.finish({ delivered: true, ...chargeForServed(hold, meter.succeeded) })
  }
  // A single call on an SSE stream can be answered on a resumed one: its event ids carry its hold.
  // (Not a task's creation: it is settled by tasks/result, never by an answer on a resumed stream.)
  const resumable =
    format === 'sse' && single?.kind === 'request' && requestedTask(single) === undefined
  const tickets =
    format === 'sse'
      ? streamTickets(
          context,
          book,
          parsed.messages,
          priced.prices,
          response,
          resumable ? hold : null,
          holder
        )
      : undefined
  const reader = new McpResponseReader(
    format,
    rewrite,
    tickets?.fits ? (id) => tickets.seal(id) : undefined
  )
  if (isSmallJson(response, format)) {
    // One small JSON answer: read it whole (natively), charge what succeeded as it is handed on.
    let answer: Response
    try {
      answer = await inlineJson(response, reader, holdHeaders(hold))
    } catch (error) {
      void payment.finish({ delivered: false })
      const broken = new GateError(
        'upstream_unreachable',
        `The origin broke off its answer: ${(error as Error).message}`
      )
      return mcpGateErrorResponse(broken, parsed, priced.prices)
    }
    record(reader.take())
    settleServed()
    return answer
  }
  // The answer can still come on a resumed stream (the caller was handed an event id).
  const waitsForAnswer = () =>
    resumable && reader.resumable && !meter.allAnswered && !settled && !task?.created
  const session = response.headers.get('mcp-session-id') ?? request.headers.get('mcp-session-id')
  const waitForAnswer = () =>
    single?.kind === 'request'
      ? markWaiting(context, hold, holder, session, single.id)
      : Promise.resolve()
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
      if (how === 'complete' && reader.overflowed) return void payment.finish({ delivered: true })
      if (waitsForAnswer()) {
        if (how !== 'complete') context.waitUntil(waitForAnswer())
        return
      }
      settleServed()
    },
  })
  const headers = downstreamResponseHeaders(response.headers)
  payment.decorate(headers)
  if (rewrite) headers.delete('content-length')
  return new Response(body, { status: response.status, statusText: response.statusText, headers })
}
