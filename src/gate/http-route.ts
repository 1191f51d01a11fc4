/**
 * @module gate/http-route
 * Plain HTTP routes: free routes pass straight through; a priced route takes the
 * call's payment (gate/accept), forwards, and finishes the payment by what the
 * caller got. A credits hold is charged only when the origin answered below 400
 * and the body reached the caller in full; a 5xx, a 4xx, a network error, a
 * timeout, a body the origin broke off, or a caller who went away: released. An
 * x402 payment is settled when the origin's headers arrive, below 400, and before
 * a single byte of the body is sent (transports-v2/http.md), so paid content is
 * never given away unsettled (SSE included) and a call that failed before it
 * started streaming is never paid for; a failed settlement gets the payment error,
 * not the content.
 */
import type { Caller, LedgerClient } from '../credits'
import type { Env } from '../env'
import { GateError } from '../errors'
import type { CompiledRoute } from '../pricing'
import { downstreamResponseHeaders, observeBody } from '../proxy'
import { readBytesWithin } from '../request-body'
import type { UsageCall } from '../usage'
import { acceptPayment } from './accept'
import { httpHoldRequest } from './hold-requests'
import { httpRefusal, httpResource } from './http-x402'
import type { Payment } from './payment'
import { chooseRail } from './rails'
import { callOrigin } from './upstream'

export interface RouteContext {
  env: Env
  request: Request
  /** The request URL, parsed once. */
  url: URL
  route: CompiledRoute
  forwardPath: string
  waitUntil: (promise: Promise<unknown>) => void
  /** This request's client of the credits ledger (holds, and their settlements riding on the key's next hold). */
  ledger: LedgerClient
  /** Records this request's paid call as a usage event (it observes payments; it never settles one). */
  usage: UsageCall
  /** Who pays with credits: the key the headers present, or the OAuth token src/oauth validated. */
  caller: Caller
  /** On an OAuth route, the 401 challenge for a caller with no credential (src/oauth/guard). */
  challenge?: string
}

/** Pass a response through with hop-by-hop headers removed. */
export function passThrough(
  response: Response,
  extraHeaders: Record<string, string> = {},
  body?: ReadableStream | null
): Response {
  const headers = downstreamResponseHeaders(response.headers)
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value)
  return new Response(body === undefined ? response.body : body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  })
}

export async function serveHttpRoute(context: RouteContext): Promise<Response> {
  const { request, route, forwardPath } = context
  if (route.pricing.kind !== 'fixed') return passThrough(await callOrigin(context))
  const micros = route.pricing.micros
  const rail = chooseRail(request.headers, route.rails, undefined, context.caller)
  // Paying with credits and an Idempotency-Key, the body is part of what identifies the
  // call, so it is read (within the route's limit) and forwarded from memory; otherwise it streams.
  const paysWithCredits = !route.rails.x402 || rail.kind === 'credits'
  const body =
    paysWithCredits && request.headers.has('idempotency-key')
      ? await idempotentBody(request, route.maxBodyBytes)
      : undefined
  const accepted = await acceptPayment(context, rail, {
    micros,
    hold: () =>
      httpHoldRequest(
        route,
        micros,
        request.method,
        `${forwardPath}${context.url.search}`,
        body ?? null
      ),
    resource: () => httpResource(context),
    ask: 'Payment required: pay with x402 (PAYMENT-SIGNATURE)',
  })
  if (!accepted.ok) return httpRefusal(context, accepted.refusal)
  return servePaid(context, accepted.payment, body)
}

async function idempotentBody(
  request: Request,
  maxBodyBytes: number
): Promise<Uint8Array | undefined> {
  if (request.body === null) return undefined
  const read = await readBytesWithin(request, maxBodyBytes)
  if (read === null)
    throw new GateError(
      'body_too_large',
      `With an Idempotency-Key the body may be at most ${maxBodyBytes} bytes.`
    )
  return read
}

/** Forward a paid call and finish its payment by what the caller gets. */
async function servePaid(
  context: RouteContext,
  payment: Payment,
  body: Uint8Array | undefined
): Promise<Response> {
  let response: Response
  try {
    response = await callOrigin(context, { body, headers: payment.originHeaders() })
  } catch (error) {
    await payment.finish({ delivered: false })
    throw error
  }
  const served = response.status < 400
  if (payment.settles === 'before-delivery') {
    const end = await payment.finish({ delivered: served })
    if (end.kind === 'refused') {
      await response.body?.cancel()
      return httpRefusal(context, { rail: 'x402', refusal: end.refusal }, false)
    }
    return answer(response, payment, response.body)
  }
  if (!served) {
    void payment.finish({ delivered: false })
    return passThrough(response)
  }
  if (response.body === null) {
    void payment.finish({ delivered: true })
    return answer(response, payment, null)
  }
  const delivered = observeBody(response.body, {
    chunk: (bytes) => bytes,
    end: (how) => void payment.finish({ delivered: how === 'complete' }),
  })
  return answer(response, payment, delivered)
}

/** The origin's answer, with what the caller should know of its payment. */
function answer(response: Response, payment: Payment, body: ReadableStream | null): Response {
  const headers = downstreamResponseHeaders(response.headers)
  payment.decorate(headers)
  return new Response(body, { status: response.status, statusText: response.statusText, headers })
}
