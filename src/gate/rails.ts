/**
 * @module gate/rails
 * Which way a caller is paying: an x402 payment wins when the route takes x402
 * (it is an explicit offer to pay this call), then an API key when the route takes
 * credits. With neither, the caller is told how they can pay.
 */
import { presentedKey, type Caller } from '../credits'
import type { PaymentRails } from '../pricing'
import { decodeHeader, PAYMENT_SIGNATURE_HEADER } from '../x402'

export type Rail = { kind: 'x402'; payment: unknown } | { kind: 'credits' } | { kind: 'none' }

/** The caller's x402 payment from the PAYMENT-SIGNATURE header, decoded (null if undecodable). */
export function headerPayment(headers: Headers): { present: boolean; decoded: unknown } {
  const raw = headers.get(PAYMENT_SIGNATURE_HEADER)
  return raw === null
    ? { present: false, decoded: undefined }
    : { present: true, decoded: decodeHeader(raw) }
}

/**
 * Choose the rail for a request.
 * @param payment an x402 payment found elsewhere (MCP `_meta`), if any
 * @param caller who pays with credits: a key in the headers, or an OAuth token src/oauth validated
 */
export function chooseRail(
  headers: Headers,
  rails: PaymentRails,
  payment?: { present: boolean; decoded: unknown },
  caller: Caller = presentedKey(headers)
): Rail {
  const offered = payment?.present ? payment : headerPayment(headers)
  if (rails.x402 && offered.present) return { kind: 'x402', payment: offered.decoded }
  if (rails.credits && caller.kind !== 'none') return { kind: 'credits' }
  return { kind: 'none' }
}
