/**
 * @module credits/types
 * The shapes that cross the RPC boundary of a key's account object. All amounts
 * are integer micro-dollars. Expected outcomes are unions, never exceptions.
 */

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

export interface AccountInit {
  id: string
  name: string
  credits: number
  expiresAt?: number | null
  rateLimit?: RateLimitSpec | null
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
  expiresAt: number | null
  rateLimit: RateLimitSpec | null
  createdAt: number
  updatedAt: number
}

export type LedgerKind = 'grant' | 'topup' | 'charge' | 'suspend' | 'resume' | 'revoke'

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
}

export interface ReserveRequest {
  /** Earlier calls' settlements on this key, applied first in the same transaction. */
  settle?: Settlement[]
  amount: number
  /** How long the hold lives before the alarm releases it. */
  holdMs: number
  /** What is being bought, for the ledger: `POST /mcp tools/call search`. */
  label: string
  idempotency?: { key: string; fingerprint: string }
  limits: LimitCheck[]
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

export type ReserveResult =
  | { ok: true; kind: 'reserved'; keyId: string; reservationId: string; available: number; rateLimit?: RateLimitState }
  /** A retry of a call already charged under the same Idempotency-Key: no new charge. */
  | { ok: true; kind: 'replayed'; keyId: string; available: number; rateLimit?: RateLimitState }
  | {
      ok: false
      reason: ReserveDenial
      /** The admin key id, when the key exists. */
      keyId?: string
      available?: number
      retryAfterSeconds?: number
      rateLimit?: RateLimitState
    }

export type SettleResult =
  | { ok: true; charged: number; available: number }
  | { ok: false; reason: 'unknown_reservation' | 'already_settled' | 'over_reserved' | 'unfunded' }

export type AdminResult =
  | { ok: true; view: AccountView }
  | { ok: false; reason: 'invalid_api_key' | 'key_revoked' | 'invalid_amount' | 'invalid_transition' }
