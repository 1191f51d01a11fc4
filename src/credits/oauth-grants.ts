/**
 * @module credits/oauth-grants
 * The OAuth grants allowed to pay from an account (src/oauth binds them). Tokens
 * live in the provider's KV, which is eventually consistent; this table, inside
 * the account object every paid call reaches anyway, is what makes revoking a
 * grant stop its tokens at once. A grant unknown here pays nothing (fail closed).
 */

const GRANTS_TABLE = `
CREATE TABLE IF NOT EXISTS oauth_grants (
  id         TEXT PRIMARY KEY,
  client     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
`

/** What a grant id looks like (the provider's random ids: letters and digits). */
const GRANT_ID = /^[A-Za-z0-9_-]{1,128}$/

function hasGrants(sql: SqlStorage): boolean {
  return (
    sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'oauth_grants'`).toArray()
      .length > 0
  )
}

/** Whether the grant may pay from this account now. */
export function grantActive(sql: SqlStorage, grant: string): boolean {
  if (!GRANT_ID.test(grant) || !hasGrants(sql)) return false
  const row = sql
    .exec<{ revoked_at: number | null }>('SELECT revoked_at FROM oauth_grants WHERE id = ?', grant)
    .toArray()[0]
  return row !== undefined && row.revoked_at === null
}

/** Let a grant pay; false for a malformed id or one revoked before (a revoked grant stays revoked). */
export function bindGrant(sql: SqlStorage, grant: string, client: string, now: number): boolean {
  if (!GRANT_ID.test(grant)) return false
  sql.exec(GRANTS_TABLE)
  const row = sql
    .exec<{ revoked_at: number | null }>('SELECT revoked_at FROM oauth_grants WHERE id = ?', grant)
    .toArray()[0]
  if (row) return row.revoked_at === null
  sql.exec(
    'INSERT INTO oauth_grants (id, client, created_at, revoked_at) VALUES (?, ?, ?, NULL)',
    grant,
    client.slice(0, 512),
    now
  )
  return true
}

/** Stop a grant paying, for ever. True when it was bound here (revoked now or before). */
export function revokeGrant(sql: SqlStorage, grant: string, now: number): boolean {
  if (!GRANT_ID.test(grant) || !hasGrants(sql)) return false
  sql.exec('UPDATE oauth_grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', now, grant)
  return sql.exec('SELECT 1 FROM oauth_grants WHERE id = ?', grant).toArray().length > 0
}
