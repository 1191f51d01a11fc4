/**
 * @module usage/recorder
 * `UsageCall`: what one request's paid call did, told by the gate as it happens
 * (priced, forwarded, held, settled, paid, refused: it observes the payment lifecycle, gate/payment, and never settles anything), turned into exactly one usage
 * event when the call's fate is known. A request that never gets a price (free
 * calls, bad input before pricing) records nothing. Later reports after the first
 * final one are ignored, as a payment ignores a second finish.
 * Every event leaves here with its text bounded (usage/bounds): the method and
 * tool are whatever the caller sent, even on a call refused for want of a key.
 * Knows the gate only through the small shapes below; imports only `errors` and `text-cap`.
 */
import { statusOf, type ErrorCode, type GateError } from '../errors'
import { boundEvent } from './bounds'
import type {
  HeldCall,
  UsageCallInit,
  UsageCallSnapshot,
  UsageSink,
  X402Ending,
} from './call-types'
import type { UsageEvent, UsageRail } from './event'

export class UsageCall {
  private listPrice: number | undefined
  private method: string
  private tool: string | null = null
  private latencyMs: number | null = null
  private upstreamStatus: number | null = null
  private upstreamFailure: ErrorCode | null = null
  private holding = false
  private done = false

  constructor(
    private readonly sink: UsageSink | null,
    private readonly init: UsageCallInit
  ) {
    this.listPrice = init.listPrice
    this.method = init.method
  }

  /** What this call is, once priced (undefined before), to finish it elsewhere with `UsageCall.resume`. */
  snapshot(): UsageCallSnapshot | undefined {
    if (this.listPrice === undefined) return undefined
    return {
      at: this.init.at,
      route: this.init.route,
      path: this.init.path ?? null,
      method: this.method,
      tool: this.tool,
      listPrice: this.listPrice,
      mcp: this.init.mcp,
    }
  }

  /** A recorder for a call priced in an earlier request. */
  static resume(sink: UsageSink | null, snapshot: UsageCallSnapshot): UsageCall {
    const call = new UsageCall(sink, {
      at: snapshot.at ?? Date.now(),
      route: snapshot.route,
      path: snapshot.path ?? null,
      method: snapshot.method,
      mcp: snapshot.mcp,
      listPrice: snapshot.listPrice,
    })
    call.priced(snapshot.listPrice, snapshot.method, snapshot.tool)
    return call
  }

  /** A recorder on this request's sink for a call priced in an earlier request (an MCP answer delivered on another stream). */
  forEarlier(snapshot: UsageCallSnapshot): UsageCall {
    return UsageCall.resume(this.sink, snapshot)
  }

  /** What the call is priced at, once known (MCP: after the body is read). A price of 0 is a free call: no event. */
  priced(listPrice: number, method: string, tool: string | null = null): void {
    this.listPrice = listPrice
    this.method = method
    this.tool = tool
  }

  /** The origin answered (`status`) or could not be reached (`failure`), after `latencyMs` (null: not measured here, as in sidecar mode). */
  upstream(answer: { status: number } | { failure: ErrorCode }, latencyMs: number | null): void {
    this.latencyMs = latencyMs
    if ('status' in answer) this.upstreamStatus = answer.status
    else this.upstreamFailure = answer.failure
  }

  /** A credits hold was taken. A subscription fee it took is revenue whatever becomes of the call: its own event, now. */
  held(hold: HeldCall): void {
    this.holding = true
    if (hold.fee && hold.fee > 0 && this.listPrice !== undefined && this.sink) {
      this.sink(
        this.event(
          {
            rail: 'credits',
            keyId: hold.keyId,
            amount: hold.fee,
            outcome: 'fee',
            reason: 'plan_fee',
            status: 200,
            reservationId: hold.reservationId,
          },
          hold.fee
        )
      )
    }
  }

  /**
   * A credits hold was settled: `amount` charged for `calls` delivered calls (0 and 0: released).
   * Served calls are charged events, even at 0 (a plan's free call, an idempotent replay): each has its ledger row.
   */
  settled(hold: HeldCall, amount: number, calls: number): void {
    this.holding = false
    const charged = Math.min(amount, hold.amount)
    const replay = hold.reservationId === null
    const served = calls > 0 || charged > 0
    this.finish({
      rail: 'credits',
      keyId: hold.keyId,
      reservationId: hold.reservationId,
      amount: charged,
      outcome: served ? 'charged' : 'refunded',
      reason: !served
        ? this.refundReason()
        : replay
          ? 'idempotent_replay'
          : charged === 0
            ? 'plan_included'
            : null,
      status: this.givenStatus(),
    })
  }

