/**
 * @module sidecar/payments
 * Taking payment at check time, with the gate's own code. A credits hold, or an
 * x402 payment (verified with the facilitator, its authorization locked so no
 * other call can use it), is either settled now (`X-Pay-Settle: now`, for
 * proxies that send no follow-up) or left for the proxy's follow-up, sealed into
 * a reservation token: then the hold is charged, and the x402 payment settled on
 * chain, only once the origin has served the call.
 */
import { withRetries } from '../retry'
import type { Settles, UsageCall } from '../usage'
import type { Env } from '../env'
import { GateError } from '../errors'
import type { LedgerClient } from '../credits'
import { formatDollars } from '../money'
import type { X402Terms } from '../pricing'
import { encodeHeader, PAYMENT_RESPONSE_HEADER, type ResourceInfo } from '../x402'
import { HOLD_MARGIN_MS, X402Refusal, acceptX402, finishX402, holdCredits, holdHeaders, paidHeaders, serverTiming, type HoldRequest, type X402Attempt } from '../gate'
import { sealReservation, sealX402Reservation } from './reservation-token'

/** The recorder is told how the hold ended; the sidecar settles it itself (now, or in /__pay/settle). */
const NOT_SETTLED_HERE: Settles = { settle: () => undefined, served: () => undefined, failed: () => undefined }

/** The header carrying the reservation token, from the check to the proxy and back. */
export const RESERVATION_HEADER = 'x-pay-reservation'

export interface CheckEnv {
  env: Env
  secret: string
  /** Charge at check time: the proxy sends no follow-up. */
  settleNow: boolean
  waitUntil: (promise: Promise<unknown>) => void
}

/**
 * Hold the price on the caller's key and either charge it now or hand out a
 * token for the follow-up. Returns the headers of the 200 answer.
 * @throws GateError the refusal, exactly as the gate gives it
 */
export async function payWithCredits(check: CheckEnv, ledger: LedgerClient, headers: Headers, request: HoldRequest, usage: UsageCall): Promise<Record<string, string>> {
  const hold = check.settleNow ? await chargeNow(check, ledger, headers, request) : await holdCredits(ledger, headers, request, check.waitUntil)
  // The check's answer is what the caller's call was given; the origin's own status is not seen here.
  usage.upstream({ status: 200 }, null)
  const record = usage.credits(hold, NOT_SETTLED_HERE)
  const out: Record<string, string> = { ...holdHeaders(hold), 'x-pay-verified': 'true', 'x-pay-rail': 'credits' }
  if (hold.reservationId === null) {
    record.served()
    return { ...out, 'x-pay-settlement': 'replayed' }
  }
  if (hold.charged) {
    record.served()
    return { ...out, 'x-pay-settlement': 'charged' }
  }
  if (check.settleNow) {
    // Held but not charged (it always is, unless the account refused the charge): settle it, or refuse the call.
    const results = await ledger.settleNow(hold.keyHash, [{ reservationId: hold.reservationId, amount: hold.amount, calls: hold.charges.length }])
    const result = Array.isArray(results) ? results[0] : undefined
    // This hold is only ever settled here, in full: "already settled" means an earlier attempt
    // whose reply was lost charged it, so the call goes through (refusing it would charge an unserved call).
    const charged = result?.ok === true || (result?.ok === false && result.reason === 'already_settled')
    if (!charged) {
      // Not charged (or not known to be): the call does not go through; the hold expires.
      record.failed()
      throw new GateError('ledger_unavailable', 'Payments cannot be checked right now; retry shortly.', { headers: { 'retry-after': '1' } })
    }
    record.served()
    const available = result?.ok ? result.available : hold.available
    return { ...out, 'x-credits-remaining': formatDollars(available), 'x-pay-settlement': 'charged' }
  }
  const token = await sealReservation(check.secret, {
    keyHash: hold.keyHash,
    reservationId: hold.reservationId,
    amount: hold.amount,
    calls: hold.charges.length,
    keyId: hold.keyId,
    usage: usage.snapshot(),
    // No later than the hold's own expiry: a token never outlives its hold.
    expiresAt: Date.now() + request.timeoutMs + HOLD_MARGIN_MS,
  })
  return { ...out, [RESERVATION_HEADER]: token, 'x-pay-settlement': 'deferred' }
}

/** Tries at charging a settle-now check while the account's reply is lost. */
const CHARGE_NOW_ATTEMPTS = 3

/**
 * Hold and charge in one transaction, one round trip. The charge may be made and
 * its reply lost, so a try that gets no answer is sent again with the same
 * attempt id: the account then answers with the charge it made, or makes it
 * now. Refused only when every try goes unanswered (then, as with any hold, what
 * the account did is not known to the caller, and the call does not go through).
 */
