/**
 * @module credits/reserve-decision
 * The reserve decision as a pure function: given what the account object read
 * (a snapshot), the request and the time, the outcome for the caller and the
 * writes that take the hold. No SQL, no clock, no state: reserve-call reads the
 * snapshot and applies the effects inside one synchronous transaction, so the
 * check and the write it guards still happen with no other call in between.
 * The checks, in order: the key opens the account, a charged try of the same
 * call, status, idempotency, rate limits, the key's tool lists, its plan's price,
 * quotas, lifetime cap and balance.
 */
import { effectiveStatus, type AccountRow } from './account-sql'
import {
  ATTEMPT_FINGERPRINT,
  attemptRecordKey,
  type EarlierCharge,
  type IdempotencyVerdict,
} from './idempotency'
import { periodKey } from './periods'
import { priceUnderPlan } from './plan-pricing'
import { brokenQuota, overLifetimeLimit, refusedTool } from './policy-check'
import {
  checkWindows,
  countWindows,
  keyLimit,
  type StoredWindow,
  type WindowWrite,
} from './rate-window'
import type { OpenHold } from './reservations'
import type {
  AssignedPlan,
  KeyPolicy,
  Period,
  ReserveItem,
  ReserveRequest,
  ReserveResult,
  UsageCount,
} from './types'

/** A reserve outcome before the object adds the key id. */
export type ReserveOutcome = ReserveResult extends infer R
  ? R extends { keyId?: string }
    ? Omit<R, 'keyId'>
    : R
  : never

/** Everything the decision reads, read by the object inside the transaction (reserve-call's readSnapshot). */
export interface ReserveSnapshot {
  /** The account, after the riding settlements and any due lot expiry. */
  row: AccountRow
  /** Whether the presented key opens the account (after a rotation, only the newest). */
  opens: boolean
  policy: KeyPolicy
  plan: AssignedPlan | null
  /** The charge already made for a try of this call (`request.attempt`), if one was charged. */
  paidAttempt: EarlierCharge | null
  /** What the request's Idempotency-Key says (null: the request has none). */
  idempotency: IdempotencyVerdict | null
  /** The stored window of each limit's bucket the request counts against (absent: never counted). */
  windows: ReadonlyMap<string, StoredWindow>
  /** This day's and month's calls and spend so far; zeros when neither a plan nor a quota needs them. */
  usage: { day: UsageCount; month: UsageCount }
  /** Whether the plan's subscription fee for the current period was taken. */
  feeTaken: boolean
  /** The id the hold takes if it is taken. */
  holdId: number
}

/** The writes that take a hold, applied in this order (reserve-call's applyReserve). */
export interface ReserveEffects {
  /** The account row after (the object writes it once, with whatever else the transaction did). */
  row: AccountRow
  /** A subscription's fee for the period, taken now: recorded, spent from lots, a `fee` ledger row. */
  fee: { period: Period; amount: number; label: string; balanceAfter: number } | null
  hold: { id: number; hold: OpenHold }
  /** Added to the day and month counters of `now`. */
  counters: UsageCount
  /** Idempotency records pointing at the hold: the client's key, then the caller's own attempt. */
  remember: Array<{ key: string; fingerprint: string }>
  /** Rate windows after counting the calls. */
  windows: WindowWrite[]
}

export type ReserveDecision = { outcome: ReserveOutcome; effects: ReserveEffects | null }

const ZERO: UsageCount = { calls: 0, spend: 0 }
export const NO_USAGE = { day: ZERO, month: ZERO }

/**
 * Decide a reserve. Refusals and replays have no effects; a hold has.
 * @param items the request's priced calls, checked (reserve-call's reserveItems)
 */
