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
import type { UsageCall } from '../usage'
import type { Env } from '../env'
import { GateError } from '../errors'
import type { LedgerClient } from '../credits'
import { formatDollars } from '../money'
import type { X402Terms } from '../pricing'
import type { ResourceInfo } from '../x402'
import {
  HOLD_MARGIN_MS,
  acceptCredits,
  acceptX402Payment,
  holdHeaders,
  paidHeaders,
  serverTiming,
  type CreditsPayment,
  type HoldRequest,
  type X402Attempt,
  type X402Refusal,
} from '../gate'
import { sealReservation, sealX402Reservation } from './reservation-token'

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
export async function payWithCredits(
  check: CheckEnv,
  ledger: LedgerClient,
  headers: Headers,
  request: HoldRequest,
  usage: UsageCall
): Promise<Record<string, string>> {
  const scope = { ledger, waitUntil: check.waitUntil, usage }
  // The check's answer is what the caller's call was given; the origin's own status is not seen here.
  usage.upstream({ status: 200 }, null)
  const payment = check.settleNow
    ? await chargeNow(scope, headers, request)
    : await hold(scope, headers, request)
  const { hold: held } = payment
  const out: Record<string, string> = { ...holdHeaders(held), ...payment.originHeaders() }
  // A replay (paid before) and a hold charged as it was taken: delivered, with nothing left to settle.
  if (held.reservationId === null) {
    void payment.finish({ delivered: true })
    return { ...out, 'x-pay-settlement': 'replayed' }
  }
  if (held.charged) {
    void payment.finish({ delivered: true })
    return { ...out, 'x-pay-settlement': 'charged' }
  }
  if (check.settleNow) {
    // Held but not charged (it always is, unless the account refused the charge): settle it, or refuse the call.
    const results = await ledger.settleNow(held.keyHash, [
      { reservationId: held.reservationId, amount: held.amount, calls: held.charges.length },
    ])
    const result = Array.isArray(results) ? results[0] : undefined
    // This hold is only ever settled here, in full: "already settled" means an earlier attempt
    // whose reply was lost charged it, so the call goes through (refusing it would charge an unserved call).
    const charged =
      result?.ok === true || (result?.ok === false && result.reason === 'already_settled')
    if (!charged) {
      // Not charged (or not known to be): the call does not go through; the hold expires.
      usage.settled(held, 0, 0)
      throw new GateError(
        'ledger_unavailable',
        'Payments cannot be checked right now; retry shortly.',
        { headers: { 'retry-after': '1' } }
      )
    }
    usage.settled(held, held.amount, held.charges.length)
    const available = result?.ok ? result.available : held.available
    return {
      ...out,
      'x-credits-remaining': formatDollars(available),
      'x-pay-settlement': 'charged',
    }
  }
  // Settled by the follow-up (sidecar/settle), which records its usage event.
  const token = await sealReservation(check.secret, {
    keyHash: held.keyHash,
    reservationId: held.reservationId,
    amount: held.amount,
    calls: held.charges.length,
    keyId: held.keyId,
    usage: usage.snapshot(),
    // No later than the hold's own expiry: a token never outlives its hold.
    expiresAt: Date.now() + request.timeoutMs + HOLD_MARGIN_MS,
  })
  return { ...out, [RESERVATION_HEADER]: token, 'x-pay-settlement': 'deferred' }
}

type CreditsCheck = Parameters<typeof acceptCredits>[0]

/** Hold the price on the caller's key, or throw the account's refusal. */
async function hold(
  scope: CreditsCheck,
  headers: Headers,
  request: HoldRequest
): Promise<CreditsPayment> {
  const accepted = await acceptCredits(scope, headers, request)
  if (!accepted.ok)
    throw accepted.refusal.rail === 'credits'
      ? accepted.refusal.error
      : new Error('not a credits refusal')
  return accepted.payment
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
async function chargeNow(
  scope: CreditsCheck,
  headers: Headers,
  request: HoldRequest
): Promise<CreditsPayment> {
  const attempt = { ...request, chargeNow: true, attempt: crypto.randomUUID() }
  const unanswered = (error: unknown) =>
    error instanceof GateError && error.code === 'ledger_unavailable'
  const tried = await withRetries(() => hold(scope, headers, attempt), {
    attempts: CHARGE_NOW_ATTEMPTS,
    baseMs: 50,
    retryable: unanswered,
  })
  if (tried.ok) return tried.value
  // Unlike a hold, which expires uncharged, a charge may have been made: do not say it was not.
  if (unanswered(tried.error))
    throw new GateError(
      'ledger_unavailable',
      'Payments cannot be checked right now; retry shortly.',
      { headers: { 'retry-after': '1' } }
    )
  throw tried.error
}

export type X402CheckResult =
  { ok: true; headers: Record<string, string> } | { ok: false; refusal: X402Refusal }

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
  // As with credits, the caller's call is let through with the check's 200; the origin is not seen here.
  usage.upstream({ status: 200 }, null)
  const flight = check.settleNow ? undefined : crypto.randomUUID()
  // Deferred: the usage event is written by the follow-up, which knows how the call ended.
  const scope = { env: check.env, ...(flight ? {} : { usage }) }
  const accepted = await acceptX402Payment(
    scope,
    terms,
    micros,
    resource,
    payment,
    flight ? { flight, settleBy: deferredSettleBy(terms, callTimeoutMs) } : {}
  )
  if (!accepted.ok) {
    if (accepted.refusal.rail === 'x402') return { ok: false, refusal: accepted.refusal.refusal }
    throw accepted.refusal.error
  }
  const paid = accepted.payment
  if (flight)
    return { ok: true, headers: await deferX402(check, paid.attempt, flight, resource, usage) }
  const end = await paid.finish({ delivered: true })
  if (end.kind === 'refused') return { ok: false, refusal: end.refusal }
  const answer = new Headers()
  paid.decorate(answer)
  answer.delete('cache-control')
  const headers: Record<string, string> = {
    ...paid.originHeaders(),
    ...Object.fromEntries(answer),
    'x-pay-settlement': end.kind === 'paid' ? 'charged' : 'unsettled',
  }
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
  return Math.min(
    now + callTimeoutMs + FOLLOW_UP_MARGIN_MS,
    now + terms.maxTimeoutSeconds * 1000 - SIGNING_SLACK_MS
  )
}

/** The 200 answer's headers for a payment the follow-up settles: no PAYMENT-RESPONSE yet (nothing is settled). */
async function deferX402(
  check: CheckEnv,
  attempt: X402Attempt,
  flight: string,
  resource: ResourceInfo,
  usage: UsageCall
): Promise<Record<string, string>> {
  const { timings: _timings, ...payment } = attempt
  const token = await sealX402Reservation(check.secret, {
    payment: { ...payment, flight },
    resource,
    // The facilitator cannot settle the authorization after its validBefore.
    expiresAt: attempt.validBefore * 1000,
    usage: usage.snapshot(),
  })
  const headers: Record<string, string> = {
    ...paidHeaders(attempt),
    [RESERVATION_HEADER]: token,
    'x-pay-settlement': 'deferred',
  }
  if (attempt.mode === 'dev') headers['x-pay-dev-mode'] = 'unsettled'
  const timing = serverTiming(attempt)
  if (timing) headers['server-timing'] = timing
  return headers
}
