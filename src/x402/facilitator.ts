/**
 * @module x402/facilitator
 * The facilitator's HTTP API (x402-specification-v2 §7): POST /verify and
 * POST /settle with `{ x402Version, paymentPayload, paymentRequirements }`.
 * Every call has a timeout and every answer is validated; what cannot be read is
 * "unavailable", and a settle that timed out is "indeterminate" (it may still land).
 */
import {
  SettleResponseSchema,
  VerifyResponseSchema,
  type PaymentPayload,
  type PaymentRequirements,
} from './wire'

export interface FacilitatorOptions {
  url: string
  /** Extra headers on every call (the operator's facilitator credential). */
  headers?: Record<string, string>
  verifyTimeoutMs: number
  settleTimeoutMs: number
}

export type VerifyOutcome =
  | { kind: 'valid'; payer: string | undefined }
  | { kind: 'invalid'; reason: string; message?: string; payer?: string }
  | { kind: 'unavailable'; message: string }

export type SettleOutcome =
  | { kind: 'settled'; transaction: string; payer: string | undefined; network: string }
  | { kind: 'failed'; reason: string; message?: string }
  | { kind: 'unavailable'; message: string }
  | { kind: 'indeterminate'; message: string }

type Call =
  { ok: true; status: number; body: unknown } | { ok: false; timedOut: boolean; message: string }

async function post(
  options: FacilitatorOptions,
  path: string,
  body: unknown,
  timeoutMs: number
): Promise<Call> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), timeoutMs)
  try {
    const response = await fetch(`${options.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...options.headers,
      },
      body: JSON.stringify(body),
      signal: abort.signal,
    })
    const text = await response.text()
    let parsed: unknown = null
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON: judged by status below
    }
    return { ok: true, status: response.status, body: parsed }
  } catch (error) {
    return {
      ok: false,
      timedOut: abort.signal.aborted,
      message: abort.signal.aborted ? `no answer within ${timeoutMs} ms` : (error as Error).message,
    }
  } finally {
    clearTimeout(timer)
  }
}

/** A 4xx other than timeout or rate limit: the facilitator will not take this payment. */
function refusedToRead(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429
}

const request = (payload: PaymentPayload, requirements: PaymentRequirements) => ({
  x402Version: payload.x402Version,
  paymentPayload: payload,
  paymentRequirements: requirements,
})

/** Ask the facilitator whether a payment is valid. */
export async function verifyPayment(
  options: FacilitatorOptions,
  payload: PaymentPayload,
  requirements: PaymentRequirements
): Promise<VerifyOutcome> {
  const call = await post(
    options,
    '/verify',
    request(payload, requirements),
    options.verifyTimeoutMs
  )
  if (!call.ok) return { kind: 'unavailable', message: call.message }
  const answer = VerifyResponseSchema.safeParse(call.body)
  // A non-2xx answer that still says isValid (x402 SDK VerifyError) is an answer.
  if (!answer.success) {
    // Any other 4xx is the facilitator refusing to read this payment: a refusal,
    // never "unavailable", or failMode open would serve a payment nobody accepted.
    if (refusedToRead(call.status))
      return {
        kind: 'invalid',
        reason: 'invalid_payload',
        message: `the facilitator refused the payment (${call.status})`,
      }
    return {
      kind: 'unavailable',
      message: `facilitator answered ${call.status} without a verify result`,
    }
  }
  if (answer.data.isValid) return { kind: 'valid', payer: answer.data.payer }
  return {
    kind: 'invalid',
    reason: answer.data.invalidReason ?? 'invalid_payment',
    message: answer.data.invalidMessage,
    payer: answer.data.payer,
  }
}

/** Ask the facilitator to settle a payment on chain. */
export async function settlePayment(
  options: FacilitatorOptions,
  payload: PaymentPayload,
  requirements: PaymentRequirements
): Promise<SettleOutcome> {
  const call = await post(
    options,
    '/settle',
    request(payload, requirements),
    options.settleTimeoutMs
  )
  if (!call.ok) {
    return call.timedOut
      ? { kind: 'indeterminate', message: call.message }
      : { kind: 'unavailable', message: call.message }
  }
  const answer = SettleResponseSchema.safeParse(call.body)
  if (!answer.success) {
    // A 5xx may have happened after the transaction was sent: we cannot know.
    if (call.status >= 500)
      return { kind: 'indeterminate', message: `facilitator answered ${call.status}` }
    if (refusedToRead(call.status))
      return {
        kind: 'failed',
        reason: 'invalid_payload',
        message: `the facilitator refused the payment (${call.status})`,
      }
    return {
      kind: 'unavailable',
      message: `facilitator answered ${call.status} without a settle result`,
    }
  }
  if (answer.data.success && answer.data.transaction) {
    return {
      kind: 'settled',
      transaction: answer.data.transaction,
      payer: answer.data.payer,
      network: answer.data.network,
    }
  }
  return {
    kind: 'failed',
    reason: answer.data.errorReason ?? 'unexpected_settle_error',
    message: answer.data.errorMessage,
  }
}
