/**
 * @module gate/x402-rail
 * The payment lifecycle (gate/payment) on x402: accepting is checking the
 * payment and verifying it with the facilitator, its authorization locked so no
 * other call can use it (gate/x402-payment); finishing is settling it on chain
 * when the call was served and releasing it when not (gate/x402-finish), once,
 * before the answer is handed on.
 */
import type { Env } from '../env'
import type { X402Terms } from '../pricing'
import {
  encodeHeader,
  PAYMENT_RESPONSE_HEADER,
  type ResourceInfo,
  type SettlementResponse,
} from '../x402'
import { tell, type Acceptance, type Delivery, type Payment, type PaymentEnd } from './payment'
import { finishX402, type X402Finish } from './x402-finish'
import {
  acceptX402,
  paidHeaders,
  requiredFor,
  serverTiming,
  X402Refusal,
  type X402Attempt,
} from './x402-payment'

/** What usage is told of an x402 payment, after it was settled or released. */
export interface X402Observer {
  x402Finished(finish: X402Finish, payer: string, micros: number): void
}

/** What taking an x402 payment needs of its request. */
export interface X402Scope {
  env: Env
  /** Absent: nothing records it here (a deferred settlement records it where it ends). */
  usage?: X402Observer
}

export class X402Payment implements Payment {
  readonly rail = 'x402'
  readonly settles = 'before-delivery'
  private ending: Promise<PaymentEnd> | undefined
  private finished: X402Finish | undefined
  private originStarted: number | undefined
  private originMs: number | undefined

  constructor(
    private readonly env: Env,
    /** The accepted payment: who pays, what, under which lock. */
    readonly attempt: X402Attempt,
    /** What it pays for. */
    readonly resource: ResourceInfo,
    private readonly observer: X402Observer | undefined
  ) {}

  originHeaders(): Record<string, string> {
    this.originStarted = Date.now()
    return paidHeaders(this.attempt)
  }

  /** The settlement, once paid (PAYMENT-RESPONSE; `_meta["x402/payment-response"]` in MCP). */
  get settlement(): SettlementResponse | undefined {
    return this.finished?.kind === 'paid' ? this.finished.settlement : undefined
  }

  decorate(headers: Headers): void {
    const timing = serverTiming(this.attempt, this.originMs)
    if (timing) headers.append('server-timing', timing)
    const settlement = this.settlement
    if (!settlement) return
    headers.set(PAYMENT_RESPONSE_HEADER, encodeHeader(settlement))
    // x402 SDK: a paid answer is private to its payer.
    headers.set('cache-control', mergePrivate(headers.get('cache-control')))
    if (settlement.extra?.devMode) headers.set('x-pay-dev-mode', 'unsettled')
  }

  /** Settle (delivered) or release (not) the payment, once; later calls get the first end. */
  finish(delivery: Delivery): Promise<PaymentEnd> {
    this.ending ??= this.end(delivery.delivered)
    return this.ending
  }

  private async end(served: boolean): Promise<PaymentEnd> {
    if (this.originStarted !== undefined) this.originMs = Date.now() - this.originStarted
    const finish = await finishX402(this.env, this.attempt, served, this.resource)
    this.finished = finish
    tell(() => this.observer?.x402Finished(finish, this.attempt.payer, this.attempt.micros))
    switch (finish.kind) {
      case 'paid':
        return { kind: 'paid' }
      case 'not-served':
        return { kind: 'released' }
      case 'served-unpaid':
        return { kind: 'served-unpaid', reason: finish.reason }
      case 'refused':
        return { kind: 'refused', refusal: finish.refusal }
    }
  }
}

/**
 * Accept an x402 payment for a call costing `micros`.
 * @param options.flight set when another request settles it (see acceptX402)
 */
export async function acceptX402Payment(
  scope: X402Scope,
  terms: X402Terms,
  micros: number,
  resource: ResourceInfo,
  decoded: unknown,
  options: { flight?: string; settleBy?: number } = {}
): Promise<Acceptance<X402Payment>> {
  try {
    const attempt = await acceptX402(
      scope.env,
      terms,
      micros,
      resource,
      decoded,
      options.flight,
      options.settleBy
    )
    return { ok: true, payment: new X402Payment(scope.env, attempt, resource, scope.usage) }
  } catch (error) {
    if (error instanceof X402Refusal)
      return { ok: false, refusal: { rail: 'x402', refusal: error } }
    throw error
  }
}

/**
 * The refusal of a call that came without a payment: payment required, or, when it carries x402
 * v1's X-PAYMENT (x402-fetch 1.x), that v1 is not spoken here. Either way the 402 offers the v2
 * payment a client can upgrade to; a v1 payment is never read, so nothing of it is taken.
 */
export function unpaid(
  terms: X402Terms,
  micros: number,
  resource: ResourceInfo,
  v1: boolean,
  ask: string
): X402Refusal {
  // x402-specification-v2 §9: the protocol version is not supported.
  const [reason, message] = v1
    ? [
        'invalid_x402_version',
        'x402 v1 (X-PAYMENT) is not supported: this gate speaks x402 v2; send the payment in PAYMENT-SIGNATURE (x402 v2)',
      ]
    : ['payment_required', ask]
  return new X402Refusal(reason, message, requiredFor(terms, micros, resource, message))
}

function mergePrivate(cacheControl: string | null): string {
  if (!cacheControl) return 'private'
  const parts = cacheControl
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part && !/^public$/i.test(part))
  return parts.some((part) => /^private$/i.test(part))
    ? parts.join(', ')
    : ['private', ...parts].join(', ')
}
