/**
 * @module credits/account-settings
 * The slow-changing part of an account, beside its money: the key's policy and
 * plan, the credential that opens it after a rotation, its per-period counters,
 * subscription fees taken, and credits that expire. SQL only, run inside the
 * account object's synchronous transactions.
 */
import { periodKey } from './periods'
import { NO_POLICY, type AssignedPlan, type KeyPolicy, type Period, type UsageCount } from './types'

export interface AccountSettings {
  policy: KeyPolicy
  plan: AssignedPlan | null
  /** SHA-256 of the key that opens the account since its last rotation (null: never rotated). */
  credential: string | null
  rotatedAt: number | null
}

type SettingsRow = {
  policy: string | null
  plan: string | null
  credential: string | null
  rotated_at: number | null
}

export function readSettings(sql: SqlStorage): AccountSettings {
  const row = sql
    .exec<SettingsRow>(
      'SELECT policy, plan, credential, rotated_at FROM settings WHERE singleton = 1'
    )
    .toArray()[0]
  return {
    policy: row?.policy
      ? { ...NO_POLICY, ...(JSON.parse(row.policy) as Partial<KeyPolicy>) }
      : NO_POLICY,
    plan: row?.plan ? (JSON.parse(row.plan) as AssignedPlan) : null,
    credential: row?.credential ?? null,
    rotatedAt: row?.rotated_at ?? null,
  }
}

export function writeSettings(sql: SqlStorage, settings: AccountSettings): void {
  sql.exec(
    `INSERT INTO settings (singleton, policy, plan, credential, rotated_at) VALUES (1, ?, ?, ?, ?)
     ON CONFLICT (singleton) DO UPDATE SET policy = excluded.policy, plan = excluded.plan,
       credential = excluded.credential, rotated_at = excluded.rotated_at`,
    JSON.stringify(settings.policy),
    settings.plan ? JSON.stringify(settings.plan) : null,
    settings.credential,
    settings.rotatedAt
  )
}

/** Whether a call must read the period counters before its hold (a quota or a plan depends on them). */
export function readsUsage(settings: AccountSettings): boolean {
  return settings.plan !== null || settings.policy.quotas.length > 0
}

export function readCounter(sql: SqlStorage, period: Period, now: number): UsageCount {
  const row = sql
    .exec<{ calls: number; spend: number }>(
      'SELECT calls, spend FROM usage_counters WHERE period = ?',
      periodKey(period, now)
    )
    .toArray()[0]
  return row ?? { calls: 0, spend: 0 }
}

/**
 * Add to (or, with negative numbers, take back from) the day and month counters
 * of the instant `at`. Taking back never goes below 0.
 */
export function addToCounters(sql: SqlStorage, at: number, calls: number, spend: number): void {
  if (calls === 0 && spend === 0) return
  const [day, month] = [periodKey('day', at), periodKey('month', at)]
  if (calls >= 0 && spend >= 0) {
    // One statement for both periods: this runs with every hold.
    sql.exec(
      `INSERT INTO usage_counters (period, calls, spend) VALUES (?, ?, ?), (?, ?, ?)
       ON CONFLICT (period) DO UPDATE SET calls = calls + excluded.calls, spend = spend + excluded.spend`,
      day,
      calls,
      spend,
      month,
      calls,
      spend
    )
  } else {
    sql.exec(
      'UPDATE usage_counters SET calls = MAX(0, calls + ?), spend = MAX(0, spend + ?) WHERE period IN (?, ?)',
      calls,
      spend,
      day,
      month
    )
  }
}

/** Drop counters of periods long gone (a month and a day are kept: the current ones). */
export function pruneCounters(sql: SqlStorage, now: number): void {
  const keep = [periodKey('day', now), periodKey('month', now)]
  sql.exec(`DELETE FROM usage_counters WHERE period NOT IN (?, ?)`, ...keep)
}

/** Whether the subscription fee of the period has been taken. */
export function feeTaken(sql: SqlStorage, period: Period, now: number): boolean {
  return (
    sql.exec('SELECT 1 FROM plan_fees WHERE period = ?', periodKey(period, now)).toArray().length >
    0
  )
}

export function recordFee(sql: SqlStorage, period: Period, now: number, amount: number): void {
  sql.exec(
    'INSERT INTO plan_fees (period, amount, at) VALUES (?, ?, ?)',
    periodKey(period, now),
    amount,
    now
  )
}
