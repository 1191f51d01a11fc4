/**
 * @module gate/credits-payment
 * Paying with prepaid credits: find the caller's key, hold the price in the key's
 * account object before the origin is called, and settle the hold exactly once
 * afterwards: charge what was served, release what was not.
 */
import {
  hashApiKey,
  looksLikeApiKey,
  presentedKey,
  reserveCredits,
  type AccountNamespace,
  type LimitCheck,
  type RateLimitState,
} from '../credits'
import { GateError } from '../errors'
import { formatDollars } from '../money'
import { notifyIfLowBalance } from '../notify'
import type { SettlementQueue } from './settlement-queue'

/** How long a hold outlives the origin's timeout before the alarm frees it. */
const HOLD_MARGIN_MS = 10 * 60 * 1000

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

export interface CreditHold {
  keyHash: string
  /** The admin key id (not secret), for usage records. */
  keyId: string
  /** Null when the call is an idempotent replay and nothing was held. */
  reservationId: string | null
  amount: number
  available: number
  rateLimit?: RateLimitState
}

export interface HoldRequest {
  amount: number
  label: string
  limits: LimitCheck[]
  timeoutMs: number
  /** Identifies the request for Idempotency-Key reuse checks (a hash of it). */
  fingerprint: () => Promise<string>
  /** Shown in denials: what is being bought. */
  describe: Record<string, unknown>
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
  ride: { queue: SettlementQueue; waitUntil: (promise: Promise<unknown>) => void }
): Promise<CreditHold> {
  const price = formatDollars(request.amount)
  const details = { price, ...request.describe, howToPay: HOW_TO_PAY }
  const presented = presentedKey(headers)
  if (presented.kind === 'none') {
    throw new GateError('missing_api_key', `This call costs $${price}. Send an API key to pay for it.`, {
      details,
      headers: { 'www-authenticate': 'Bearer realm="pay-gate"' },
    })
  }
  // A string that cannot be one of our keys never costs an object lookup.
  if (!looksLikeApiKey(presented.key)) {
    throw new GateError('invalid_api_key', 'The API key is not valid.', { details })
  }
  const idempotencyKey = headers.get('idempotency-key')
  if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new GateError('invalid_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters.')
  }
  const keyHash = await hashApiKey(presented.key)
  // Earlier calls' settlements on this key ride along with this hold.
  const settle = ride.queue.take(keyHash)
  const result = await reserveCredits(namespace, keyHash, {
    settle,
    amount: request.amount,
    holdMs: request.timeoutMs + HOLD_MARGIN_MS,
    label: request.label,
    limits: request.limits,
    idempotency: idempotencyKey ? { key: idempotencyKey, fingerprint: await request.fingerprint() } : undefined,
  })
  if (!result.ok && result.reason === 'ledger_unavailable') ride.queue.putBack(namespace, keyHash, settle, ride.waitUntil)
  if (result.ok) {
    if (result.kind === 'reserved') notifyIfLowBalance(result.keyId, result.available + request.amount, result.available, ride.waitUntil)
    return {
      keyHash,
      keyId: result.keyId,
      reservationId: result.kind === 'reserved' ? result.reservationId : null,
      amount: result.kind === 'reserved' ? request.amount : 0,
      available: result.available,
      rateLimit: result.rateLimit,
    }
  }
  const keyId = result.reason !== 'ledger_unavailable' ? result.keyId : undefined
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
    case 'idempotency_in_progress':
      throw new GateError('idempotency_in_progress', 'A request with this Idempotency-Key is still in progress.', { keyId })
    case 'idempotency_mismatch':
      throw new GateError('idempotency_mismatch', 'This Idempotency-Key was used for a different request.', { keyId })
    case 'ledger_unavailable':
      throw new GateError('ledger_unavailable', 'Payments cannot be checked right now; nothing was charged.', {
        headers: { 'retry-after': '1' },
      })
  }
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

  /** Charge `amount` (at most the hold; 0 releases it all). Later calls do nothing. */
  settle(amount: number): void {
    if (this.done) return
    this.done = true
    const { reservationId, keyHash } = this.hold
    if (reservationId === null) return
    this.queue.add(this.namespace, keyHash, { reservationId, amount: Math.min(amount, this.hold.amount) }, this.waitUntil)
  }
}
