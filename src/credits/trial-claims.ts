/**
 * @module credits/trial-claims
 * Free-trial accounts taken on the OAuth consent page, counted per day and per
 * client address inside the one key index object, so two claims at once can never
 * both pass a limit. Days are UTC dates; old days are pruned as new ones start.
 */

export const TRIAL_CLAIMS_SCHEMA = `
CREATE TABLE IF NOT EXISTS trial_claims (
  day     TEXT NOT NULL,
  address TEXT NOT NULL,
  count   INTEGER NOT NULL CHECK (count >= 0),
  PRIMARY KEY (day, address)
);
`

export interface TrialLimits {
  /** Trials one client address may take a day. */
  perAddress: number
  /** Trials everyone together may take a day. */
  perDay: number
}

/** Count one trial for `address` today, unless a limit is reached. */
export function claimTrial(
  sql: SqlStorage,
  address: string,
  day: string,
  limits: TrialLimits
): boolean {
  sql.exec('DELETE FROM trial_claims WHERE day < ?', day)
  const mine =
    sql
      .exec<{ count: number }>(
        'SELECT count FROM trial_claims WHERE day = ? AND address = ?',
        day,
        address
      )
      .toArray()[0]?.count ?? 0
  const all = sql
    .exec<{ total: number }>(
      'SELECT COALESCE(SUM(count), 0) AS total FROM trial_claims WHERE day = ?',
      day
    )
    .one().total
  if (mine >= limits.perAddress || all >= limits.perDay) return false
  sql.exec(
    'INSERT INTO trial_claims (day, address, count) VALUES (?, ?, 1) ON CONFLICT (day, address) DO UPDATE SET count = count + 1',
    day,
    address
  )
  return true
}

/** Give back a claim whose account could not be made (nothing is left half done). */
export function returnTrial(sql: SqlStorage, address: string, day: string): void {
  sql.exec(
    'UPDATE trial_claims SET count = count - 1 WHERE day = ? AND address = ? AND count > 0',
    day,
    address
  )
}
