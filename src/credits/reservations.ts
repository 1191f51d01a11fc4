/**
 * @module credits/reservations
 * The SQL of holds and charges inside one account object: take a hold, settle
 * it (charge part or all of it, free the rest), expire the ones nobody settled,
 * and append ledger rows. Each function runs inside the object's synchronous
 * transaction and returns the account row as it is after its writes, so the
 * object can keep that row in memory instead of reading it back.
 */
import type { AccountRow, ReservationRow } from './account-sql'
import { decideSettlement, holdIdOf, type SettleTarget } from './settle-decision'
import type { LedgerKind, Settlement, SettleResult } from './types'

export function appendLedger(
  sql: SqlStorage,
  entry: {
    kind: LedgerKind
    amount: number
    balanceAfter: number
    at: number
    reservationId?: number | null
    label?: string | null
  }
): void {
  sql.exec(
    'INSERT INTO ledger (at, kind, amount, balance_after, reservation_id, label) VALUES (?, ?, ?, ?, ?, ?)',
    entry.at,
    entry.kind,
    entry.amount,
    entry.balanceAfter,
    entry.reservationId ?? null,
    entry.label ?? null
  )
}

/** Write the account's money columns from `row` (the hot path: holds and charges). */
export function writeBalance(sql: SqlStorage, row: AccountRow): void {
  sql.exec(
    'UPDATE account SET balance = ?, held = ?, spent = ?, updated_at = ? WHERE singleton = 1',
    row.balance,
    row.held,
    row.spent,
    row.updated_at
  )
}

/** Write the account's money, status and limit columns from `row`. */
export function writeAccount(sql: SqlStorage, row: AccountRow): void {
  sql.exec(
    'UPDATE account SET balance = ?, held = ?, spent = ?, status = ?, rate_limit = ?, rate_window = ?, updated_at = ? WHERE singleton = 1',
    row.balance,
    row.held,
    row.spent,
    row.status,
    row.rate_limit,
    row.rate_window,
    row.updated_at
  )
}

/** The highest hold id used so far (the object counts on from it). */
export function lastHoldId(sql: SqlStorage): number {
  return sql.exec<{ id: number | null }>('SELECT MAX(id) AS id FROM reservations').one().id ?? 0
}

/** Take hold `id`. The caller has checked the balance. */
export function insertHold(sql: SqlStorage, id: number, hold: OpenHold): void {
  sql.exec(
    `INSERT INTO reservations (id, amount, calls, tracked, state, label, created_at, expires_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?)`,
    id,
    hold.amount,
    hold.calls,
    hold.tracked ? 1 : 0,
    hold.label,
    hold.createdAt,
    hold.expiresAt
  )
}

/** An open hold as the object keeps it in memory. */
export interface OpenHold {
  amount: number
  /** How many calls it pays for (a batch holds several). */
  calls: number
  /** Whether its calls and amount were added to the period counters. */
  tracked: boolean
  label: string | null
  createdAt: number
  expiresAt: number
}

/** What a settled hold was, so the object can correct its counters and lots. */
export interface SettledHold {
  hold: OpenHold
  charged: number
  served: number
  /** The alarm had already expired the hold (and taken its calls and spend out of the counters). */
  expired: boolean
}

/** Every open hold, read once when an object starts (or after a failed transaction). */
export function loadOpenHolds(sql: SqlStorage): Map<number, OpenHold> {
  const holds = new Map<number, OpenHold>()
  for (const row of sql.exec<ReservationRow>(`SELECT * FROM reservations WHERE state = 'open'`)) {
    holds.set(row.id, {
      amount: row.amount,
      calls: row.calls,
      tracked: row.tracked === 1,
      label: row.label,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    })
  }
  return holds
}

/** The hold a settlement names: open in memory, or as stored (settled, or expired by the alarm). */
export function findHold(
  sql: SqlStorage,
  holds: Map<number, OpenHold>,
  reservationId: string
): SettleTarget {
  const id = holdIdOf(reservationId)
  if (id === null) return { kind: 'unknown' }
  const open = holds.get(id)
  if (open) return { kind: 'hold', id, hold: open, open: true }
  const stored = sql
    .exec<ReservationRow>('SELECT * FROM reservations WHERE id = ?', id)
    .toArray()[0]
  if (!stored) return { kind: 'unknown' }
  if (stored.state === 'committed' || stored.state === 'released')
    return { kind: 'settled', charged: stored.state === 'committed' ? (stored.charged ?? 0) : 0 }
  const hold = {
    amount: stored.amount,
    calls: stored.calls,
    tracked: stored.tracked === 1,
    label: stored.label,
    createdAt: stored.created_at,
    expiresAt: stored.expires_at,
  }
  return { kind: 'hold', id, hold, open: false }
}

/**
 * Settle a hold (settle-decision decides): writes the hold and its ledger row,
 * and returns the account row after, which the caller writes once for all it
 * did in the transaction.
 */
export function settleHold(
  sql: SqlStorage,
  row: AccountRow,
  holds: Map<number, OpenHold>,
  settlement: Settlement,
  now: number
): { result: SettleResult; row: AccountRow; settled?: SettledHold } {
  const decision = decideSettlement(
    findHold(sql, holds, settlement.reservationId),
    row,
    settlement,
    now
  )
  const write = decision.write
  if (write) {
    sql.exec(
      `UPDATE reservations SET state = ?, charged = ?, served = ?, settled_at = ? WHERE id = ?`,
      write.state,
      write.charged,
      write.served,
      now,
      write.id
    )
    if (write.ledger) appendLedger(sql, { ...write.ledger, at: now })
    holds.delete(write.id)
  }
  return { result: decision.result, row: decision.row, settled: decision.settled }
}

/**
 * Expire every hold past its time; returns the account row after (written) and
 * the holds expired, whose counted calls the caller takes back.
 */
export function expireHolds(
  sql: SqlStorage,
  row: AccountRow,
  holds: Map<number, OpenHold>,
  now: number
): { row: AccountRow; expired: OpenHold[] } {
  let due = 0
  const expired: OpenHold[] = []
  for (const [id, hold] of holds) {
    if (hold.expiresAt > now) continue
    due += hold.amount
    expired.push(hold)
    holds.delete(id)
  }
  if (expired.length === 0) return { row, expired }
  sql.exec(
    `UPDATE reservations SET state = 'expired', settled_at = ? WHERE state = 'open' AND expires_at <= ?`,
    now,
    now
  )
  const next = { ...row, held: row.held - due, updated_at: now }
  writeBalance(sql, next)
  return { row: next, expired }
}

/** The earliest expiry among open holds, or null. */
export function nextExpiry(holds: Map<number, OpenHold>): number | null {
  let next: number | null = null
  for (const hold of holds.values())
    if (next === null || hold.expiresAt < next) next = hold.expiresAt
  return next
}

/** Drop settled holds and idempotency keys older than `before`. */
export function pruneSettled(sql: SqlStorage, before: number): void {
  sql.exec(`DELETE FROM idempotency WHERE created_at < ?`, before)
  sql.exec(`DELETE FROM reservations WHERE state != 'open' AND settled_at < ?`, before)
}
