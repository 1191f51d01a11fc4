/**
 * @module credits/reservations
 * The SQL of holds and charges inside one account object: take a hold, settle
 * it (charge part or all of it, free the rest), expire the ones nobody settled,
 * and append ledger rows. Each function runs inside the object's synchronous
 * transaction and returns the account row as it is after its writes, so the
 * object can keep that row in memory instead of reading it back.
 */
import type { AccountRow, ReservationRow } from './account-sql'
import type { LedgerKind, SettleResult } from './types'

export function appendLedger(
  sql: SqlStorage,
  entry: { kind: LedgerKind; amount: number; balanceAfter: number; at: number; reservationId?: number | null; label?: string | null }
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
  sql.exec('UPDATE account SET balance = ?, held = ?, updated_at = ? WHERE singleton = 1', row.balance, row.held, row.updated_at)
}

/** Write the account's money, status and limit columns from `row`. */
export function writeAccount(sql: SqlStorage, row: AccountRow): void {
  sql.exec(
    'UPDATE account SET balance = ?, held = ?, status = ?, rate_limit = ?, rate_window = ?, updated_at = ? WHERE singleton = 1',
    row.balance,
    row.held,
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
export function insertHold(sql: SqlStorage, id: number, amount: number, label: string, now: number, expiresAt: number): void {
  sql.exec(
    `INSERT INTO reservations (id, amount, state, label, created_at, expires_at) VALUES (?, ?, 'open', ?, ?, ?)`,
    id,
    amount,
    label,
    now,
    expiresAt
  )
}

/** An open hold as the object keeps it in memory. */
export interface OpenHold {
  amount: number
  label: string | null
  expiresAt: number
}

/** Every open hold, read once when an object starts (or after a failed transaction). */
export function loadOpenHolds(sql: SqlStorage): Map<number, OpenHold> {
  const holds = new Map<number, OpenHold>()
  for (const row of sql.exec<ReservationRow>(`SELECT * FROM reservations WHERE state = 'open'`)) {
    holds.set(row.id, { amount: row.amount, label: row.label, expiresAt: row.expires_at })
  }
  return holds
}

/**
 * Settle a hold: charge `amount` (at most what was held; 0 releases it) and free
 * the rest. Writes the hold and the ledger; returns the account row after, which
 * the caller writes once for all it did in the transaction. A hold the alarm
 * already expired no longer holds credits, so a late success is charged only if
 * the key can still pay for it.
 */
export function settleHold(
  sql: SqlStorage,
  row: AccountRow,
  holds: Map<number, OpenHold>,
  reservationId: string,
  amount: number,
  now: number
): { result: SettleResult; row: AccountRow } {
  const id = /^[1-9][0-9]{0,15}$/.test(reservationId) ? Number(reservationId) : null
  let hold: { amount: number; label: string | null; open: boolean } | undefined
  const open = id === null ? undefined : holds.get(id)
  if (open) hold = { ...open, open: true }
  else if (id !== null) {
    const stored = sql.exec<ReservationRow>('SELECT * FROM reservations WHERE id = ?', id).toArray()[0]
    if (stored && (stored.state === 'committed' || stored.state === 'released')) return { result: { ok: false, reason: 'already_settled' }, row }
    if (stored) hold = { amount: stored.amount, label: stored.label, open: false }
  }
  if (!hold || id === null) return { result: { ok: false, reason: 'unknown_reservation' }, row }
  if (!Number.isSafeInteger(amount) || amount < 0 || amount > hold.amount) return { result: { ok: false, reason: 'over_reserved' }, row }
  const held = hold.open ? row.held - hold.amount : row.held
  if (!hold.open && amount > row.balance - held) return { result: { ok: false, reason: 'unfunded' }, row }
  const next: AccountRow = { ...row, balance: row.balance - amount, held, updated_at: now }
  sql.exec(`UPDATE reservations SET state = ?, charged = ?, settled_at = ? WHERE id = ?`, amount > 0 ? 'committed' : 'released', amount, now, id)
  if (amount > 0) appendLedger(sql, { kind: 'charge', amount: -amount, balanceAfter: next.balance, at: now, reservationId: id, label: hold.label })
  holds.delete(id)
  return { result: { ok: true, charged: amount, available: next.balance - next.held }, row: next }
}

/** Expire every hold past its time; returns the account row after (written). */
export function expireHolds(sql: SqlStorage, row: AccountRow, holds: Map<number, OpenHold>, now: number): AccountRow {
  let due = 0
  for (const [id, hold] of holds) {
    if (hold.expiresAt > now) continue
    due += hold.amount
    holds.delete(id)
  }
  if (!due) return row
  sql.exec(`UPDATE reservations SET state = 'expired', settled_at = ? WHERE state = 'open' AND expires_at <= ?`, now, now)
  const next = { ...row, held: row.held - due, updated_at: now }
  writeBalance(sql, next)
  return next
}

/** The earliest expiry among open holds, or null. */
export function nextExpiry(holds: Map<number, OpenHold>): number | null {
  let next: number | null = null
  for (const hold of holds.values()) if (next === null || hold.expiresAt < next) next = hold.expiresAt
  return next
}

/** Drop settled holds and idempotency keys older than `before`. */
export function pruneSettled(sql: SqlStorage, before: number): void {
  sql.exec(`DELETE FROM idempotency WHERE created_at < ?`, before)
  sql.exec(`DELETE FROM reservations WHERE state != 'open' AND settled_at < ?`, before)
}