async function chargeNow(check: CheckEnv, ledger: LedgerClient, headers: Headers, request: HoldRequest) {
  const attempt = { ...request, chargeNow: true, attempt: crypto.randomUUID() }
  const unanswered = (error: unknown) => error instanceof GateError && error.code === 'ledger_unavailable'
  const tried = await withRetries(() => holdCredits(ledger, headers, attempt, check.waitUntil), {
    attempts: CHARGE_NOW_ATTEMPTS,
    baseMs: 50,
    retryable: unanswered,
  })
  if (tried.ok) return tried.value
  // Unlike a hold, which expires uncharged, a charge may have been made: do not say it was not.
  if (unanswered(tried.error)) throw new GateError('ledger_unavailable', 'Payments cannot be checked right now; retry shortly.', { headers: { 'retry-after': '1' } })
  throw tried.error
}

export type X402CheckResult = { ok: true; headers: Record<string, string> } | { ok: false; refusal: X402Refusal }

/**
 * Accept an x402 payment, and settle it now (`X-Pay-Settle: now`) or hand out a
 * token for the follow-up to settle it once the origin has served the call.
 */
export async function payWithX402(
  check: CheckEnv,
  terms: X402Terms,
  micros: number,
  resource: ResourceInfo,
  payment: unknown,
  usage: UsageCall,
  callTimeoutMs: number
): Promise<X402CheckResult> {
  const { env } = check
  let attempt
  // As with credits, the caller's call is let through with the check's 200; the origin is not seen here.
  usage.upstream({ status: 200 }, null)
  const flight = check.settleNow ? undefined : crypto.randomUUID()
  try {
    // Deferred: the usage event is written by the follow-up, which knows how the call ended.
    attempt = await acceptX402(env, terms, micros, resource, payment, flight ? undefined : usage, flight, flight ? deferredSettleBy(terms, callTimeoutMs) : undefined)
  } catch (error) {
    if (error instanceof X402Refusal) return { ok: false, refusal: error }
    throw error
  }
  if (flight) return { ok: true, headers: await deferX402(check, attempt, flight, resource, usage) }
  const finish = await finishX402(env, attempt, true, resource)
  const headers: Record<string, string> = { ...paidHeaders(attempt), 'x-pay-settlement': 'charged' }
  switch (finish.kind) {
    case 'refused':
      return { ok: false, refusal: finish.refusal }
    case 'paid':
      headers[PAYMENT_RESPONSE_HEADER.toLowerCase()] = encodeHeader(finish.settlement)
      if (finish.settlement.extra?.devMode) headers['x-pay-dev-mode'] = 'unsettled'
      break
    case 'served-unpaid':
    case 'not-served':
      headers['x-pay-settlement'] = 'unsettled'
      break
  }
  const timing = serverTiming(attempt)
  if (timing) headers['server-timing'] = timing
  return { ok: true, headers }
}

/** Time for the proxy's follow-up after the origin's answer, and for the settle itself. */
const FOLLOW_UP_MARGIN_MS = 10_000
/** How much sooner than maxTimeoutSeconds a client's authorization may expire (it signed a moment ago). */
const SIGNING_SLACK_MS = 10_000

/**
 * When a deferred payment's follow-up may come at the latest: after the call's
 * own timeout and a margin. Never later than a client that signs for the full
 * `maxTimeoutSeconds` is valid, less some slack: a compliant payment is never
 * refused; the operator keeps the route's timeout below maxTimeoutSeconds.
 */
function deferredSettleBy(terms: X402Terms, callTimeoutMs: number): number {
  const now = Date.now()
  return Math.min(now + callTimeoutMs + FOLLOW_UP_MARGIN_MS, now + terms.maxTimeoutSeconds * 1000 - SIGNING_SLACK_MS)
}

/** The 200 answer's headers for a payment the follow-up settles: no PAYMENT-RESPONSE yet (nothing is settled). */
async function deferX402(check: CheckEnv, attempt: X402Attempt, flight: string, resource: ResourceInfo, usage: UsageCall): Promise<Record<string, string>> {
  const { usage: _recorder, timings: _timings, ...payment } = attempt
  const token = await sealX402Reservation(check.secret, {
    payment: { ...payment, flight },
    resource,
    // The facilitator cannot settle the authorization after its validBefore.
    expiresAt: attempt.validBefore * 1000,
    usage: usage.snapshot(),
  })
  const headers: Record<string, string> = { ...paidHeaders(attempt), [RESERVATION_HEADER]: token, 'x-pay-settlement': 'deferred' }
  if (attempt.mode === 'dev') headers['x-pay-dev-mode'] = 'unsettled'
  const timing = serverTiming(attempt)
  if (timing) headers['server-timing'] = timing
  return headers
}
