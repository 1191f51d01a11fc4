/**
 * @module gate/http-x402
 * x402's answers on plain HTTP (transports-v2/http.md): the resource a payment
 * is for, and the 402 that asks for one (PAYMENT-REQUIRED), with the other ways
 * to pay in its body.
 */
import {
  encodeHeader,
  PAYMENT_REQUIRED_HEADER,
  PAYMENT_RESPONSE_HEADER,
  type ResourceInfo,
} from '../x402'
import type { RouteContext } from './http-route'
import type { Refusal } from './payment'
import type { X402Refusal } from './x402-payment'

/** The resource a plain HTTP route's payment is for. */
export function httpResource(context: RouteContext): ResourceInfo {
  const url = context.url
  return {
    url: `${url.origin}${url.pathname}`,
    description: context.route.description ?? `${context.request.method} ${context.route.path}`,
  }
}

/** The 402 (or 400/503) answer: PAYMENT-REQUIRED, and in the body the other ways to pay. */
export function x402RefusalResponse(refusal: X402Refusal, options: { credits: boolean }): Response {
  const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store' })
  if (refusal.status === 402) headers.set(PAYMENT_REQUIRED_HEADER, encodeHeader(refusal.required))
  if (refusal.settlement) headers.set(PAYMENT_RESPONSE_HEADER, encodeHeader(refusal.settlement))
  const body = {
    error: { code: refusal.reason, message: refusal.message, next: refusal.next },
    x402: refusal.required,
    ...(options.credits
      ? {
          credits: {
            accepted: true,
            howToPay: 'Or send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".',
          },
        }
      : {}),
  }
  return new Response(JSON.stringify(body), { status: refusal.status, headers })
}

/**
 * A refusal on a plain HTTP route: the credits rail's is thrown (the gate's error
 * answer, recorded by the handler); x402's is a 402 (or 400/503) with
 * PAYMENT-REQUIRED and, when the settlement itself was refused, PAYMENT-RESPONSE.
 * @param record false when the refusal ends a payment whose end usage was already told
 */
export function httpRefusal(context: RouteContext, refusal: Refusal, record = true): Response {
  if (refusal.rail === 'credits') throw refusal.error
  const response = x402RefusalResponse(refusal.refusal, { credits: context.route.rails.credits })
  return record ? context.usage.x402DeniedWith(refusal.refusal.reason, response) : response
}