export function decide(
  snapshot: ReserveSnapshot,
  request: ReserveRequest,
  items: ReserveItem[],
  now: number
): ReserveDecision {
  const { row, policy, plan } = snapshot
  const refuse = (outcome: ReserveOutcome): ReserveDecision => ({ outcome, effects: null })
  if (!snapshot.opens) return refuse({ ok: false, reason: 'invalid_api_key' })
  // A try of a call already charged (its reply was lost): answered with that charge, before
  // anything that may have changed since (the key's expiry, say) could refuse a paid call.
  const paid = snapshot.paidAttempt
  if (paid) {
    const earlier = {
      reservationId: String(paid.reservationId),
      charged: paid.charged,
      calls: paid.calls,
    }
    return refuse({
      ok: true,
      kind: 'replayed',
      available: row.balance - row.held,
      earlier,
      own: true,
    })
  }
  const status = effectiveStatus(row, now)
  if (status !== 'active') return refuse({ ok: false, reason: `key_${status}` })
  const available = row.balance - row.held
  const verdict = snapshot.idempotency
  if (verdict) {
    if (verdict.kind === 'mismatch' || verdict.kind === 'partly-served')
      return refuse({ ok: false, reason: 'idempotency_mismatch', available })
    if (verdict.kind === 'in-progress')
      return refuse({ ok: false, reason: 'idempotency_in_progress', available })
    if (verdict.kind === 'charged') {
      const { reservationId, charged, calls } = verdict.earlier
      return refuse({
        ok: true,
        kind: 'replayed',
        available,
        earlier: { reservationId: String(reservationId), charged, calls },
        own: false,
      })
    }
  }
  const limits = limitsOf(row, request)
  const rate = checkWindows(snapshot.windows, limits, now)
  if (!rate.ok)
    return refuse({
      ok: false,
      reason: 'rate_limited',
      available,
      retryAfterSeconds: rate.retryAfterSeconds,
      rateLimit: rate.state,
    })

  const tool = refusedTool(policy, items)
  if (tool !== undefined) return refuse({ ok: false, reason: 'tool_not_allowed', available, tool })

  const used = snapshot.usage
  const definition = plan?.definition ?? null
  const callsBefore = definition ? used[definition.period].calls : 0
  const pricing = priceUnderPlan(
    definition,
    items.map((item) => item.price),
    callsBefore
  )
  if (!pricing.ok) return refuse({ ok: false, reason: 'plan_allowance_exhausted', available })
  // Only a batch is repriced by what it served (one call is served at what it held): the plan rides back for batches alone.
  const position = definition && items.length > 1 ? { definition, callsBefore } : null
  const amount = pricing.charges.reduce((sum, charge) => sum + charge, 0)
  // A subscription's fee is taken at the first call of each period.
  const fee =
    definition?.kind === 'subscription' && definition.fee > 0 && !snapshot.feeTaken
      ? definition.fee
      : 0

  const quota = brokenQuota(policy, used, items.length, amount, now)
  if (quota)
    return refuse({
      ok: false,
      reason: 'quota_exceeded',
      available,
      quota: quota.quota,
      retryAfterSeconds: quota.retryAfterSeconds,
    })
  if (overLifetimeLimit(policy, row.spent, row.held, amount + fee))
    return refuse({ ok: false, reason: 'spending_limit_reached', available })
  if (available < amount + fee)
    return refuse({ ok: false, reason: 'insufficient_credits', available, rateLimit: rate.state })

  let next: AccountRow = { ...row, updated_at: now }
  let feeEffect: ReserveEffects['fee'] = null
  if (fee > 0 && definition) {
    next = { ...next, balance: next.balance - fee, spent: next.spent + fee }
    const label = `${plan?.name} (${periodKey(definition.period, now).slice(2)})`
    feeEffect = { period: definition.period, amount: fee, label, balanceAfter: next.balance }
  }
  const id = snapshot.holdId
  const hold: OpenHold = {
    amount,
    calls: items.length,
    tracked: true,
    label: request.label,
    createdAt: now,
    expiresAt: now + request.holdMs,
  }
  const remember: ReserveEffects['remember'] = []
  if (request.idempotency)
    remember.push({ key: request.idempotency.key, fingerprint: request.idempotency.fingerprint })
  if (request.attempt !== undefined)
    remember.push({ key: attemptRecordKey(request.attempt), fingerprint: ATTEMPT_FINGERPRINT })
  const counted = countWindows(snapshot.windows, limits, now)
  next = { ...next, held: next.held + amount }
  return {
    outcome: {
      ok: true,
      kind: 'reserved',
      reservationId: String(id),
      amount,
      charges: pricing.charges,
      plan: position,
      fee,
      charged: false,
      available: next.balance - next.held,
      rateLimit: limits.length > 0 ? counted.state : undefined,
    },
    effects: {
      row: next,
      fee: feeEffect,
      hold: { id, hold },
      counters: { calls: items.length, spend: amount },
      remember,
      windows: counted.writes,
    },
  }
}

/** The limits a request counts against: the key's own first, then the route's and tools'. */
export function limitsOf(row: AccountRow, request: ReserveRequest): ReserveRequest['limits'] {
  const own = keyLimit(row)
  return own ? [own, ...request.limits] : request.limits
}
