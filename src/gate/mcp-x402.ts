/**
 * @module gate/mcp-x402
 * x402 inside MCP (transports-v2/mcp.md). The payment comes in
 * `params._meta["x402/payment"]` (an object, or base64 as Cloudflare's agents
 * client sends it) or the PAYMENT-SIGNATURE header, and is removed before the
 * call is forwarded. The call's answer is held back until it is settled: a
 * success gets `_meta["x402/payment-response"]`; a failed settlement replaces
 * the tool's output with the payment error (§Settlement Failure). On SSE,
 * notifications before the answer still stream as they come; only the answer
 * waits for the settlement.
 */
import { idKey, responseOutcome, type McpMessage } from '../mcp'
import { downstreamResponseHeaders } from '../proxy'
import { decideAnswerIn, holdAnswerInStream } from './answer-stream'
import { ticketSealer, type TicketPayment } from './stream-ticket'
import {
  decodeHeader,
  MCP_PAYMENT_ERROR_META,
  MCP_PAYMENT_META,
  MCP_PAYMENT_RESPONSE_META,
  reasonNext,
  type PaymentRequired,
  type RefusalReason,
  type ResourceInfo,
} from '../x402'
import type { RouteContext } from './http-route'
import { mcpJson, PAYMENT_REQUIRED_CODE } from './mcp-answers'
import { callOrigin } from './upstream'
import type { PaymentEnd } from './payment'
import type { X402Finish } from './x402-finish'
import type { X402Payment } from './x402-rail'

type Request = Extract<McpMessage, { kind: 'request' }>

/** The largest payment the gate reads (the header decoder's bound too). */
const MAX_PAYMENT_CHARS = 16_384

/** The payment carried in a request's `_meta`, decoded. */
export function metaPayment(message: McpMessage | undefined): {
  present: boolean
  decoded: unknown
} {
  const meta = message?.kind === 'request' ? message.params?._meta : undefined
  if (typeof meta !== 'object' || meta === null || !(MCP_PAYMENT_META in meta))
    return { present: false, decoded: undefined }
  const value = (meta as Record<string, unknown>)[MCP_PAYMENT_META]
  if (typeof value === 'string') return { present: true, decoded: decodeHeader(value) }
  // The same bound as the header's: a payment is small, and a padded one is not passed on.
  return {
    present: true,
    decoded: JSON.stringify(value ?? null).length <= MAX_PAYMENT_CHARS ? value : null,
  }
}

/**
 * The request as forwarded: the same message without the payment in its `_meta`,
 * and without task augmentation. One payment is settled on the call's answer, and
 * a task's answer is only its creation (MCP 2025-11-25 tasks); a server not asked
 * for a task answers the call itself, as it would a client that never asked.
 */
function withoutPayment(message: Request): string {
  const { task: _task, ...params } = { ...message.params }
  if (typeof params._meta === 'object' && params._meta !== null) {
    const { [MCP_PAYMENT_META]: _payment, ...rest } = params._meta as Record<string, unknown>
    params._meta = rest
  }
  return JSON.stringify({ jsonrpc: '2.0', id: message.id, method: message.method, params })
}

export function mcpResource(context: RouteContext, message: Request): ResourceInfo {
  if (message.tool !== undefined)
    return { url: `mcp://tool/${message.tool}`, description: `MCP tool ${message.tool}` }
  const url = context.url
  return {
    url: `${url.origin}${url.pathname}#${message.method}`,
    description: `MCP ${message.method}`,
  }
}

/**
 * The in-band answer when payment is required or failed: for a tool, a result
 * with `isError: true` carrying PaymentRequired in `structuredContent`, as JSON in
 * `content[0].text`, and in `_meta["x402/error"]` for Cloudflare's agents client;
 * for any other method, a JSON-RPC `-32402` error with the same object.
 */
export function x402McpAnswer(
  message: Pick<Request, 'id' | 'tool'>,
  required: PaymentRequired,
  reason: RefusalReason,
  credits: boolean
): Record<string, unknown> {
  const next = reasonNext(reason)
  const creditsNote = credits
    ? { 'pay-gate/credits': 'Or send an API key as "Authorization: Bearer <key>".' }
    : {}
  if (message.tool !== undefined) {
    return {
      jsonrpc: '2.0',
      id: message.id,
      result: {
        isError: true,
        structuredContent: required,
        content: [{ type: 'text', text: JSON.stringify(required) }],
        _meta: {
          [MCP_PAYMENT_ERROR_META]: required,
          'pay-gate/reason': reason,
          'pay-gate/next': next,
          ...creditsNote,
        },
      },
    }
  }
  return {
    jsonrpc: '2.0',
    id: message.id,
    error: {
      code: PAYMENT_REQUIRED_CODE,
      message: required.error ?? 'Payment required',
      data: { reason, next, x402: required, ...creditsNote },
    },
  }
}

