/**
 * @module credits/account-lots
 * Time on a key's account: the alarm's work (holds past their expiry released,
 * expired credit lots taken back), when it should wake next, and adding a lot of
 * credits that expire (a trial, a grant).
 */
import type { AccountRow } from './account-sql'
import type { AccountState } from './account-state'
import { expireLots, insertLot, nextLotExpiry } from './credit-lots'
import { appendLedger, expireHolds, nextExpiry, writeBalance } from './reservations'

/** The alarm's work: release every hold past its expiry and take expired credits back. False: no account. */
export function expireDue(state: AccountState, now: number): boolean {
  const row = state.account()
  if (!row) return false
  state.transact(() => {
    const expired = expireHolds(state.sql, row, state.openHolds(), now)
    for (const hold of expired.expired)
      if (hold.tracked) state.counters.add(hold.createdAt, -hold.calls, -hold.amount)
    state.row = expireLots(state.sql, expired.row, state.lots(), state.openHolds().values(), now)
  })
  return true
}

/** When the alarm should next wake: the earliest open hold's or lot's expiry. A lot past its expiry that still backs in-flight holds waits for them: no busy alarm. */
export function nextWake(state: AccountState, now: number): number | null {
  const lot = nextLotExpiry(state.lots().filter((entry) => entry.expiresAt > now))
  const hold = nextExpiry(state.openHolds())
  return lot === null ? hold : hold === null ? lot : Math.min(lot, hold)
}

/** Take expired lots out of the balance, if any is due (cheap when none is). */
export function expireDueLots(state: AccountState, row: AccountRow, now: number): AccountRow {
  const due = nextLotExpiry(state.lots())
  return due !== null && due <= now
    ? expireLots(state.sql, row, state.lots(), state.openHolds().values(), now)
    : row
}

export function addLot(
  state: AccountState,
  row: AccountRow,
  amount: number,
  expiresAt: number,
  label: string,
  now: number
): AccountRow {
  state.lots().push(insertLot(state.sql, amount, expiresAt, label))
  state.lots().sort((a, b) => a.expiresAt - b.expiresAt || a.id - b.id)
  const next = { ...row, balance: row.balance + amount, updated_at: now }
  writeBalance(state.sql, next)
  appendLedger(state.sql, {
    kind: 'grant',
    amount,
    balanceAfter: next.balance,
    at: now,
    label: `${label}, expire ${new Date(expiresAt).toISOString()}`,
  })
  return next
}
