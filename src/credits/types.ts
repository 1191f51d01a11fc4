/**
 * @module credits/types
 * The shapes that cross the RPC boundary of a key's account object. All amounts
 * are integer micro-dollars. Expected outcomes are unions, never exceptions.
 */
import type { HolderAlert, HolderAlertView } from './holder-alert'

export type KeyStatus = 'active' | 'suspended' | 'revoked'
/** What callers see: a stored status, or `expired` once `expiresAt` has passed. */
export type EffectiveStatus = KeyStatus | 'expired'

export interface RateLimitSpec {
  limit: number
  windowSeconds: number
}

/** One counter a call is charged against: the key's own, a route's, or a tool's. */
export interface LimitCheck extends RateLimitSpec {
  bucket: string
  /** How many calls this reservation counts (a batch may call one tool twice). */
  cost: number
}

export interface RateLimitState {
  limit: number
  remaining: number
  /** Seconds until the current window ends. */
  resetSeconds: number
}

export type Period = 'day' | 'month'

/** A cap on what a key may use in each UTC day or month: calls, or micro-dollars spent. */
export interface Quota {
  period: Period
  metric: 'calls' | 'spend'
  limit: number
}

/** What an operator allows one key, enforced by its account object with the debit. */
export interface KeyPolicy {
  /** Tools this key may call (null: all). Also filters `tools/list` for the key. */
  allowTools: string[] | null
  /** Tools this key may never call; wins over the allow-list. */
  denyTools: string[]
  /** The most the key may ever be charged, in micro-dollars (null: no cap). */
  lifetimeLimit: number | null
  quotas: Quota[]
}

export const NO_POLICY: KeyPolicy = { allowTools: null, denyTools: [], lifetimeLimit: null, quotas: [] }

/** One step of a tiered plan: calls up to `upTo` in the period (null: the rest). */
export interface PlanTier {
  upTo: number | null
  /** A fixed price per call in micro-dollars, or a whole percentage of the route's price. */
  price: { micros: number } | { percentOfList: number }
}

/** How a plan turns a route's list price into what a call is charged. */
export type PlanDefinition =
  /** Pay as you go, with the first `freeCalls` calls of each period free. */
  | { kind: 'payg'; period: Period; freeCalls: number }
  /** Volume pricing: the period's calls are priced by the tier they fall in. */
  | { kind: 'tiered'; period: Period; tiers: PlanTier[] }
  /**
   * A fee per period (taken from the key's credits at its first call in the
   * period) buys `includedCalls` calls; then list price (`payg`) or refusal (`deny`).
   */
  | { kind: 'subscription'; period: Period; fee: number; includedCalls: number; overage: 'payg' | 'deny' }

export interface AssignedPlan {
  name: string
  definition: PlanDefinition
}

export interface AccountInit {
  id: string
  name: string
  credits: number
  expiresAt?: number | null
  rateLimit?: RateLimitSpec | null
  policy?: KeyPolicy
  plan?: AssignedPlan | null
  /** Credits that expire (a trial): spent before the others. */
  trial?: { credits: number; expiresAt: number } | null
}

export interface AccountView {
  id: string
  name: string
  status: EffectiveStatus
  /** Settled balance: grants and top-ups less committed charges. */
  balance: number
  /** Held by reservations whose calls are still in flight. */
  held: number
  /** What the key can spend now: balance − held. Never negative. */
  available: number
  /** Calls in flight: holds not settled yet (a plan's free call holds 0 but is one). */
  inFlight: number
  expiresAt: number | null
  rateLimit: RateLimitSpec | null
  createdAt: number
  updatedAt: number
  /** Everything the key has been charged, ever. */
  spent: number
  policy: KeyPolicy
  plan: AssignedPlan | null
  /** Credits granted with an expiry that are not spent yet, soonest first. */
  expiringCredits: Array<{ amount: number; expiresAt: number }>
  /** Calls and spend (charged and held) in the current UTC day and month. */
  usage: { day: UsageCount; month: UsageCount }
  /** When the key was last rotated (the account lives on under a new key). */
  rotatedAt: number | null
}

export interface UsageCount {
  calls: number
  spend: number
}

/** Where a request's calls fall in the key's plan: what the reserve priced them by. */
export interface PlanPosition {
  definition: PlanDefinition
  /** Calls the key had made in the plan's period (served or in flight) before this request. */
  callsBefore: number
}

export type LedgerKind = 'grant' | 'topup' | 'charge' | 'fee' | 'expire' | 'suspend' | 'resume' | 'revoke' | 'rotate' | 'policy' | 'plan'

export interface LedgerEntry {
  seq: number
  at: number
  kind: LedgerKind
  /** Signed change to the settled balance (charges are negative, status rows 0). */
  amount: number
  balanceAfter: number
  reservationId: string | null
  label: string | null
}

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

export type AdminResult =
  /** `duplicate`: a top-up whose reference was already credited; nothing changed. */
  | { ok: true; view: AccountView; duplicate?: true }
  | { ok: false; reason: 'invalid_api_key' | 'key_revoked' | 'invalid_amount' | 'invalid_transition' | 'reference_conflict' }

/** The answer of an account object to a key holder's question when the key was rotated in: ask `account`. */
export type MovedAccount = { ok: false; reason: 'moved'; account: string }

/** A key's tool lists, as its holder may read them. */
export type ToolListsAnswer =
  | ({ ok: true } & Pick<KeyPolicy, 'allowTools' | 'denyTools'>)
  | { ok: false; reason: 'invalid_api_key' }
  | MovedAccount

/** Reading an account as its key holder: a rotated-away key reads nothing. */
export type HolderView =
  | { ok: true; account: AccountView; ledger: LedgerEntry[]; alert: HolderAlertView | null }
  | { ok: false; reason: 'invalid_api_key' }
  | MovedAccount
