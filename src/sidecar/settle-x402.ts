/**
 * @module sidecar/settle-x402
 * The follow-up's part for an x402 payment accepted at check time: settle it on
 * chain with the facilitator when the origin served the call, or release its
 * authorization (the payer may use it again) when it did not. The payer's lock
 * lets one follow-up of the check's own flight at a time do this (a repeated or
 * concurrent one is told to come back), under a lease: a follow-up that stops
 * midway (its isolate gone) is taken over by the next one once the lease has run
 * out, and its settlement, if it landed, is counted once (the chain refuses the
 * used nonce to the second settle; see finishClaimedX402).
 *
 * The content has already been delivered when this runs: a settlement that
 * fails now (the payer's funds moved since the facilitator verified them) is a
 * call served unpaid. It is recorded as such, in the lock and the usage event,
 * and logged; the answer says so, and the proxy has nothing more to do.
 */
import type { Env } from '../env'
import { GateError } from '../errors'
import { finishClaimedX402 } from '../gate'
import { UsageCall, type UsageSink } from '../usage'
import { claimAuthorization, unclaimAuthorization } from '../x402'
import type { X402Reservation } from './reservation-token'

/** A settle that got no answer: it may still land on chain. */
const INDETERMINATE = 'settlement_indeterminate'
/** A facilitator that could not be reached: nothing was asked of the chain. */
const UNAVAILABLE = 'facilitator_unavailable'

/** How the proxy said the call ended. */
export interface SettleOutcome {
  served: boolean
  status: number | null
}

/** The recorder of a call settled here, told what the proxy saw of the origin. */
export function settledCall(
  sink: UsageSink | null,
  reservation: { usage?: X402Reservation['usage'] },
  outcome: SettleOutcome
): UsageCall | undefined {
  if (!reservation.usage) return undefined
  const { served, status } = outcome
  const call = UsageCall.resume(sink, reservation.usage)
  // The proxy's follow-up says how the origin answered (or only whether it served); its latency is not known here.
  // A 200 with a failed outcome is an answer broken off: refunded with its status, as the gate records it.
  call.upstream(
    status !== null ? { status } : served ? { status: 200 } : { failure: 'upstream_unreachable' },
    null
  )
  return call
}

/**
 * How long a follow-up's claim on a payment lasts: its settle's timeout, and a
 * margin for the lock's round trips around it. A claim older than that belongs
 * to a follow-up that stopped (its isolate gone, or its put-back lost), and the
 * next follow-up takes it over.
 */
const CLAIM_MARGIN_MS = 10_000

/** Settle or release a deferred x402 payment; returns the follow-up's answer body. */
export async function settleDeferredX402(
  env: Env,
  reservation: X402Reservation,
  outcome: SettleOutcome,
  sink: UsageSink | null
): Promise<Record<string, unknown>> {
  const { payment } = reservation
  const lease = payment.terms.facilitator.settleTimeoutMs + CLAIM_MARGIN_MS
  const claim = await claimAuthorization(
    env.X402_LOCKS,
    payment.lock,
    payment.nonce,
    payment.flight,
    lease
  )
  if (claim === 'unavailable') {
    throw new GateError(
      'ledger_unavailable',
      'The payment could not be settled now; send the follow-up again.',
      { headers: { 'retry-after': '1' } }
    )
  }
  if (claim.kind === 'finished') return { settled: 'already_settled' }
  if (claim.kind === 'settling') {
    // Not settled yet: if the follow-up settling it stops, this one, sent again after the lease, takes over.
    throw new GateError(
      'settlement_in_progress',
      'Another follow-up is settling this payment; send this one again later.',
      {
        headers: { 'retry-after': String(Math.ceil(claim.retryAfterMs / 1000)) },
      }
    )
  }
  const claimed = { id: claim.claim, retaken: claim.retaken }
  const { finish: ending, record } = await finishClaimedX402(
    env,
    { ...payment, timings: {} },
    outcome.served,
    reservation.resource,
    claimed
  )
  if (ending.kind === 'served-unpaid' && ending.reason === UNAVAILABLE) {
    // Nothing was asked of the chain: put the claim back, so the same follow-up sent again settles it.
    await unclaimAuthorization(env.X402_LOCKS, payment.lock, payment.nonce, claimed.id)
    throw new GateError(
      'ledger_unavailable',
      'The payment facilitator cannot be reached; send the follow-up again.',
      { headers: { 'retry-after': '1' } }
    )
  }
  // Taken over meanwhile (this follow-up outlived its lease): the one that took it records the payment.
  if (record === 'superseded') return { settled: 'already_settled' }
  if (record === 'unrecorded') {
    // Still claimed by this follow-up: sent again, after the lease, it is taken over and recorded once.
    throw new GateError(
      'ledger_unavailable',
      'The payment’s end could not be recorded now; send the follow-up again.',
      { headers: { 'retry-after': String(Math.ceil(lease / 1000)) } }
    )
  }
  if (ending.kind === 'served-unpaid')
    console.warn(
      `pay-gate: a sidecar call paid with x402 was served, then its settlement failed: ${ending.reason}`
    )
  settledCall(sink, reservation, outcome)?.x402Finished(ending, payment.payer, payment.micros ?? 0)
  switch (ending.kind) {
    case 'refused':
      // Not given when the answer was delivered; a refusal would have withheld it.
      return { settled: 'unpaid', reason: ending.refusal.reason }
    case 'paid': {
      const { transaction, network, extra } = ending.settlement
      return {
        settled: 'charged',
        transaction,
        network,
        payer: payment.payer,
        ...(extra?.settledBeforeRetake ? { reason: 'settled_before_retake' } : {}),
      }
    }
    case 'not-served':
      return { settled: 'released' }
    case 'served-unpaid':
      return {
        settled: ending.reason === INDETERMINATE ? 'indeterminate' : 'unpaid',
        reason: ending.reason,
      }
  }
}
