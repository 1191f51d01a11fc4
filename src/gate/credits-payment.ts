/**
 * @module gate/credits-payment
 * Paying with prepaid credits: find the caller's key, hold the price in the key's
 * account object before the origin is called, and settle the hold exactly once
 * afterwards: charge what was served, release what was not.
 */
import {
  chargeOfServed,
  hashApiKey,
  looksLikeApiKey,
  presentedKey,
  type Caller,
  type LedgerClient,
  type LimitCheck,
  type PlanPosition,
  type RateLimitState,
  type ReserveItem,
} from '../credits'
import { GateError } from '../errors'
import { creditsRefusal, rateLimitHeaders } from './credits-refusals'
import { formatDollars } from '../money'
import { notifyHolderLowBalance, notifyIfLowBalance } from '../notify'

/** How long a hold outlives the origin's timeout before the alarm frees it. */
export const HOLD_MARGIN_MS = 10 * 60 * 1000

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

export interface CreditHold {
  /** The account object's name: the hash of the key the account was created with. */
  keyHash: string
  /** The admin key id (not secret), for usage records. */
  keyId: string
  /** Null when the call is an idempotent replay and nothing was held. */
  reservationId: string | null
  /** What was held: the key's plan price of the request (0 for a replay or a plan's free call). */
  amount: number
  /** The plan price of each item of the request, in order. */
  charges: number[]
  /** The list price of each item, in order. */
  lists: number[]
  /** The key's plan and where the request fell in its period (null: list prices, or a replay). */
  plan: PlanPosition | null
  /** Charged in full already (`chargeNow`): nothing is left to settle. */
  charged: boolean
  /** A subscription fee this hold took (the period's first call), else 0. */
  fee: number
  available: number
  rateLimit?: RateLimitState
}

export interface HoldRequest {
  /** The list price of the request. */
  amount: number
  /** Its priced calls (default: one at `amount`); a plan prices each. */
  items?: ReserveItem[]
  label: string
  limits: LimitCheck[]
  timeoutMs: number
  /** How long past the origin's timeout the hold may wait for its answer (default: HOLD_MARGIN_MS). */
  waitMs?: number
  /** Identifies the request for Idempotency-Key reuse checks (a hash of it). */
  fingerprint: () => Promise<string>
  /** Shown in denials: what is being bought. */
  describe: Record<string, unknown>
  /** Charge at once, in the reserve's own transaction (nothing will settle it later). */
  chargeNow?: boolean
  /**
   * This call's own id, the same on each try: with `chargeNow`, a try after a
   * lost reply is answered with the charge already made, not charged again.
   * Kept apart from the client's Idempotency-Key, which may stand beside it.
   */
  attempt?: string
}

/** The fingerprint of a request: SHA-256 of its method, path, query and body. */
export async function fingerprintOf(
  method: string,
  path: string,
  body: Uint8Array | null
): Promise<string> {
  const head = new TextEncoder().encode(`${method} ${path}\n`)
  const whole = new Uint8Array(head.byteLength + (body?.byteLength ?? 0))
  whole.set(head)
  if (body) whole.set(body, head.byteLength)
  const digest = await crypto.subtle.digest('SHA-256', whole)
  return btoa(String.fromCharCode(...new Uint8Array(digest)))
}

/** Headers a paid response carries: what is left, and the rate limit state. */
export function holdHeaders(hold: CreditHold): Record<string, string> {
  return {
    'x-credits-remaining': formatDollars(hold.available),
    ...rateLimitHeaders(hold.rateLimit),
  }
}

const HOW_TO_PAY = {
  credits:
    'Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>"; GET /balance shows what is left.',
}

/**
 * Hold the price of a call on the caller's key.
 * @throws GateError with the reason and what a caller needs to act on it
 */