  /** A credits refusal answered as `response` (MCP in-band): recorded, and the response passed on. */
  deniedWith(error: GateError, response: Response): Response {
    this.finish({
      rail: 'credits',
      keyId: error.keyId ?? null,
      amount: 0,
      outcome: 'denied',
      reason: error.code,
      status: response.status,
    })
    return response
  }

  /** An x402 refusal (or a call that came without payment) answered as `response`. */
  x402DeniedWith(reason: string, response: Response): Response {
    this.finish({ rail: 'x402', amount: 0, outcome: 'denied', reason, status: response.status })
    return response
  }

  /** An accepted x402 payment ended. */
  x402Finished(ending: X402Ending, payer: string, micros: number): void {
    const base = { rail: 'x402' as const, payer }
    switch (ending.kind) {
      case 'paid': {
        const extra = ending.settlement.extra ?? {}
        const unpaid = extra.devMode ? 'dev_mode' : extra.freePass ? 'free_pass' : null
        this.finish({
          ...base,
          amount: unpaid ? 0 : micros,
          outcome: 'charged',
          reason: unpaid,
          status: this.givenStatus(),
          payment: ending.settlement.transaction || null,
        })
        return
      }
      case 'served-unpaid':
        this.finish({
          ...base,
          amount: 0,
          outcome: 'refunded',
          reason: ending.reason,
          status: this.givenStatus(),
        })
        return
      case 'not-served':
        this.finish({
          ...base,
          amount: 0,
          outcome: 'refunded',
          reason: this.refundReason(),
          status: this.givenStatus(),
        })
        return
      case 'refused':
        this.finish({
          ...base,
          amount: 0,
          outcome: 'denied',
          reason: ending.refusal.reason,
          status: this.init.mcp ? (this.upstreamStatus ?? 200) : ending.refusal.status,
        })
        return
    }
  }

  /**
   * A refusal thrown to the caller (plain HTTP routes throw theirs). Recorded as a
   * credits denial unless the call already ended (a refund) or a hold is still to settle.
   */
  thrown(error: GateError): void {
    if (this.holding) return
    this.finish({
      rail: 'credits',
      keyId: error.keyId ?? null,
      amount: 0,
      outcome: 'denied',
      reason: error.code,
      status: error.status,
    })
  }

  /** The status the caller got: the origin's, or the failure's when it could not be reached. */
  private givenStatus(): number {
    if (this.upstreamStatus !== null) return this.upstreamStatus
    return this.upstreamFailure ? statusOf(this.upstreamFailure) : 502
  }

  private refundReason(): string {
    if (this.upstreamFailure) return this.upstreamFailure
    if (this.upstreamStatus !== null && this.upstreamStatus >= 400) return 'origin_error'
    // The origin answered below 400, yet nothing was served in full: the call's
    // answer was an error, or the body broke off or was never taken.
    return 'not_served'
  }

  private finish(fields: EventFields): void {
    if (this.done || this.listPrice === undefined || this.listPrice === 0) return
    this.done = true
    if (!this.sink) return
    this.sink(this.event(fields, this.listPrice))
  }

  private event(fields: EventFields, listPrice: number): UsageEvent {
    const rail: UsageRail = fields.rail
    // A charge is one event whoever records it: an MCP answer delivered on two streams at once may
    // be recorded by both (one settled it), and the store keeps the first of an id (ON CONFLICT DO NOTHING).
    const charge =
      rail === 'credits' && fields.outcome === 'charged' && fields.keyId && fields.reservationId
    return boundEvent({
      id: charge ? `charge:${fields.keyId}:${fields.reservationId}` : crypto.randomUUID(),
      at: this.init.at,
      keyId: fields.keyId ?? null,
      payer: fields.payer ?? null,
      rail,
      route: this.init.route,
      path: this.init.path ?? null,
      method: this.method,
      tool: this.tool,
      amount: fields.amount,
      listPrice,
      outcome: fields.outcome,
      reason: fields.reason,
      status: fields.status,
      latencyMs: fields.outcome === 'fee' ? null : this.latencyMs,
      reservationId: fields.reservationId ?? null,
      payment: fields.payment ?? null,
    })
  }
}

type EventFields = Pick<UsageEvent, 'rail' | 'amount' | 'outcome' | 'reason' | 'status'> &
  Partial<Pick<UsageEvent, 'keyId' | 'payer' | 'reservationId' | 'payment'>>
