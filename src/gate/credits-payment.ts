/**
 * @module gate/credits-payment
 * Paying with prepaid credits: find the caller's key, hold the price in the key's
 * account object before the origin is called, and settle the hold exactly once
 * afterwards: charge what was served, release what was not.
 */
import {
  accountNameOf,
  chargeOfServed,
  hashApiKey,
  looksLikeApiKey,
  presentedKey,
  reserveCredits,
  type AccountNamespace,
  type Caller,
  type LimitCheck,
  type PlanPosition,
  type RateLimitState,
  type ReserveItem,
} from '../credits'
import { GateError } from '../errors'
import { formatDollars } from '../money'
import { notifyIfLowBalance } from '../notify'
import type { SettlementQueue } from './settlement-queue'

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
export async function fingerprintOf(method: string, path: string, body: Uint8Array | null): Promise<string> {
  const head = new TextEncoder().encode(`${method} ${path}\n`)
  const whole = new Uint8Array(head.byteLength + (body?.byteLength ?? 0))
  whole.set(head)
  if (body) whole.set(body, head.byteLength)
  const digest = await crypto.subtle.digest('SHA-256', whole)
  return btoa(String.fromCharCode(...new Uint8Array(digest)))
}

function rateLimitHeaders(state: RateLimitState | undefined): Record<string, string> {
  if (!state) return {}
  return {
    'x-ratelimit-limit': String(state.limit),
    'x-ratelimit-remaining': String(Math.max(0, state.remaining)),
    'x-ratelimit-reset': String(state.resetSeconds),
  }
}

/** Headers a paid response carries: what is left, and the rate limit state. */
export function holdHeaders(hold: CreditHold): Record<string, string> {
  return { 'x-credits-remaining': formatDollars(hold.available), ...rateLimitHeaders(hold.rateLimit) }
}

const HOW_TO_PAY = {
  credits: 'Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>"; GET /balance shows what is left.',
}

/**
 * Hold the price of a call on the caller's key.
 * @throws GateError with the reason and what a caller needs to act on it
 */
