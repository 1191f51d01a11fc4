/**
 * @module credits/account-sql
 * The SQLite schema of one key's account object and the row mapping. Every amount
 * column is an INTEGER of micro-dollars; CHECK constraints make a negative balance
 * or a negative hold impossible even if the code above them were wrong.
 */
import type { AccountView, EffectiveStatus, KeyStatus, LedgerEntry, LedgerKind } from './types'
import { WAITING_CALLS_TABLE } from './waiting-calls'

/*
 * No AUTOINCREMENT and no index beyond the primary keys: ledger rows are never
 * deleted, hold ids come from the object's own counter, and the only query that
 * scans holds is the alarm's, minutes apart. Each avoided write is per paid call.
 */
/**
 * The key's policy, plan and credential (rarely written, read once per object
 * start), its per-period counters, subscription fees taken, expiring credit lots,
 * and, in the object of a rotated-in key, the account it points to.
 */
export const POLICY_SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (
  singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
  policy     TEXT,
  plan       TEXT,
  credential TEXT,
  rotated_at INTEGER
);
CREATE TABLE IF NOT EXISTS usage_counters (
  period TEXT PRIMARY KEY,
  calls  INTEGER NOT NULL CHECK (calls >= 0),
  spend  INTEGER NOT NULL CHECK (spend >= 0)
);
CREATE TABLE IF NOT EXISTS plan_fees (
  period TEXT PRIMARY KEY,
  amount INTEGER NOT NULL,
  at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS credit_lots (
  id         INTEGER PRIMARY KEY,
  remaining  INTEGER NOT NULL CHECK (remaining >= 0),
  expires_at INTEGER NOT NULL,
  label      TEXT
);
`

const RESERVATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS reservations (
  id              INTEGER PRIMARY KEY,
  amount          INTEGER NOT NULL CHECK (amount >= 0),
  charged         INTEGER,
  calls           INTEGER NOT NULL DEFAULT 1,
  served          INTEGER,
  tracked         INTEGER NOT NULL DEFAULT 0,
  state           TEXT NOT NULL CHECK (state IN ('open', 'committed', 'released', 'expired')),
  label           TEXT,
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  settled_at      INTEGER
);
`

export const ACCOUNT_SCHEMA = `
CREATE TABLE IF NOT EXISTS account (
  singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
  id          TEXT NOT NULL,
  name        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
  balance     INTEGER NOT NULL CHECK (balance >= 0),
  held        INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= balance),
  expires_at  INTEGER,
  rate_limit  INTEGER,
  rate_window INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  spent       INTEGER NOT NULL DEFAULT 0 CHECK (spent >= 0)
);
CREATE TABLE IF NOT EXISTS ledger (
  seq            INTEGER PRIMARY KEY,
  at             INTEGER NOT NULL,
  kind           TEXT NOT NULL,
  amount         INTEGER NOT NULL,
  balance_after  INTEGER NOT NULL CHECK (balance_after >= 0),
  reservation_id INTEGER,
  label          TEXT
);
${RESERVATIONS_TABLE}
CREATE TABLE IF NOT EXISTS idempotency (
  key            TEXT PRIMARY KEY,
  fingerprint    TEXT NOT NULL,
  reservation_id INTEGER NOT NULL,
  created_at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_windows (
  bucket       TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count        INTEGER NOT NULL
);
${POLICY_SCHEMA}
${WAITING_CALLS_TABLE}`

/**
 * Bring an account made by an earlier version up to this schema: new tables, the
 * lifetime `spent` column, and holds that may be 0 (a plan's free call) and know
 * how many calls they pay for and how many of those were served. Every step
 * checks what is there, so an upgrade cut short is finished the next time. The
 * caller runs it inside a transaction.
 */
export function upgradeAccountSchema(sql: SqlStorage): void {
  const ddl = new Map(
    sql
      .exec<{ name: string; sql: string }>(
        `SELECT name, sql FROM sqlite_master WHERE type = 'table'`
      )
      .toArray()
      .map((t) => [t.name, t.sql])
  )
  const holds = ddl.get('reservations')
  const current =
    ddl.has('settings') &&
    ddl.has('waiting_calls') &&
    ddl.get('account')?.includes('spent') &&
    holds?.includes('served') &&
    !ddl.has('reservations_v1')
  if (current) return
  sql.exec(POLICY_SCHEMA)
  sql.exec(WAITING_CALLS_TABLE)
  if (!ddl.get('account')?.includes('spent')) {
    sql.exec('ALTER TABLE account ADD COLUMN spent INTEGER NOT NULL DEFAULT 0')
    sql.exec(
      `UPDATE account SET spent = (SELECT COALESCE(-SUM(amount), 0) FROM ledger WHERE kind = 'charge')`
    )
  }
  const oldHolds = holds !== undefined && !holds.includes('tracked')
  if (oldHolds && !ddl.has('reservations_v1'))
    sql.exec('ALTER TABLE reservations RENAME TO reservations_v1')
  // Holds that know how many calls they pay for, but not how many of those were served.
  if (holds?.includes('tracked') && !holds.includes('served'))
    sql.exec('ALTER TABLE reservations ADD COLUMN served INTEGER')
  sql.exec(RESERVATIONS_TABLE)
  if (ddl.has('reservations_v1') || oldHolds) copyOldHolds(sql)
}

/**
 * Move holds from the old table. Ids that are whole numbers keep their id; the
 * earliest development builds used text ids, which no settlement can name any
 * more, so those holds are released (never charged) rather than left held.
 */
function copyOldHolds(sql: SqlStorage): void {
  const numeric = `(typeof(id) = 'integer' OR (id GLOB '[1-9]*' AND id NOT GLOB '*[^0-9]*' AND length(id) <= 15))`
  sql.exec(
    `INSERT OR IGNORE INTO reservations (id, amount, charged, state, label, created_at, expires_at, settled_at)
     SELECT CAST(id AS INTEGER), amount, charged, state, label, created_at, expires_at, settled_at FROM reservations_v1 WHERE ${numeric}`
  )
  const stranded = sql
    .exec<{ held: number }>(
      `SELECT COALESCE(SUM(amount), 0) AS held FROM reservations_v1 WHERE state = 'open' AND NOT ${numeric}`
    )
    .one().held
  if (stranded > 0)
    sql.exec('UPDATE account SET held = MAX(0, held - ?) WHERE singleton = 1', stranded)
  sql.exec('DROP TABLE reservations_v1')
}

export type AccountRow = {
  id: string
  name: string
  status: KeyStatus
  balance: number
  held: number
  expires_at: number | null
  rate_limit: number | null
  rate_window: number | null
  created_at: number
  updated_at: number
  spent: number
}

export type ReservationRow = {
  id: number
  amount: number
  calls: number
  tracked: number
  charged: number | null
  /** How many of its calls were served, once committed (null before, and on holds settled by older versions). */
  served: number | null
  state: 'open' | 'committed' | 'released' | 'expired'
  label: string | null
  created_at: number
  expires_at: number
}

type LedgerRow = {
  seq: number
  at: number
  kind: string
  amount: number
  balance_after: number
  reservation_id: number | null
  label: string | null
}

export function effectiveStatus(row: AccountRow, now: number): EffectiveStatus {
  if (row.status === 'active' && row.expires_at !== null && now >= row.expires_at) return 'expired'
  return row.status
}

/** What the view shows beyond the account row (policy, plan, lots, counters). */
export type ViewExtras = Pick<
  AccountView,
  'policy' | 'plan' | 'expiringCredits' | 'usage' | 'rotatedAt' | 'inFlight'
>

export function toView(row: AccountRow, now: number, extras: ViewExtras): AccountView {
  return {
    id: row.id,
    name: row.name,
    status: effectiveStatus(row, now),
    balance: row.balance,
    held: row.held,
    available: row.balance - row.held,
    expiresAt: row.expires_at,
    rateLimit:
      row.rate_limit !== null && row.rate_window !== null
        ? { limit: row.rate_limit, windowSeconds: row.rate_window }
        : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    spent: row.spent,
    ...extras,
  }
}

export function toLedgerEntry(row: LedgerRow): LedgerEntry {
  return {
    seq: row.seq,
    at: row.at,
    kind: row.kind as LedgerKind,
    amount: row.amount,
    balanceAfter: row.balance_after,
    reservationId: row.reservation_id === null ? null : String(row.reservation_id),
    label: row.label,
  }
}

export type { LedgerRow }
