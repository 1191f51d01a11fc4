/**
 * @module credits/settle-decision
 * Settling one hold, decided as a pure function: given the hold as the object
 * found it (open in memory, or as stored), the account row, the settlement and
 * the time, the result and the writes. reservations.settleHold finds the hold and
 * applies the writes, inside the object's transaction.
 */
import type { AccountRow } from './account-sql'
import type { OpenHold, SettledHold } from './reservations'
import type { LedgerKind, Settlement, SettleResult } from './types'

/** The hold a settlement names, as the object found it. */
export type SettleTarget =
  | { kind: 'unknown' }
  /** Settled before: what it was charged tells a repeat of a paid answer from a released one. */
  | { kind: 'settled'; charged: number }
  /** `open`: still holding its credits; otherwise the alarm expired it (it holds nothing now). */
  | { kind: 'hold'; id: number; hold: OpenHold; open: boolean }

export interface SettleWrite {
  id: number
  state: 'committed' | 'released'
  charged: number
  served: number
  /** The `charge` row, for a committed hold (written even when its plan made it free). */
  ledger: {
    kind: LedgerKind
    amount: number
    balanceAfter: number
    reservationId: number
    label: string | null
  } | null
}

export type SettleDecision = {
  result: SettleResult
  row: AccountRow
  settled?: SettledHold
  write?: SettleWrite
}

/** The hold id a settlement names, if it can name one. */
export function holdIdOf(reservationId: string): number | null {
  return /^[1-9][0-9]{0,15}$/.test(reservationId) ? Number(reservationId) : null
}

/**
 * Charge `amount` of the hold (at most what it held; 0 with no call served
 * releases it) and free the rest. A hold the alarm already expired no longer
 * holds credits, so a late success is charged only if the key can still pay.
 */
export function decideSettlement(
  target: SettleTarget,
  row: AccountRow,
  settlement: Settlement,
  now: number
): SettleDecision {
  if (target.kind === 'settled')
    return { result: { ok: false, reason: 'already_settled', charged: target.charged }, row }
  if (target.kind === 'unknown')
    return { result: { ok: false, reason: 'unknown_reservation' }, row }
  const { id, hold, open } = target
  const { amount } = settlement
  if (!Number.isSafeInteger(amount) || amount < 0 || amount > hold.amount)
    return { result: { ok: false, reason: 'over_reserved' }, row }
  const served = settlement.calls ?? (amount > 0 ? hold.calls : 0)
  if (!Number.isSafeInteger(served) || served < 0 || served > hold.calls)
    return { result: { ok: false, reason: 'over_reserved' }, row }
  const held = open ? row.held - hold.amount : row.held
  if (!open && amount > row.balance - held)
    return { result: { ok: false, reason: 'unfunded' }, row }
  const next: AccountRow = {
    ...row,
    balance: row.balance - amount,
    held,
    spent: row.spent + amount,
    updated_at: now,
  }
  const committed = amount > 0 || served > 0
  const ledger = committed
    ? {
        kind: 'charge' as const,
        amount: -amount,
        balanceAfter: next.balance,
        reservationId: id,
        label: hold.label,
      }
    : null
  return {
    result: { ok: true, charged: amount, available: next.balance - next.held },
    row: next,
    settled: { hold, charged: amount, served, expired: !open },
    write: { id, state: committed ? 'committed' : 'released', charged: amount, served, ledger },
  }
}
