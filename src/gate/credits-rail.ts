/**
 * @module gate/credits-rail
 * The payment lifecycle (gate/payment) on prepaid credits: accepting is holding
 * the price on the caller's key; finishing is settling the hold exactly once,
 * however many times and from wherever it is asked (stream end, cancel, error):
 * charge what was delivered, release the rest. The settlement joins the key's
 * queue in the ledger client, to ride with its next hold or be swept shortly.
 */
import type { Caller, LedgerClient } from '../credits'
import { GateError } from '../errors'
import { holdCredits, holdHeaders, type CreditHold, type HoldRequest } from './credits-payment'
import { tell, type Acceptance, type Delivery, type Payment, type PaymentEnd } from './payment'

/** What usage is told of a credits payment, after the ledger was. */
export interface CreditsObserver {
  /** A hold was taken (with any subscription fee it took). */
  held(hold: CreditHold): void
  /** The hold was settled: `amount` charged for `calls` delivered calls (0 and 0: released). */
  settled(hold: CreditHold, amount: number, calls: number): void
}

/** What taking a credits payment needs of its request. */
export interface CreditsScope {
  ledger: LedgerClient
  waitUntil: (promise: Promise<unknown>) => void
  usage: CreditsObserver
  /** Who pays: a key in the headers (the default), or the key an OAuth token stands for (src/oauth). */
  caller?: Caller
}

const PAID: PaymentEnd = { kind: 'paid' }
const RELEASED: PaymentEnd = { kind: 'released' }

export class CreditsPayment implements Payment {
  readonly rail = 'credits'
  readonly settles = 'after-delivery'
  private end: PaymentEnd | undefined

  constructor(
    /** The hold: the account it is on, what it took, its plan position. */
    readonly hold: CreditHold,
    private readonly ledger: LedgerClient,
    private readonly observer: CreditsObserver
  ) {}

  originHeaders(): Record<string, string> {
    return { 'x-pay-verified': 'true', 'x-pay-rail': 'credits' }
  }

  decorate(headers: Headers): void {
    for (const [name, value] of Object.entries(holdHeaders(this.hold))) headers.set(name, value)
  }

  /** Settle the hold: charge `amount` of it (at most all of it) for `calls` delivered calls, release the rest. Once. */
  finish(delivery: Delivery): Promise<PaymentEnd> {
    if (this.end) return Promise.resolve(this.end)
    const { hold } = this
    const amount = delivery.delivered ? Math.min(delivery.amount ?? hold.amount, hold.amount) : 0
    const calls = delivery.delivered
      ? Math.min(delivery.calls ?? hold.charges.length, hold.charges.length)
      : 0
    this.end = amount > 0 || calls > 0 ? PAID : RELEASED
    // A replay (nothing held) and a hold charged when taken have nothing left to settle.
    if (hold.reservationId !== null && !hold.charged)
      this.ledger.settle(hold.keyHash, { reservationId: hold.reservationId, amount, calls })
    tell(() => this.observer.settled(hold, amount, calls))
    return Promise.resolve(this.end)
  }
}

/** Hold the price of a call on the caller's key: a payment, or the account's refusal. */
export async function acceptCredits(
  scope: CreditsScope,
  headers: Headers,
  request: HoldRequest
): Promise<Acceptance<CreditsPayment>> {
  let hold: CreditHold
  try {
    hold = await holdCredits(scope.ledger, headers, request, scope.waitUntil, scope.caller)
  } catch (error) {
    if (error instanceof GateError) return { ok: false, refusal: { rail: 'credits', error } }
    throw error
  }
  tell(() => scope.usage.held(hold))
  return { ok: true, payment: new CreditsPayment(hold, scope.ledger, scope.usage) }
}
