/**
 * @module credits/types
 * The shapes that cross the RPC boundary of a key's account object. All amounts
 * are integer micro-dollars. Expected outcomes are unions, never exceptions.
 */
import type { HolderAlertView } from './holder-alert'

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

export const NO_POLICY: KeyPolicy = {
  allowTools: null,
  denyTools: [],
  lifetimeLimit: null,
  quotas: [],
}

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
  | {
      kind: 'subscription'
      period: Period
      fee: number
      includedCalls: number
      overage: 'payg' | 'deny'
    }

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

export type LedgerKind =
  | 'grant'
  | 'topup'
  | 'charge'
  | 'fee'
  | 'expire'
  | 'suspend'
  | 'resume'
  | 'revoke'
  | 'rotate'
  | 'policy'
  | 'plan'

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

export type * from './reserve-types'

export type AdminResult =
  /** `duplicate`: a top-up whose reference was already credited; nothing changed. */
  | { ok: true; view: AccountView; duplicate?: true }
  | {
      ok: false
      reason:
        | 'invalid_api_key'
        | 'key_revoked'
        | 'invalid_amount'
        | 'invalid_transition'
        | 'reference_conflict'
    }

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
