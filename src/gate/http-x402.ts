/**
 * @module gate/http-x402
 * x402 on plain HTTP routes (transports-v2/http.md). Unpaid: 402 with
 * PAYMENT-REQUIRED. Paid: accept, forward, and settle only if the origin
 * answered below 400. Settlement happens when the origin's headers arrive and
 * before a single byte of the body is sent, so paid content is never given
 * away unsettled (SSE included), and a call that failed before it started
 * streaming is never paid for. A failed settlement gets the payment error, not
 * the content.
 */
import type { X402Terms } from '../pricing'
import { downstreamResponseHeaders } from '../proxy'
import { encodeHeader, PAYMENT_REQUIRED_HEADER, PAYMENT_RESPONSE_HEADER, V1_PAYMENT_HEADER, type PaymentRequired, type ResourceInfo } from '../x402'
import type { RouteContext } from './http-route'
import { callOrigin } from './upstream'
import { finishX402 } from './x402-finish'
import { acceptX402, paidHeaders, requiredFor, serverTiming, X402Refusal } from './x402-payment'

/** The resource a plain HTTP route's payment is for. */
export function httpResource(context: RouteContext): ResourceInfo {
  const url = context.url
  return { url: `${url.origin}${url.pathname}`, description: context.route.description ?? `${context.request.method} ${context.route.path}` }
}

/** The 402 (or 400/503) answer: PAYMENT-REQUIRED, and in the body the other ways to pay. */
export function x402RefusalResponse(
  status: number,
  code: string,
  message: string,
  required: PaymentRequired,
  options: { credits: boolean; settlement?: unknown }
): Response {
  const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store' })
  if (status === 402) headers.set(PAYMENT_REQUIRED_HEADER, encodeHeader(required))
  if (options.settlement) headers.set(PAYMENT_RESPONSE_HEADER, encodeHeader(options.settlement))
  const body = {
    error: { code, message },
    x402: required,
    ...(options.credits
      ? { credits: { accepted: true, howToPay: 'Or send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".' } }
      : {}),
  }
  return new Response(JSON.stringify(body), { status, headers })
}

/**
 * Why a call without PAYMENT-SIGNATURE is refused: payment required, or, when it carries x402 v1's
 * X-PAYMENT (x402-fetch 1.x), that v1 is not spoken here. Either way the 402 offers the v2 payment
 * a client can upgrade to; a v1 payment is never read, so nothing of it is taken.
 */
export function unpaidRefusal(headers: Headers, ask: string): { code: string; message: string } {
  if (!headers.has(V1_PAYMENT_HEADER)) return { code: 'payment_required', message: ask }
  return {
    // x402-specification-v2 §9: the protocol version is not supported.
    code: 'invalid_x402_version',
    message: 'x402 v1 (X-PAYMENT) is not supported: this gate speaks x402 v2; send the payment in PAYMENT-SIGNATURE (x402 v2)',
  }
}

/** An unpaid call to a route that takes x402. */
export function paymentRequiredResponse(context: RouteContext, terms: X402Terms, micros: number): Response {
  const { code, message } = unpaidRefusal(context.request.headers, 'Payment required: pay with x402 (PAYMENT-SIGNATURE)')
  return context.usage.x402DeniedWith(code, x402RefusalResponse(402, code, message, requiredFor(terms, micros, httpResource(context), message), {
    credits: context.route.rails.credits,
  }))
}

export async function serveHttpWithX402(context: RouteContext, terms: X402Terms, micros: number, payment: unknown): Promise<Response> {
  const { env, route } = context
  const resource = httpResource(context)
  const credits = route.rails.credits
  let attempt
  try {
    attempt = await acceptX402(env, terms, micros, resource, payment, context.usage)
  } catch (error) {
    if (error instanceof X402Refusal) return context.usage.x402DeniedWith(error.reason, x402RefusalResponse(error.status, error.reason, error.message, error.required, { credits }))
    throw error
  }
  let response: Response
  const originStarted = Date.now()
  try {
    response = await callOrigin(context, { headers: paidHeaders(attempt) })
  } catch (error) {
    await finishX402(env, attempt, false, resource)
    throw error
  }
  const originMs = Date.now() - originStarted
  const served = response.status < 400
  const finish = await finishX402(env, attempt, served, resource)
  const headers = downstreamResponseHeaders(response.headers)
  headers.append('server-timing', serverTiming(attempt, originMs))
  switch (finish.kind) {
    case 'not-served':
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
    case 'refused': {
      await response.body?.cancel()
      const { refusal } = finish
      return x402RefusalResponse(refusal.status, refusal.reason, refusal.message, refusal.required, { credits, settlement: refusal.settlement })
    }
    case 'served-unpaid':
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
    case 'paid':
      headers.set(PAYMENT_RESPONSE_HEADER, encodeHeader(finish.settlement))
      // x402 SDK: a paid answer is private to its payer.
      headers.set('cache-control', mergePrivate(headers.get('cache-control')))
      if (finish.settlement.extra?.devMode) headers.set('x-pay-dev-mode', 'unsettled')
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  }
}

function mergePrivate(cacheControl: string | null): string {
  if (!cacheControl) return 'private'
  const parts = cacheControl.split(',').map((part) => part.trim()).filter((part) => part && !/^public$/i.test(part))
  return parts.some((part) => /^private$/i.test(part)) ? parts.join(', ') : ['private', ...parts].join(', ')
}
