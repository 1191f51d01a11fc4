/**
 * @module credits/reserve-call
 * Deciding one hold inside a key's account object: status, idempotency, rate
 * limits, the key's tool lists, its plan's price, quotas, lifetime cap and
 * balance, in that order; then the hold. Runs inside the object's synchronous
 * transaction (the object passes its state in), so every check and the write it
 * guards happen with no other call in between.
 */
import { effectiveStatus, type AccountRow } from './account-sql'
import { addToCounters, readsUsage, feeTaken, readCounter, recordFee, type AccountSettings } from './account-settings'
import { ATTEMPT_FINGERPRINT, attemptRecordKey, chargedAttempt, judgeIdempotency, rememberIdempotency } from './idempotency'
import { periodKey } from './periods'
import { priceUnderPlan } from './plan-pricing'
import { brokenQuota, overLifetimeLimit, refusedTool } from './policy-check'
import { checkLimits, countLimits, keyLimit } from './rate-window'
import { appendLedger, insertHold, type OpenHold } from './reservations'
import type { ReserveItem, ReserveRequest, ReserveResult, UsageCount } from './types'

/** A reserve outcome before the object adds the key id. */
export type ReserveOutcome = ReserveResult extends infer R ? (R extends { keyId?: string } ? Omit<R, 'keyId'> : R) : never

export interface ReserveState {
  sql: SqlStorage
  settings: AccountSettings
  holds: Map<number, OpenHold>
  nextHoldId: () => number
  /** Spend a fee from the credit lots, as a charge spends them. */
  spendLots: (amount: number) => void
}

/** The request's priced calls, checked: whole micro-dollars that add up to `amount`. */
export function reserveItems(request: ReserveRequest): ReserveItem[] {
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
    throw new RangeError(`reserve needs a positive integer amount, got ${request.amount}`)
  }
  const items = request.items ?? [{ price: request.amount }]
  let sum = 0
  for (const item of items) {
    if (!Number.isSafeInteger(item.price) || item.price < 0) throw new RangeError(`item price must be a whole number ≥ 0, got ${item.price}`)
    sum += item.price
  }
  if (items.length === 0 || sum !== request.amount) throw new RangeError(`items must add up to the amount (${sum} ≠ ${request.amount})`)
  return items
}

/**
 * Decide and, when everything passes, take the hold.
 * @returns the outcome and the account row after (unchanged when refused)
 */
export function reserveCall(
  state: ReserveState,
  row: AccountRow,
  request: ReserveRequest,
  items: ReserveItem[],
  now: number
): { outcome: ReserveOutcome; row: AccountRow } {
  const { sql, settings } = state
  const refuse = (outcome: ReserveOutcome) => ({ outcome, row })
  // A try of a call already charged (its reply was lost): answered with that charge, before
  // anything that may have changed since (the key's expiry, say) could refuse a paid call.
  const paid = request.attempt !== undefined ? chargedAttempt(sql, request.attempt) : null
  if (paid) {
    const earlier = { reservationId: String(paid.reservationId), charged: paid.charged, calls: paid.calls }
    return refuse({ ok: true, kind: 'replayed', available: row.balance - row.held, earlier, own: true })
  }
  const status = effectiveStatus(row, now)
  if (status !== 'active') return refuse({ ok: false, reason: `key_${status}` })
  const available = row.balance - row.held
  const idempotency = request.idempotency
  if (idempotency) {
    const verdict = judgeIdempotency(sql, idempotency.key, idempotency.fingerprint)
    if (verdict.kind === 'mismatch' || verdict.kind === 'partly-served') return refuse({ ok: false, reason: 'idempotency_mismatch', available })
    if (verdict.kind === 'in-progress') return refuse({ ok: false, reason: 'idempotency_in_progress', available })
    if (verdict.kind === 'charged') {
      const { reservationId, charged, calls } = verdict.earlier
      return refuse({ ok: true, kind: 'replayed', available, earlier: { reservationId: String(reservationId), charged, calls }, own: false })
    }
  }
  const own = keyLimit(row)
  const limits = own ? [own, ...request.limits] : request.limits
  const rate = checkLimits(sql, limits, now)
  if (!rate.ok) return refuse({ ok: false, reason: 'rate_limited', available, retryAfterSeconds: rate.retryAfterSeconds, rateLimit: rate.state })

  const { policy, plan } = settings
  const tool = refusedTool(policy, items)
  if (tool !== undefined) return refuse({ ok: false, reason: 'tool_not_allowed', available, tool })

  // Every call is counted (the key's usage view, quotas set later); only a plan or a quota needs to read the counts first.
  const zero: UsageCount = { calls: 0, spend: 0 }
  const used = readsUsage(settings) ? { day: readCounter(sql, 'day', now), month: readCounter(sql, 'month', now) } : { day: zero, month: zero }
  const definition = plan?.definition ?? null
  const callsBefore = definition ? used[definition.period].calls : 0
  const pricing = priceUnderPlan(definition, items.map((item) => item.price), callsBefore)
  // Only a batch is repriced by what it served (one call is served at what it held): the plan rides back for batches alone.
  const position = definition && items.length > 1 ? { definition, callsBefore } : null
  if (!pricing.ok) return refuse({ ok: false, reason: 'plan_allowance_exhausted', available })
  const amount = pricing.charges.reduce((sum, charge) => sum + charge, 0)
  // A subscription's fee is taken at the first call of each period.
  const fee = definition?.kind === 'subscription' && definition.fee > 0 && !feeTaken(sql, definition.period, now) ? definition.fee : 0

  const quota = brokenQuota(policy, used, items.length, amount, now)
  if (quota) return refuse({ ok: false, reason: 'quota_exceeded', available, quota: quota.quota, retryAfterSeconds: quota.retryAfterSeconds })
  if (overLifetimeLimit(policy, row.spent, row.held, amount + fee)) return refuse({ ok: false, reason: 'spending_limit_reached', available })
  if (available < amount + fee) return refuse({ ok: false, reason: 'insufficient_credits', available, rateLimit: rate.state })

  let next: AccountRow = { ...row, updated_at: now }
  if (fee > 0 && definition) {
    next = { ...next, balance: next.balance - fee, spent: next.spent + fee }
    recordFee(sql, definition.period, now, fee)
    state.spendLots(fee)
    appendLedger(sql, { kind: 'fee', amount: -fee, balanceAfter: next.balance, at: now, label: `${plan?.name} (${periodKey(definition.period, now).slice(2)})` })
  }
  const id = state.nextHoldId()
  const hold: OpenHold = { amount, calls: items.length, tracked: true, label: request.label, createdAt: now, expiresAt: now + request.holdMs }
  insertHold(sql, id, hold)
  state.holds.set(id, hold)
  addToCounters(sql, now, items.length, amount)
  if (idempotency) rememberIdempotency(sql, idempotency.key, idempotency.fingerprint, id, now)
  if (request.attempt !== undefined) rememberIdempotency(sql, attemptRecordKey(request.attempt), ATTEMPT_FINGERPRINT, id, now)
  const rateLimit = limits.length > 0 ? countLimits(sql, limits, now) : undefined
  next = { ...next, held: next.held + amount }
  return {
    outcome: { ok: true, kind: 'reserved', reservationId: String(id), amount, charges: pricing.charges, plan: position, fee, charged: false, available: next.balance - next.held, rateLimit },
    row: next,
  }
}
