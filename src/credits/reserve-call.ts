/**
 * @module credits/reserve-call
 * One hold inside a key's account object, in three steps: read what the decision
 * needs (readSnapshot), decide (reserve-decision, pure), and apply the decision's
 * writes (applyReserve). Runs inside the object's synchronous transaction (the
 * object passes its state in), so every check and the write it guards happen with
 * no other call in between.
 */
import type { AccountRow } from './account-sql'
import { readsUsage, feeTaken, recordFee, type AccountSettings } from './account-settings'
import type { CounterBuffer } from './counter-buffer'
import { appendLedger, insertHold, type OpenHold } from './reservations'
import { chargedAttempt, judgeIdempotency, rememberIdempotency } from './idempotency'
import {
  decide,
  limitsOf,
  NO_USAGE,
  type ReserveEffects,
  type ReserveOutcome,
  type ReserveSnapshot,
} from './reserve-decision'
import { readWindows, writeWindows } from './rate-window'
import type { ReserveItem, ReserveRequest } from './types'

export type { ReserveOutcome } from './reserve-decision'

export interface ReserveState {
  sql: SqlStorage
  settings: AccountSettings
  holds: Map<number, OpenHold>
  /** The id the next hold would take, without taking it. */
  peekHoldId: () => number
  nextHoldId: () => number
  /** Spend a fee from the credit lots, as a charge spends them. */
  spendLots: (amount: number) => void
  counters: CounterBuffer
}

/** The request's priced calls, checked: whole micro-dollars that add up to `amount`. */
export function reserveItems(request: ReserveRequest): ReserveItem[] {
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
    throw new RangeError(`reserve needs a positive integer amount, got ${request.amount}`)
  }
  const items = request.items ?? [{ price: request.amount }]
  let sum = 0
  for (const item of items) {
    if (!Number.isSafeInteger(item.price) || item.price < 0)
      throw new RangeError(`item price must be a whole number ≥ 0, got ${item.price}`)
    sum += item.price
  }
  if (items.length === 0 || sum !== request.amount)
    throw new RangeError(`items must add up to the amount (${sum} ≠ ${request.amount})`)
  return items
}

/** Read what `decide` needs for this request: only what its checks can look at. */
export function readSnapshot(
  state: ReserveState,
  row: AccountRow,
  request: ReserveRequest,
  opens: boolean,
  now: number
): ReserveSnapshot {
  const { sql, settings } = state
  const { policy, plan } = settings
  const definition = plan?.definition ?? null
  // Every call is counted (the key's usage view, quotas set later); only a plan or a quota needs to read the counts first.
  const usage = readsUsage(settings)
    ? { day: state.counters.read('day', now), month: state.counters.read('month', now) }
    : NO_USAGE
  const subscription = definition?.kind === 'subscription' && definition.fee > 0
  return {
    row,
    opens,
    policy,
    plan,
    paidAttempt: request.attempt !== undefined ? chargedAttempt(sql, request.attempt) : null,
    idempotency: request.idempotency
      ? judgeIdempotency(sql, request.idempotency.key, request.idempotency.fingerprint)
      : null,
    windows: readWindows(sql, limitsOf(row, request)),
    usage,
    feeTaken: subscription ? feeTaken(sql, definition.period, now) : false,
    holdId: state.peekHoldId(),
  }
}

/** Write what a decided hold takes: the fee, the hold, the counters, idempotency records and rate windows. */
export function applyReserve(state: ReserveState, effects: ReserveEffects, now: number): void {
  const { sql } = state
  const { fee, hold } = effects
  if (fee) {
    recordFee(sql, fee.period, now, fee.amount)
    state.spendLots(fee.amount)
    appendLedger(sql, {
      kind: 'fee',
      amount: -fee.amount,
      balanceAfter: fee.balanceAfter,
      at: now,
      label: fee.label,
    })
  }
  const id = state.nextHoldId()
  if (id !== hold.id) throw new Error(`hold id ${hold.id} was decided, ${id} is next`)
  insertHold(sql, id, hold.hold)
  state.holds.set(id, hold.hold)
  state.counters.add(now, effects.counters.calls, effects.counters.spend)
  for (const record of effects.remember)
    rememberIdempotency(sql, record.key, record.fingerprint, id, now)
  writeWindows(sql, effects.windows)
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
  opens: boolean,
  now: number
): { outcome: ReserveOutcome; row: AccountRow } {
  const { outcome, effects } = decide(
    readSnapshot(state, row, request, opens, now),
    request,
    items,
    now
  )
  if (!effects) return { outcome, row }
  applyReserve(state, effects, now)
  return { outcome, row: effects.row }
}