export async function holdCredits(
  namespace: AccountNamespace,
  headers: Headers,
  request: HoldRequest,
  ride: { queue: SettlementQueue; waitUntil: (promise: Promise<unknown>) => void },
  presented: Caller = presentedKey(headers)
): Promise<CreditHold> {
  const price = formatDollars(request.amount)
  const details = { price, ...request.describe, howToPay: HOW_TO_PAY }
  if (presented.kind === 'none') {
    throw new GateError('missing_api_key', `This call costs $${price}. Send an API key to pay for it.`, {
      details,
      headers: { 'www-authenticate': 'Bearer realm="pay-gate"' },
    })
  }
  // A string that cannot be one of our keys never costs an object lookup.
  if (presented.kind === 'key' && !looksLikeApiKey(presented.key)) {
    throw new GateError('invalid_api_key', 'The API key is not valid.', { details })
  }
  const idempotencyKey = headers.get('idempotency-key')
  if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new GateError('invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters.')
  }
  const keyHash = presented.kind === 'token' ? presented.keyHash : await hashApiKey(presented.key)
  // Earlier calls' settlements on this key's account ride along with this hold.
  const account = accountNameOf(keyHash)
  const settle = ride.queue.take(account)
  const result = await reserveCredits(namespace, keyHash, {
    settle,
    amount: request.amount,
    items: request.items,
    holdMs: request.timeoutMs + Math.max(HOLD_MARGIN_MS, request.waitMs ?? 0),
    label: request.label,
    limits: request.limits,
    idempotency: idempotencyKey ? { key: idempotencyKey, fingerprint: await request.fingerprint() } : undefined,
    attempt: request.attempt,
    chargeNow: request.chargeNow,
    ...(presented.kind === 'token' ? { grant: presented.grant } : {}),
  })
  if (!result.ok && result.reason === 'ledger_unavailable') ride.queue.putBack(namespace, account, settle, ride.waitUntil)
  if (result.ok) {
    const lists = (request.items ?? [{ price: request.amount }]).map((item) => item.price)
    const reserved = result.kind === 'reserved'
    // What was available before this reserve: the hold and any subscription fee it took.
    if (reserved) notifyIfLowBalance(result.keyId, result.available + result.amount + result.fee, result.available, ride.waitUntil)
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
  const keyId = result.reason !== 'ledger_unavailable' ? result.keyId : undefined
  // A token whose grant or key was revoked, or whose key was rotated: RFC 6750 §3.1 invalid_token, so the client authorizes again.
  if (presented.kind === 'token' && (result.reason === 'invalid_api_key' || result.reason === 'key_revoked')) {
    throw new GateError('invalid_token', 'The access token is no longer valid; authorize again.', { headers: { 'www-authenticate': presented.challenge }, keyId })
  }
  const credits = result.reason !== 'ledger_unavailable' && result.available !== undefined ? formatDollars(result.available) : undefined
  const withBalance = { ...details, ...(credits !== undefined ? { credits } : {}) }
  switch (result.reason) {
    case 'insufficient_credits':
      throw new GateError('insufficient_credits', `This call costs $${price}; the key has $${credits ?? '0'} left.`, {
        details: withBalance,
        headers: rateLimitHeaders(result.rateLimit),
        keyId,
      })
    case 'rate_limited': {
      const retry = String(result.retryAfterSeconds ?? 1)
      throw new GateError('rate_limited', `Rate limit reached; retry in ${retry} s.`, {
        details: { ...withBalance, retryAfterSeconds: result.retryAfterSeconds },
        headers: { 'retry-after': retry, ...rateLimitHeaders(result.rateLimit) },
        keyId,
      })
    }
    case 'invalid_api_key':
      throw new GateError('invalid_api_key', 'The API key is not valid.', { details, keyId })
    case 'key_suspended':
      throw new GateError('key_suspended', 'The API key is suspended.', { details: withBalance, keyId })
    case 'key_revoked':
      throw new GateError('key_revoked', 'The API key has been revoked.', { details, keyId })
    case 'key_expired':
      throw new GateError('key_expired', 'The API key has expired.', { details: withBalance, keyId })
    case 'tool_not_allowed':
      throw new GateError('tool_not_allowed', `This key may not call ${result.tool ? `the tool "${result.tool}"` : 'this tool'}.`, {
        details: { ...details, ...(result.tool ? { tool: result.tool } : {}) },
        keyId,
      })
    case 'quota_exceeded': {
      const quota = result.quota
      const retry = String(result.retryAfterSeconds ?? 1)
      const what = quota ? `${quota.metric === 'calls' ? `${quota.limit} calls` : `$${formatDollars(quota.limit)}`} a ${quota.period}` : 'its quota'
      throw new GateError('quota_exceeded', `This key has used its quota of ${what}; it resets in ${retry} s.`, {
        details: { ...withBalance, ...(quota ? { quota: { period: quota.period, metric: quota.metric, limit: quota.metric === 'spend' ? formatDollars(quota.limit) : quota.limit } } : {}), retryAfterSeconds: result.retryAfterSeconds },
        headers: { 'retry-after': retry },
        keyId,
      })
    }
    case 'spending_limit_reached':
      throw new GateError('spending_limit_reached', `This call would take the key past its lifetime spending limit.`, { details: withBalance, keyId })
    case 'plan_allowance_exhausted':
      throw new GateError('plan_allowance_exhausted', `The key's plan has no calls left this period.`, { details: withBalance, keyId })
    case 'idempotency_in_progress':
      throw new GateError('idempotency_in_progress', 'A request with this Idempotency-Key is still in progress.', { keyId })
    case 'idempotency_mismatch':
      throw new GateError('idempotency_mismatch', 'This Idempotency-Key was used for a different request, or for a batch that was served only in part: send a new key.', { keyId })
    case 'ledger_unavailable':
      throw new GateError('ledger_unavailable', 'Payments cannot be checked right now; nothing was charged.', {
        headers: { 'retry-after': '1' },
      })
  }
}

/**
 * What the served items of a held request cost (`served`: their indices, in any
 * order): the key's plan prices them as the period's next calls, so a failed call
 * of a batch does not push the ones after it past the free calls or into another tier.
 */
export function chargeForServed(hold: CreditHold, served: readonly number[]): { amount: number; calls: number } {
  return { amount: chargeOfServed(hold.plan, hold.lists, hold.charges, served), calls: new Set(served).size }
}

/**
 * Settles a hold exactly once, however many times and from wherever it is asked
 * (stream end, cancel, error): the settlement joins the key's queue, to ride with
 * its next hold or be flushed shortly.
 */
export class HoldSettlement {
  private done = false

  constructor(
    private readonly namespace: AccountNamespace,
    private readonly hold: CreditHold,
    private readonly queue: SettlementQueue,
    private readonly waitUntil: (promise: Promise<unknown>) => void
  ) {}

  /** The call was served: charge the whole hold. */
  served(): void {
    this.settle(this.hold.amount, this.hold.charges.length)
  }

  /** The call failed or was not delivered: release the hold. */
  failed(): void {
    this.settle(0, 0)
  }

  /**
   * Charge `amount` of the hold (at most all of it) for `calls` served calls; the
   * rest is released. Later calls do nothing.
   */
  settle(amount: number, calls: number): void {
    if (this.done) return
    this.done = true
    const { reservationId, keyHash } = this.hold
    if (reservationId === null) return
    const settlement = { reservationId, amount: Math.min(amount, this.hold.amount), calls: Math.min(calls, this.hold.charges.length) }
    this.queue.add(this.namespace, keyHash, settlement, this.waitUntil)
  }
}