export async function holdCredits(
  ledger: LedgerClient,
  headers: Headers,
  request: HoldRequest,
  waitUntil: (promise: Promise<unknown>) => void,
  presented: Caller = presentedKey(headers)
): Promise<CreditHold> {
  const price = formatDollars(request.amount)
  const details = { price, ...request.describe, howToPay: HOW_TO_PAY }
  if (presented.kind === 'none') {
    throw new GateError(
      'missing_api_key',
      `This call costs $${price}. Send an API key to pay for it.`,
      {
        details,
        headers: { 'www-authenticate': 'Bearer realm="pay-gate"' },
      }
    )
  }
  // A string that cannot be one of our keys never costs an object lookup.
  if (presented.kind === 'key' && !looksLikeApiKey(presented.key)) {
    throw new GateError('invalid_api_key', 'The API key is not valid.', { details })
  }
  const idempotencyKey = headers.get('idempotency-key')
  if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new GateError(
      'invalid_request',
      'Idempotency-Key must be 1 to 255 visible ASCII characters.'
    )
  }
  const keyHash = presented.kind === 'token' ? presented.keyHash : await hashApiKey(presented.key)
  // Earlier calls' settlements on this key's account ride along with this hold.
  const result = await ledger.reserve(keyHash, {
    amount: request.amount,
    items: request.items,
    holdMs: request.timeoutMs + Math.max(HOLD_MARGIN_MS, request.waitMs ?? 0),
    label: request.label,
    limits: request.limits,
    idempotency: idempotencyKey
      ? { key: idempotencyKey, fingerprint: await request.fingerprint() }
      : undefined,
    attempt: request.attempt,
    chargeNow: request.chargeNow,
    ...(presented.kind === 'token' ? { grant: presented.grant } : {}),
  })
  if (result.ok) {
    const lists = (request.items ?? [{ price: request.amount }]).map((item) => item.price)
    const reserved = result.kind === 'reserved'
    // What was available before this reserve: the hold and any subscription fee it took.
    if (reserved)
      notifyIfLowBalance(
        result.keyId,
        result.available + result.amount + result.fee,
        result.available,
        waitUntil
      )
    if (reserved && result.holderAlert) {
      const balance = {
        keyId: result.keyId,
        before: result.available + result.amount + result.fee,
        after: result.available,
      }
      notifyHolderLowBalance(result.holderAlert, balance, waitUntil)
    }
    if (result.kind === 'replayed' && result.own) {
      // An earlier try of this very call was charged, and its reply lost: that charge is this call's.
      const { reservationId, charged, calls } = result.earlier
      return {
        keyHash: result.account,
        keyId: result.keyId,
        reservationId,
        amount: charged,
        // The account keeps the charge, not its split by item: all of it on the first.
        charges: [charged, ...Array<number>(Math.max(0, calls - 1)).fill(0)],
        lists,
        plan: null,
        charged: true,
        fee: 0,
        available: result.available,
        rateLimit: result.rateLimit,
      }
    }
    return {
      keyHash: result.account,
      keyId: result.keyId,
      reservationId: reserved ? result.reservationId : null,
      amount: reserved ? result.amount : 0,
      charges: reserved ? result.charges : lists.map(() => 0),
      lists,
      plan: reserved ? result.plan : null,
      charged: reserved && result.charged,
      fee: reserved ? result.fee : 0,
      available: result.available,
      rateLimit: result.rateLimit,
    }
  }
  // A token whose grant or key was revoked, or whose key was rotated: RFC 6750 §3.1 invalid_token, so the client authorizes again.
  if (
    presented.kind === 'token' &&
    !result.ok &&
    (result.reason === 'invalid_api_key' || result.reason === 'key_revoked')
  ) {
    throw new GateError('invalid_token', 'The access token is no longer valid; authorize again.', {
      headers: { 'www-authenticate': presented.challenge },
      keyId: result.keyId,
    })
  }
  throw creditsRefusal(result, price, details)
}

/**
 * What the served items of a held request cost (`served`: their indices, in any
 * order): the key's plan prices them as the period's next calls, so a failed call
 * of a batch does not push the ones after it past the free calls or into another tier.
 */
export function chargeForServed(
  hold: CreditHold,
  served: readonly number[]
): { amount: number; calls: number } {
  return {
    amount: chargeOfServed(hold.plan, hold.lists, hold.charges, served),
    calls: new Set(served).size,
  }
}
