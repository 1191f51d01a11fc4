/**
 * @module credits/idempotency
 * Idempotency-Key bookkeeping inside a key's account object: a key names one
 * request (by fingerprint) and the reservation that paid for it, so a retry is
 * charged once; a caller's own attempt ids likewise; and top-up references, so a
 * payment credits once. Called only inside the object's synchronous transactions.
 */

/** What an Idempotency-Key says about a new attempt. */
export type IdempotencyVerdict =
  | { kind: 'new' } // never seen, or the earlier attempt was not charged
  | { kind: 'mismatch' } // the key was used for a different request
  | { kind: 'partly-served' } // the earlier attempt was a batch of which only some calls were served
  | { kind: 'in-progress' } // the earlier attempt is still in flight
  | { kind: 'charged'; earlier: EarlierCharge } // the earlier attempt was charged: serve without charging again

/** The reservation that paid for an earlier attempt, in full. */
export interface EarlierCharge {
  reservationId: number
  charged: number
  calls: number
}

export function judgeIdempotency(
  sql: SqlStorage,
  key: string,
  fingerprint: string
): IdempotencyVerdict {
  const previous = sql
    .exec<{ fingerprint: string; reservation_id: number }>(
      'SELECT fingerprint, reservation_id FROM idempotency WHERE key = ?',
      key
    )
    .toArray()[0]
  if (!previous) return { kind: 'new' }
  if (previous.fingerprint !== fingerprint) return { kind: 'mismatch' }
  const hold = sql
    .exec<{
      state: string
      amount: number
      charged: number | null
      calls: number
      served: number | null
    }>(
      'SELECT state, amount, charged, calls, served FROM reservations WHERE id = ?',
      previous.reservation_id
    )
    .toArray()[0]
  if (!hold) return { kind: 'new' }
  if (hold.state === 'open') return { kind: 'in-progress' }
  if (hold.state !== 'committed') return { kind: 'new' } // released or expired: not charged, so this attempt pays
  // A replay is served free only when every call of the earlier attempt was served: a batch
  // with a failed call would have it served free on the retry. A plan may price the served
  // calls at the whole hold, so what was charged cannot tell; holds settled by older
  // versions did not record it, and are judged by what they were charged.
  const whole =
    hold.served !== null ? hold.served >= hold.calls : (hold.charged ?? 0) >= hold.amount
  if (!whole) return { kind: 'partly-served' }
  return {
    kind: 'charged',
    earlier: {
      reservationId: previous.reservation_id,
      charged: hold.charged ?? 0,
      calls: hold.calls,
    },
  }
}

/** Attempts are one call by construction: nothing to compare. */
export const ATTEMPT_FINGERPRINT = 'attempt'

/** Where a caller's own attempt id is remembered (beside clients' keys): a space, which no client key holds. */
export function attemptRecordKey(attempt: string): string {
  return `attempt ${attempt}`
}

/** The charge already made for a caller's own attempt, if a try of it was committed. */
export function chargedAttempt(sql: SqlStorage, attempt: string): EarlierCharge | null {
  const verdict = judgeIdempotency(sql, attemptRecordKey(attempt), ATTEMPT_FINGERPRINT)
  return verdict.kind === 'charged' ? verdict.earlier : null
}

/** Point the key at the reservation now paying for its request. */
export function rememberIdempotency(
  sql: SqlStorage,
  key: string,
  fingerprint: string,
  reservationId: number,
  now: number
): void {
  sql.exec(
    `INSERT INTO idempotency (key, fingerprint, reservation_id, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET reservation_id = excluded.reservation_id, created_at = excluded.created_at`,
    key,
    fingerprint,
    reservationId,
    now
  )
}

/**
 * Note a top-up's payment reference and amount. `repeat`: it was noted before for
 * this amount (a retry, a redelivered webhook: credit nothing); `conflict`: for
 * another amount (a reused key: refuse, rather than credit nothing in silence).
 */
export function noteTopUpReference(
  sql: SqlStorage,
  reference: string,
  amount: number,
  now: number
): 'new' | 'repeat' | 'conflict' {
  sql.exec(
    'CREATE TABLE IF NOT EXISTS topup_references (reference TEXT PRIMARY KEY, at INTEGER NOT NULL, amount INTEGER)'
  )
  // Tables made before the amount was kept gain it; their rows say nothing of it (null).
  const ddl = sql
    .exec<{ sql: string }>(
      `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'topup_references'`
    )
    .one().sql
  if (!ddl.includes('amount')) sql.exec('ALTER TABLE topup_references ADD COLUMN amount INTEGER')
  const seen = sql
    .exec<{ amount: number | null }>(
      'SELECT amount FROM topup_references WHERE reference = ?',
      reference
    )
    .toArray()[0]
  if (seen) return seen.amount === null || seen.amount === amount ? 'repeat' : 'conflict'
  sql.exec(
    'INSERT INTO topup_references (reference, at, amount) VALUES (?, ?, ?)',
    reference,
    now,
    amount
  )
  return 'new'
}
