/**
 * @module gate/accept
 * Taking the payment of a call, whichever rail the caller chose (gate/rails): an
 * x402 payment when the route takes x402 and one was offered, a 402 when the
 * route takes x402 and none was, else a hold on the caller's API key (whose
 * absence is the credits rail's own refusal).
 */
import type { Env } from '../env'
import type { CompiledRoute } from '../pricing'
import { V1_PAYMENT_HEADER, type ResourceInfo } from '../x402'
import type { HoldRequest } from './credits-payment'
import { acceptCredits, type CreditsPayment, type CreditsScope } from './credits-rail'
import type { Acceptance } from './payment'
import type { Rail } from './rails'
import { acceptX402Payment, unpaid, type X402Observer, type X402Payment } from './x402-rail'

/** What accepting a payment needs of its request (a RouteContext has it all). */
export interface PaymentContext extends CreditsScope {
  env: Env
  request: Request
  route: CompiledRoute
  usage: CreditsScope['usage'] & X402Observer
}

/** What a call costs, as each rail asks for it. */
export interface CallPrice {
  /** The list price, in micro-dollars. */
  micros: number
  /** The hold a credits payment takes (made only when credits pay). */
  hold: () => HoldRequest
  /** What an x402 payment pays for (made only when x402 is asked for or offered). */
  resource: () => ResourceInfo
  /** What an unpaid call is told on a route that takes x402. */
  ask: string
}

/**
 * Accept the payment of a call on `rail`.
 * @param options.flight, options.settleBy an x402 payment settled by another request (see acceptX402)
 */
export function acceptPayment(
  context: PaymentContext,
  rail: Rail,
  price: CallPrice,
  options: { flight?: string; settleBy?: number } = {}
): Promise<Acceptance<CreditsPayment | X402Payment>> {
  const x402 = context.route.rails.x402
  if (x402 && rail.kind === 'x402')
    return acceptX402Payment(context, x402, price.micros, price.resource(), rail.payment, options)
  if (x402 && rail.kind === 'none') {
    const refusal = unpaid(
      x402,
      price.micros,
      price.resource(),
      context.request.headers.has(V1_PAYMENT_HEADER),
      price.ask
    )
    return Promise.resolve({ ok: false, refusal: { rail: 'x402', refusal } })
  }
  return acceptCredits(context, context.request.headers, price.hold())
}
