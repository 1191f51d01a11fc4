/**
 * @module gate/x402-finish
 * Finishing an accepted x402 payment once the origin has answered: settle only
 * when the call was served, record every end in the payer's lock (under a claim
 * when the settlement was deferred: a sidecar follow-up, a resumed MCP stream).
 */
import type { Env } from '../env'
import {
  finishAuthorization,
  settlePayment,
  type FinishRecord,
  type PaymentState,
  type ResourceInfo,
  type SettlementResponse,
} from '../x402'
import { asked, facilitatorOptions, X402Refusal, type X402Attempt } from './x402-payment'

export type X402Finish =
  | { kind: 'paid'; settlement: SettlementResponse }
  | { kind: 'served-unpaid'; reason: string }
  | { kind: 'not-served' }
  | { kind: 'refused'; refusal: X402Refusal }

/**
 * A deferred settlement's claim (a sidecar's follow-up, see PaymentLock.claim).
 * The answer has already gone out: a settlement that fails leaves the call
 * served unpaid, recorded so in one write; one the facilitator could not be
 * asked about is not recorded, and the payment stays claimed for the caller to
 * put back and try again. Every end is recorded under the claim only.
 */
export interface SettleClaim {
  id: string
  /** Taken over from a follow-up that stopped mid-settlement, which may have settled it on chain first. */
  retaken: boolean
}

/** The end of a deferred settlement, and whether it was recorded under its claim. */
export interface ClaimedFinish {
  finish: X402Finish
  record: FinishRecord
}

/** What a retaken payment's settlement that had already landed is recorded with (no transaction is known). */
const SETTLED_BEFORE_RETAKE = 'settled_before_retake'

/** The facilitator's reason for an authorization whose nonce the chain shows used (`invalid_exact_evm_nonce_already_used`). */
const NONCE_USED = /nonce.*used/i

/**
 * Finish an accepted payment once the origin has answered.
 * @param served whether the origin served the call successfully
 */
export async function finishX402(
  env: Env,
  attempt: X402Attempt,
  served: boolean,
  resource: ResourceInfo
): Promise<X402Finish> {
  return (await endX402(env, attempt, served, resource)).finish
}

/** Finish a deferred payment whose answer was delivered, under its claim (see SettleClaim). */
export function finishClaimedX402(
  env: Env,
  attempt: X402Attempt,
  served: boolean,
  resource: ResourceInfo,
  claim: SettleClaim
): Promise<ClaimedFinish> {
  return endX402(env, attempt, served, resource, claim)
}

async function endX402(
  env: Env,
  attempt: X402Attempt,
  served: boolean,
  resource: ResourceInfo,
  claim?: SettleClaim
): Promise<ClaimedFinish> {
  const { lock, nonce, terms } = attempt
  const base = { network: terms.network, payer: attempt.payer }
  const ended = async (
    finish: X402Finish,
    state: Exclude<PaymentState, 'in_flight'>,
    detail: { transaction?: string; reason?: string } = {}
  ): Promise<ClaimedFinish> => ({
    finish,
    record: await finishAuthorization(env.X402_LOCKS, lock, nonce, state, detail, claim?.id),
  })
  if (!served) return ended({ kind: 'not-served' }, 'released', { reason: 'origin_failed' })
  if (attempt.mode === 'free-pass' || attempt.mode === 'dev') {
    const extra = attempt.mode === 'dev' ? { devMode: true, settled: false } : { freePass: true }
    return ended(
      { kind: 'paid', settlement: { success: true, transaction: '', ...base, extra } },
      attempt.mode === 'dev' ? 'dev' : 'free_pass'
    )
  }
  let outcome
  try {
    const started = Date.now()
    outcome = await settlePayment(
      facilitatorOptions(env, terms),
      attempt.payload,
      attempt.requirements
    )
    attempt.timings.settleMs = Date.now() - started
  } catch (error) {
    outcome = { kind: 'unavailable' as const, message: (error as Error).message }
  }
  if (outcome.kind === 'settled') {
    return ended(
      { kind: 'paid', settlement: { success: true, transaction: outcome.transaction, ...base } },
      'settled',
      { transaction: outcome.transaction }
    )
  }
  const reason =
    outcome.kind === 'failed'
      ? outcome.reason
      : outcome.kind === 'indeterminate'
        ? 'settlement_indeterminate'
        : 'facilitator_unavailable'
  if (claim) {
    if (outcome.kind === 'unavailable')
      return { finish: { kind: 'served-unpaid', reason }, record: 'unrecorded' }
    if (claim.retaken && outcome.kind === 'failed' && NONCE_USED.test(outcome.reason)) {
      // The chain refuses a used nonce, so one settlement at most: the follow-up this claim was taken
      // from settled it before it stopped (its settle landed, its record did not). Paid, once.
      const settlement: SettlementResponse = {
        success: true,
        transaction: '',
        ...base,
        extra: { settledBeforeRetake: true },
      }
      return ended({ kind: 'paid', settlement }, 'settled', { reason: SETTLED_BEFORE_RETAKE })
    }
    return ended(
      { kind: 'served-unpaid', reason },
      outcome.kind === 'indeterminate' ? 'indeterminate' : 'unpaid',
      { reason }
    )
  }
  // A settle with no answer may still land on chain: the authorization stays spent.
  const state =
    outcome.kind === 'indeterminate'
      ? 'indeterminate'
      : attempt.mode === 'unverified-open'
        ? 'unpaid'
        : 'released'
  if (attempt.mode === 'unverified-open' && outcome.kind !== 'failed') {
    console.warn(`pay-gate: served an unsettled x402 call (failMode open): ${reason}`)
    return ended({ kind: 'served-unpaid', reason }, state, { reason })
  }
  const settlement: SettlementResponse = {
    success: false,
    errorReason: reason,
    transaction: '',
    ...base,
  }
  const refusal = new X402Refusal(
    reason,
    'Settlement failed; the call’s result is withheld.',
    asked(terms, attempt.requirements, resource, 'Settlement failed'),
    settlement,
    outcome.kind === 'failed'
  )
  return ended({ kind: 'refused', refusal }, state, { reason })
}