/** Put the settlement into a successful answer, or replace the answer with the payment error. */
export function settled(
  message: Record<string, unknown>,
  request: Pick<Request, 'id' | 'tool'>,
  finish: X402Finish,
  credits: boolean
): Record<string, unknown> {
  if (finish.kind === 'paid') {
    const result = (message.result ?? {}) as Record<string, unknown>
    const meta = typeof result._meta === 'object' && result._meta !== null ? result._meta : {}
    return {
      ...message,
      result: { ...result, _meta: { ...meta, [MCP_PAYMENT_RESPONSE_META]: finish.settlement } },
    }
  }
  if (finish.kind === 'refused') {
    const { refusal } = finish
    const answer = x402McpAnswer(request, refusal.required, refusal.reason, credits)
    const result = answer.result as Record<string, unknown> | undefined
    if (result)
      result._meta = {
        ...(result._meta as object),
        [MCP_PAYMENT_RESPONSE_META]: refusal.settlement,
      }
    return answer
  }
  return message
}

/** A payment's end as `settled` puts it into an answer. */
function finishOf(payment: X402Payment, end: PaymentEnd): X402Finish {
  const settlement = payment.settlement
  if (end.kind === 'paid' && settlement) return { kind: 'paid', settlement }
  if (end.kind === 'refused') return { kind: 'refused', refusal: end.refusal }
  return end.kind === 'served-unpaid' ? end : { kind: 'not-served' }
}

/**
 * Serve a call paid with x402: forward it without its payment, hold its answer
 * back until the payment is settled (a success) or released (anything else).
 */
export async function serveHeldAnswer(
  context: RouteContext,
  payment: X402Payment,
  message: Request
): Promise<Response> {
  const { env, route } = context
  const credits = route.rails.credits
  const { attempt, resource } = payment
  let response: Response
  try {
    response = await callOrigin(context, {
      body: withoutPayment(message),
      headers: payment.originHeaders(),
    })
  } catch (error) {
    await payment.finish({ delivered: false })
    throw error
  }
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  const headers = downstreamResponseHeaders(response.headers)
  headers.delete('content-length')
  if (
    response.status >= 400 ||
    !response.body ||
    (type !== 'application/json' && type !== 'text/event-stream')
  ) {
    await payment.finish({ delivered: false })
    return new Response(response.body, { status: response.status, headers })
  }
  /** Decide on the call's answer: settle a success, release a failure. */
  const decide = async (
    answer: Record<string, unknown>
  ): Promise<{ message: Record<string, unknown>; end: PaymentEnd }> => {
    const end = await payment.finish({ delivered: responseOutcome(answer)?.outcome === 'success' })
    return { message: settled(answer, message, finishOf(payment, end), credits), end }
  }
  const target = idKey(message.id)
  const isAnswer = (value: unknown): value is Record<string, unknown> => {
    const outcome = responseOutcome(value)
    return outcome !== null && idKey(outcome.id) === target
  }

  if (type === 'application/json') {
    let text: string
    try {
      text = await response.text()
    } catch (error) {
      // The origin broke its answer off: nothing was served, so the payment is released.
      await payment.finish({ delivered: false })
      const data = { reason: 'upstream_unreachable' }
      return mcpJson(502, {
        jsonrpc: '2.0',
        id: message.id,
        error: {
          code: -32603,
          message: `The origin broke off its answer: ${(error as Error).message}`,
          data,
        },
      })
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      value = null
    }
    const found = await decideAnswerIn(value, isAnswer, decide)
    if (!found) {
      await payment.finish({ delivered: false })
      return new Response(text, { status: response.status, headers })
    }
    payment.decorate(headers)
    return new Response(JSON.stringify(found.body), { status: response.status, headers })
  }
  // Its event ids carry the payment, waiting, for a resumed stream (gate/mcp-stream) to settle on the answer.
  const usage = context.usage.snapshot()
  const flight = attempt.flight as string
  const waiting: TicketPayment = {
    payload: attempt.payload,
    micros: attempt.micros,
    payer: attempt.payer,
    nonce: attempt.nonce,
    lock: attempt.lock,
    validBefore: attempt.validBefore,
    flight,
    resource,
    ...(message.tool !== undefined ? { tool: message.tool } : {}),
    ...(usage ? { usage } : {}),
  }
  const resumeMs = route.pricing.kind === 'mcp' ? route.pricing.book.resumeMs : 0
  const terms = attempt.terms
  const sealer =
    attempt.mode === 'verified' && resumeMs > 0
      ? ticketSealer(env, {
          session:
            response.headers.get('mcp-session-id') ?? context.request.headers.get('mcp-session-id'),
          holder: '',
          account: '',
          keyId: '',
          calls: { [target]: { x402: waiting } },
          // No later than the authorization allows a settlement, with a margin for the settle itself.
          until: Math.min(
            Date.now() + route.timeoutMs + resumeMs,
            attempt.validBefore * 1000 - terms.facilitator.settleTimeoutMs
          ),
        })
      : undefined
  const held = {
    isAnswer,
    decide,
    abandon: () => payment.finish({ delivered: false }),
    waitUntil: context.waitUntil,
    ...(sealer?.fits ? { eventId: (id: string) => sealer.seal(id) } : {}),
  }
  return new Response(holdAnswerInStream(response.body, held), {
    status: response.status,
    headers,
  })
}
