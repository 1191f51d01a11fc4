/**
 * @module credits/waiting-calls
 * Holds waiting for an answer that may still come elsewhere: an MCP call whose
 * POST stream ended before its answer, which can arrive on a resumed stream
 * (MCP 2025-11-25 §Resumability). Each is named by its call (the session and
 * the JSON-RPC id) so the caller can give up on it: `notifications/cancelled`
 * lets one go, a session's DELETE lets all of the session's go. Only a call
 * marked waiting can be let go this way: one whose POST stream is still open is
 * settled by that stream, so a cancel can never race a charge for an answer
 * already handed on.
 */

export const WAITING_CALLS_TABLE = `
CREATE TABLE IF NOT EXISTS waiting_calls (
  call           TEXT PRIMARY KEY,
  session        TEXT NOT NULL,
  reservation_id INTEGER NOT NULL,
  created_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS waiting_calls_by_session ON waiting_calls (session);
`

/** Longest call and session names kept: a session id and a JSON-RPC id, bounded. */
const MAX_NAME_CHARS = 512

/** Mark an open hold as waiting for its answer; false when it is not open (already settled). */
export function markWaiting(
  sql: SqlStorage,
  reservationId: number,
  call: string,
  session: string,
  now: number
): boolean {
  if (call.length > MAX_NAME_CHARS || session.length > MAX_NAME_CHARS) return false
  const open =
    sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM reservations WHERE id = ? AND state = 'open'`,
        reservationId
      )
      .one().n > 0
  if (!open) return false
  sql.exec(
    'INSERT OR REPLACE INTO waiting_calls (call, session, reservation_id, created_at) VALUES (?, ?, ?, ?)',
    call,
    session,
    reservationId,
    now
  )
  return true
}

/** The holds waiting under one call, or under every call of a session; they are forgotten as they are returned. */
export function takeWaiting(
  sql: SqlStorage,
  which: { call: string } | { session: string }
): number[] {
  const rows =
    'call' in which
      ? sql
          .exec<{ reservation_id: number }>(
            'DELETE FROM waiting_calls WHERE call = ? RETURNING reservation_id',
            which.call
          )
          .toArray()
      : sql
          .exec<{ reservation_id: number }>(
            'DELETE FROM waiting_calls WHERE session = ? RETURNING reservation_id',
            which.session
          )
          .toArray()
  return rows.map((row) => row.reservation_id)
}

/** Forget waiting marks whose hold is settled or expired. */
export function pruneWaiting(sql: SqlStorage): void {
  sql.exec(
    `DELETE FROM waiting_calls WHERE reservation_id NOT IN (SELECT id FROM reservations WHERE state = 'open')`
  )
}
