/**
 * @module credits/reserve-types
 * What a hold asks of a key's account and what it answers: the reserve's request,
 * its outcomes and refusals, and the settlements that end holds.
 */
import type { HolderAlert } from './holder-alert'
import type { LimitCheck, PlanPosition, Quota, RateLimitState } from './types'

/** A finished call's outcome for its hold: charge `amount` of it, free the rest. */
export interface Settlement {
  reservationId: string
  amount: number
  /**
   * How many of the hold's calls were served (a plan may make a served call cost
   * 0). Default: all of them when `amount` > 0, none when it is 0.
   */
  calls?: number
}

/** One priced call in a request: a batch has several. */
export interface ReserveItem {
  /** The route's (list) price of the call, in micro-dollars. */
  price: number
  /** The tool, for `tools/call`: checked against the key's allow- and deny-lists. */
  tool?: string
}

export interface ReserveRequest {
  /** Earlier calls' settlements on this key, applied first in the same transaction. */
  settle?: Settlement[]
  /**
   * SHA-256 of the key the caller presented. After a rotation only the newest key
   * opens the account; absent, the caller is trusted to have reached the object
   * by its own key's name.
   */
  credential?: string
  /** The OAuth grant a token of which pays (src/oauth): it must be bound to the account and unrevoked. */
  grant?: string
  /** The list price of the request (the sum of `items`). */
  amount: number
  /** The priced calls in the request (default: one call at `amount`). */
  items?: ReserveItem[]
  /** How long the hold lives before the alarm releases it. */
  holdMs: number
  /** What is being bought, for the ledger: `POST /mcp tools/call search`. */
  label: string
  idempotency?: { key: string; fingerprint: string }
  limits: LimitCheck[]
  /**
   * Charge the hold in full in the same transaction: for a caller that will send
   * no settlement (a proxy's check with no follow-up), one round trip, not two.
   */
  chargeNow?: boolean
  /**
   * The caller's own id for this call, the same on each try (never a client's
   * Idempotency-Key, which may stand beside it). Remembered with the hold, so a
   * try after a lost reply is answered with the charge already made for the call.
   */
  attempt?: string
}

export type ReserveDenial =
  | 'invalid_api_key'
  | 'key_suspended'
  | 'key_revoked'
  | 'key_expired'
  | 'insufficient_credits'
  | 'rate_limited'
  | 'idempotency_in_progress'
  | 'idempotency_mismatch'
  | 'tool_not_allowed'
  | 'spending_limit_reached'
  | 'quota_exceeded'
  | 'plan_allowance_exhausted'

export type ReserveResult =
  | {
      ok: true
      kind: 'reserved'
      keyId: string
      reservationId: string
      /** What was held: the plan's price of the request (0 when the plan makes it free). */
      amount: number
      /** What each item costs under the key's plan, in the order of `items`. */
      charges: number[]
      /** The key's plan and where this batch fell in its period, to price what it served; null without a plan or for one call. */
      plan: PlanPosition | null
      /** A subscription fee taken by this reserve (the period's first call), else 0. */
      fee: number
      /** The hold was charged in full at once (`chargeNow`); nothing is left to settle. */
      charged: boolean
      available: number
      rateLimit?: RateLimitState
      /** This hold took the available credits below the holder's own alert threshold: tell them (credits/holder-alert). */
      holderAlert?: HolderAlert
    }
  /**
   * A retry of a call already charged under the same Idempotency-Key, or the same
   * `attempt` (`own`: then this very call, whose earlier reply was lost): no new
   * charge. `earlier` is the reservation that paid for it.
   */
  | {
      ok: true
      kind: 'replayed'
      keyId: string
      available: number
      earlier: { reservationId: string; charged: number; calls: number }
      own: boolean
      rateLimit?: RateLimitState
    }
  | {
      ok: false
      reason: ReserveDenial
      /** The admin key id, when the key exists. */
      keyId?: string
      available?: number
      retryAfterSeconds?: number
      rateLimit?: RateLimitState
      /** For `tool_not_allowed`: the tool. For `quota_exceeded`: which quota. */
      tool?: string
      quota?: Quota
    }
  /** The key was rotated: its account lives in object `account` (see ledger.reserveCredits). */
  | { ok: false; reason: 'moved'; account: string }

/** One answer of a batch of reserves: a result, or the error that reserve alone would have thrown. */
export type ReserveAnswer = ReserveResult | { ok: false; reason: 'reserve_failed'; message: string }

export type SettleResult =
  | { ok: true; charged: number; available: number }
  /** `charged`: what the hold was charged when it was settled (0: released). */
  | { ok: false; reason: 'already_settled'; charged: number }
  | { ok: false; reason: 'unknown_reservation' | 'over_reserved' | 'unfunded' }
