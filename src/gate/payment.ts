/**
 * @module gate/payment
 * One payment lifecycle for every rail and entry point. `acceptPayment` gives a
 * payment or a refusal before the origin is called; a payment tells the origin
 * who paid (`originHeaders`) and is finished exactly once (`finish`) with what
 * reached the caller. The plain HTTP route, the MCP route, the sidecar's check
 * and the credit purchase all take payments here; each rail implements the
 * lifecycle once (gate/credits-rail, gate/x402-rail).
 *
 * The two rails differ in one thing a transport must know, `settles`: a credits
 * hold is charged after the answer reached the caller (and released otherwise);
 * an x402 payment is settled before the answer is handed on, which waits for it,
 * because a settlement on chain cannot be taken back and a refused one must
 * withhold what it would have paid for (x402 transports-v2: settle, then return
 * the resource).
 *
 * What happened is told to a `PaymentObserver` (usage recording) after the money
 * has moved, and an observer that throws changes nothing that was charged.
 */
import type { GateError } from '../errors'
import type { X402Refusal } from './x402-payment'

/** How a paid call ended, as its transport saw it. */
export interface Delivery {
  /** The answer reached the caller (`after-delivery`), or is about to (`before-delivery`). */
  delivered: boolean
  /** What of the payment the delivered part costs (default: all of it when delivered). */
  amount?: number
  /** How many priced calls were delivered (default: all of them when delivered). */
  calls?: number
}

/** How a payment ended. */
export type PaymentEnd =
  /** Charged (credits) or settled (x402). */
  | { kind: 'paid' }
  /** Nothing was delivered: nothing is charged. */
  | { kind: 'released' }
  /** Delivered, and not paid (x402 fail-open: the facilitator could not settle it). */
  | { kind: 'served-unpaid'; reason: string }
  /** The settlement was refused: the answer must be withheld and this refusal given instead. */
  | { kind: 'refused'; refusal: X402Refusal }

export interface Payment {
  readonly rail: 'credits' | 'x402'
  /** When the payment is finished relative to handing the answer on (see the module's comment). */
  readonly settles: 'after-delivery' | 'before-delivery'
  /** What the origin is told about the payment (X-Pay-*; the caller's own never get this far). */
  originHeaders(): Record<string, string>
  /** Add to the caller's response what it should know of the payment (what is left, the settlement). */
  decorate(headers: Headers, end?: PaymentEnd): void
  /** End the payment, once: later calls answer with the first end. */
  finish(delivery: Delivery): Promise<PaymentEnd>
}

/** Why a payment was not accepted, as the rail that refused it says it. */
export type Refusal = { rail: 'credits'; error: GateError } | { rail: 'x402'; refusal: X402Refusal }

export type Acceptance<P extends Payment = Payment> =
  { ok: true; payment: P } | { ok: false; refusal: Refusal }

/** Run an observer's report so that a recording bug never reaches the money path. */
export function tell(report: () => void): void {
  try {
    report()
  } catch (error) {
    console.error(`pay-gate: usage observer failed: ${(error as Error).message}`)
  }
}
