/**
 * @module credits/credit-lots
 * Credits granted with an expiry (a trial): kept as lots beside the balance, which
 * includes them. A charge spends the lot that expires soonest first; at expiry
 * what is left of a lot leaves the balance with an `expire` ledger row. A lot can
 * never take back credits that in-flight calls hold, which are backed by the
 * soonest lots first: that part stays until those calls settle (they spend it)
 * or the next expiry pass takes what they left. Only a lot that had not expired
 * when a call was held backs it, or pays for it: an expired lot never pays for a
 * call that came after its expiry.
 */
import type { AccountRow } from './account-sql'
import { appendLedger, writeBalance } from './reservations'

export interface CreditLot {
  id: number
  remaining: number
  expiresAt: number
  label: string | null
}

type LotRow = { id: number; remaining: number; expires_at: number; label: string | null }

/** The lots with credits left, soonest expiry first. */
export function readLots(sql: SqlStorage): CreditLot[] {
  return sql
    .exec<LotRow>(
      'SELECT id, remaining, expires_at, label FROM credit_lots WHERE remaining > 0 ORDER BY expires_at, id'
    )
    .toArray()
    .map((row) => ({
      id: row.id,
      remaining: row.remaining,
      expiresAt: row.expires_at,
      label: row.label,
    }))
}

export function insertLot(
  sql: SqlStorage,
  amount: number,
  expiresAt: number,
  label: string | null
): CreditLot {
  const id = sql
    .exec<{ id: number }>(
      'INSERT INTO credit_lots (remaining, expires_at, label) VALUES (?, ?, ?) RETURNING id',
      amount,
      expiresAt,
      label
    )
    .one().id
  return { id, remaining: amount, expiresAt, label }
}

/**
 * Spend `amount` of a charge from the lots, soonest first (they are in that
 * order), among those not yet expired at `heldAt` (when the charge's hold was
 * taken, or now for a fee); the rest comes from paid credits.
 */
export function spendFromLots(
  sql: SqlStorage,
  lots: CreditLot[],
  amount: number,
  heldAt: number
): void {
  let left = amount
  for (const lot of lots) {
    if (left === 0) break
    if (lot.expiresAt <= heldAt) continue
    const taken = Math.min(lot.remaining, left)
    if (taken === 0) continue
    lot.remaining -= taken
    left -= taken
    sql.exec('UPDATE credit_lots SET remaining = ? WHERE id = ?', lot.remaining, lot.id)
  }
  dropEmpty(lots)
}

/**
 * Take what is left of every lot past its expiry out of the balance, except what
 * in-flight holds will spend from it. Writes the row and the ledger; returns the
 * row after.
 * @param holds the open holds: when each was taken, and what it holds
 */
export function expireLots(
  sql: SqlStorage,
  row: AccountRow,
  lots: CreditLot[],
  holds: Iterable<{ createdAt: number; amount: number }>,
  now: number
): AccountRow {
  let next = row
  // A charge spends the soonest lots unexpired when its hold was taken (spendFromLots), so what
  // calls in flight hold is backed by the lots in that order, each by the holds taken before it
  // expired: that part of a lot stays for them, and paid credits are never taken. The holds a lot
  // may back are a prefix of them by time, growing from one lot to the next.
  const byTime = [...holds].sort((a, b) => a.createdAt - b.createdAt)
  let eligibleLeft = 0
  let nextHold = 0
  for (const lot of lots) {
    while (
      nextHold < byTime.length &&
      (byTime[nextHold] as { createdAt: number }).createdAt < lot.expiresAt
    ) {
      eligibleLeft += (byTime[nextHold] as { amount: number }).amount
      nextHold++
    }
    const backing = Math.min(lot.remaining, eligibleLeft)
    eligibleLeft -= backing
    if (lot.expiresAt > now || lot.remaining === 0) continue
    const taken = Math.min(lot.remaining - backing, next.balance - next.held)
    if (taken <= 0) continue
    lot.remaining -= taken
    sql.exec('UPDATE credit_lots SET remaining = ? WHERE id = ?', lot.remaining, lot.id)
    next = { ...next, balance: next.balance - taken, updated_at: now }
    appendLedger(sql, {
      kind: 'expire',
      amount: -taken,
      balanceAfter: next.balance,
      at: now,
      label: lot.label ?? 'expiring credits',
    })
  }
  if (next !== row) writeBalance(sql, next)
  dropEmpty(lots)
  return next
}

function dropEmpty(lots: CreditLot[]): void {
  for (let index = lots.length - 1; index >= 0; index--)
    if ((lots[index] as CreditLot).remaining === 0) lots.splice(index, 1)
}

/** The earliest expiry among lots with credits left, or null. */
export function nextLotExpiry(lots: CreditLot[]): number | null {
  let next: number | null = null
  for (const lot of lots)
    if (lot.remaining > 0 && (next === null || lot.expiresAt < next)) next = lot.expiresAt
  return next
}
