/**
 * @module usage/call-types
 * The small shapes through which the gate tells a call's recorder (usage/recorder)
 * what happened: usage knows the gate only through these.
 */
import type { UsageEvent } from './event'

/** Where finished events go (a UsageWriter bound to the database and the request), or nowhere. */
export type UsageSink = (event: UsageEvent) => void

/** What usage needs of a credits hold (gate/credits-payment's CreditHold). */
export interface HeldCall {
  keyId: string
  /** Null for an idempotent replay: nothing was held. */
  reservationId: string | null
  amount: number
  /** A subscription fee the hold took (the period's first call). */
  fee?: number
}

/** How an accepted x402 payment ended (the gate's X402Finish, as far as usage needs it). */
export type X402Ending =
  | { kind: 'paid'; settlement: { transaction: string; extra?: Record<string, unknown> } }
  | { kind: 'served-unpaid'; reason: string }
  | { kind: 'not-served' }
  | { kind: 'refused'; refusal: { status: number; reason: string } }

export interface UsageCallInit {
  at: number
  route: string
  /** The path called (no query string: one may carry a secret). */
  path?: string | null
  /** The HTTP method: the event's method on plain HTTP routes. */
  method: string
  /** MCP routes answer refusals in-band, so the status given is the response's, not the refusal's. */
  mcp: boolean
  /** The price, when the route's price is known before the body is read (fixed-price routes). */
  listPrice?: number
}

/** What a call is, for a recorder that finishes it in another request (sidecar mode's settle). */
export interface UsageCallSnapshot {
  /** When the call arrived (ms): its event is dated then, not when it is finished elsewhere. */
  at?: number
  route: string
  /** Absent in tickets and tokens sealed by a gate from before paths were recorded. */
  path?: string | null
  method: string
  tool: string | null
  listPrice: number
  mcp: boolean
}
