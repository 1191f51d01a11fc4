/**
 * @module credits/account-reserve
 * One reserve on a key's account, inside the object's transaction: riding
 * settlements first, due lots expired, then the decision and the hold
 * (reserve-call); with `chargeNow`, the hold charged in full before the
 * transaction ends. The holder's alert rides back when this hold crosses it.
 * Settling holds on their own (settleMany) ends the same way.
 */
import type { AccountState } from './account-state'
import { expireDueLots } from './account-lots'
import { crossesAlert } from './holder-alert'
import { grantActive } from './oauth-grants'
import { writeBalance } from './reservations'
import { reserveCall } from './reserve-call'
import type { ReserveItem, ReserveRequest, ReserveResult, Settlement, SettleResult } from './types'

/**
 * A reserve, inside the object's transaction: riding settlements first, due lots
 * expired, then the checks and the hold (reserve-call); with `chargeNow`, the
 * hold charged in full before the transaction ends.
 */
export function reserveOnAccount(
  state: AccountState,
  request: ReserveRequest,
  items: ReserveItem[],
  now: number,
  writeRow = true
): ReserveResult {
  const before = state.account()
  if (!before) {
    const moved = state.aliasTarget()
    return moved
      ? { ok: false, reason: 'moved', account: moved }
      : { ok: false, reason: 'invalid_api_key' }
  }
  let row = state.applySettlements(before, request.settle ?? [], now)
  row = expireDueLots(state, row, now)
  const reserveState = {
    sql: state.sql,
    settings: state.settings(),
    holds: state.openHolds(),
    peekHoldId: () => state.peekHoldId(),
    nextHoldId: () => state.nextHoldId(),
    spendLots: (amount: number) => state.spendLots(amount, now),
    counters: state.counters,
  }
  // An OAuth grant pays only while bound here and unrevoked (credits/oauth-grants).
  const opens =
    state.opens(request.credential) &&
    (request.grant === undefined || grantActive(state.sql, request.grant))
  const decided = reserveCall(reserveState, row, request, items, opens, now)
  let { outcome, row: after } = decided
  if (request.chargeNow && outcome.ok && outcome.kind === 'reserved') {
    const charge = state.settleOne(
      after,
      { reservationId: outcome.reservationId, amount: outcome.amount, calls: items.length },
      now
    )
    after = charge.row
    if (charge.result.ok)
      outcome = { ...outcome, charged: true, available: charge.result.available }
  }
  if (writeRow && after !== before) writeBalance(state.sql, after)
  state.row = after
  // What was available before this reserve: the hold and any subscription fee it took.
  const alert = outcome.ok && outcome.kind === 'reserved' ? state.holderAlert() : null
  const crossed =
    alert !== null &&
    outcome.ok &&
    outcome.kind === 'reserved' &&
    crossesAlert(alert, outcome.available + outcome.amount + outcome.fee, outcome.available)
  return {
    ...outcome,
    keyId: before.id,
    ...(crossed ? { holderAlert: alert } : {}),
  } as ReserveResult
}

/** Settle holds in order, then take out credit lots that fell due (the caller's transaction). */
export function settleOnAccount(
  state: AccountState,
  settlements: Settlement[],
  now: number
): SettleResult[] {
  const before = state.account()
  if (!before) return settlements.map(() => ({ ok: false, reason: 'unknown_reservation' }))
  const results: SettleResult[] = []
  let row = before
  for (const settlement of settlements) {
    const applied = state.settleOne(row, settlement, now)
    row = applied.row
    results.push(applied.result)
  }
  row = expireDueLots(state, row, now)
  if (row !== before) writeBalance(state.sql, row)
  state.row = row
  return results
}
