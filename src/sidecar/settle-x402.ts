/**
 * @module sidecar/settle-x402
 * The follow-up's part for an x402 payment accepted at check time: settle it on
 * chain with the facilitator when the origin served the call, or release its
 * authorization (the payer may use it again) when it did not. The payer's lock
 * lets exactly one follow-up of the check's own flight do this, so a repeated or
 * concurrent follow-up never settles twice.
 *
 * The content has already been delivered when this runs: a settlement that
 * fails now (the payer's funds moved since the facilitator verified them) is a
 * call served unpaid. It is recorded as such, in the lock and the usage event,
 * and logged; the answer says so, and the proxy has nothing more to do.
 */
import type { Env } from '../env'
import { GateError } from '../errors'
import { finishX402 } from '../gate/x402-payment'
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
export function settledCall(sink: UsageSink | null, reservation: { usage?: X402Reservation['usage'] }, outcome: SettleOutcome): UsageCall | undefined {
  if (!reservation.usage) return undefined
  const { served, status } = outcome
  const call = UsageCall.resume(sink, reservation.usage)
  // The proxy's follow-up says how the origin answered (or only whether it served); its latency is not known here.
  // A 200 with a failed outcome is an answer broken off: refunded with its status, as the gate records it.
  call.upstream(status !== null ? { status } : served ? { status: 200 } : { failure: 'upstream_unreachable' }, null)
  return call
}

/** Settle or release a deferred x402 payment; returns the follow-up's answer body. */
export async function settleDeferredX402(env: Env, reservation: X402Reservation, outcome: SettleOutcome, sink: UsageSink | null): Promise<Record<string, unknown>> {
  const { payment } = reservation
  const claim = await claimAuthorization(env.X402_LOCKS, payment.lock, payment.nonce, payment.flight)
  if (claim === 'unavailable') {
    throw new GateError('ledger_unavailable', 'The payment could not be settled now; send the follow-up again.', { headers: { 'retry-after': '1' } })
  }
  if (claim === 'finished') return { settled: 'already_settled' }
  const ending = await finishX402(env, { ...payment, timings: {} }, outcome.served, reservation.resource, { delivered: true })
  if (ending.kind === 'served-unpaid' && ending.reason === UNAVAILABLE) {
    // Nothing was asked of the chain: put the claim back, so the same follow-up sent again settles it.
    await unclaimAuthorization(env.X402_LOCKS, payment.lock, payment.nonce, payment.flight)
    throw new GateError('ledger_unavailable', 'The payment facilitator cannot be reached; send the follow-up again.', { headers: { 'retry-after': '1' } })
  }
  if (ending.kind === 'served-unpaid') console.warn(`pay-gate: a sidecar call paid with x402 was served, then its settlement failed: ${ending.reason}`)
  settledCall(sink, reservation, outcome)?.x402Finished(ending, payment.payer, payment.micros ?? 0)
  switch (ending.kind) {
    case 'refused':
      // Not given when the answer was delivered; a refusal would have withheld it.
      return { settled: 'unpaid', reason: ending.refusal.reason }
    case 'paid':
      return { settled: 'charged', transaction: ending.settlement.transaction, network: ending.settlement.network, payer: payment.payer }
    case 'not-served':
      return { settled: 'released' }
    case 'served-unpaid':
      return { settled: ending.reason === INDETERMINATE ? 'indeterminate' : 'unpaid', reason: ending.reason }
  }
}
