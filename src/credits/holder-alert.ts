/**
 * @module credits/holder-alert
 * The key holder's own low-balance alert: a webhook URL the holder set in the
 * portal, the secret its deliveries are signed with, and the threshold. Kept in
 * its own table of the account object (made when first set, so older accounts
 * need no schema upgrade) and read once per object start. A hold that takes the
 * available credits from at or above the threshold to below it carries the alert
 * in its answer; exactly one hold crosses on the way down, and a top-up re-arms it.
 * SQL only, run inside the account object's transactions.
 */

export interface HolderAlert {
  /** Checked by the caller against the webhook address guard before it is stored. */
  url: string
  /** Signs each delivery (HMAC-SHA256, as operator webhooks); shown to the holder once, when set. */
  secret: string
  /** Micro-dollars, above 0. */
  threshold: number
}

/** What the holder is shown of the alert: never the secret. */
export type HolderAlertView = Pick<HolderAlert, 'url' | 'threshold'>

const TABLE = `CREATE TABLE IF NOT EXISTS holder_alert (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  url       TEXT NOT NULL,
  secret    TEXT NOT NULL,
  threshold INTEGER NOT NULL CHECK (threshold > 0)
)`

export function readHolderAlert(sql: SqlStorage): HolderAlert | null {
  const exists =
    sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'holder_alert'`).toArray()
      .length > 0
  if (!exists) return null
  return (
    sql
      .exec<{ url: string; secret: string; threshold: number }>(
        'SELECT url, secret, threshold FROM holder_alert WHERE singleton = 1'
      )
      .toArray()[0] ?? null
  )
}

/** Replace the alert (null removes it). */
export function writeHolderAlert(sql: SqlStorage, alert: HolderAlert | null): void {
  sql.exec(TABLE)
  if (alert === null) {
    sql.exec('DELETE FROM holder_alert')
    return
  }
  sql.exec(
    `INSERT INTO holder_alert (singleton, url, secret, threshold) VALUES (1, ?, ?, ?)
     ON CONFLICT (singleton) DO UPDATE SET url = excluded.url, secret = excluded.secret, threshold = excluded.threshold`,
    alert.url,
    alert.secret,
    alert.threshold
  )
}

/** Whether a hold going from `before` to `after` available micro-dollars crosses the alert's threshold downwards. */
export function crossesAlert(
  alert: HolderAlert | null,
  before: number,
  after: number
): alert is HolderAlert {
  return alert !== null && before >= alert.threshold && after < alert.threshold
}
