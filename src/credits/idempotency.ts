/**
 * @module credits/idempotency
 * Idempotency-Key bookkeeping inside a key's account object: a key names one
 * request (by fingerprint) and the reservation that paid for it, so a retry is
 * charged once. Called only inside the object's synchronous transactions.
 */

/** What an Idempotency-Key says about a new attempt. */
export type IdempotencyVerdict =
  | { kind: 'new' } // never seen, or the earlier attempt was not charged
  | { kind: 'mismatch' } // the key was used for a different request
  | { kind: 'in-progress' } // the earlier attempt is still in flight
  | { kind: 'charged' } // the earlier attempt was charged: serve without charging again

export function judgeIdempotency(sql: SqlStorage, key: string, fingerprint: string): IdempotencyVerdict {
  const previous = sql
    .exec<{ fingerprint: string; reservation_id: number }>('SELECT fingerprint, reservation_id FROM idempotency WHERE key = ?', key)
    .toArray()[0]
  if (!previous) return { kind: 'new' }
  if (previous.fingerprint !== fingerprint) return { kind: 'mismatch' }
  const state = sql.exec<{ state: string }>('SELECT state FROM reservations WHERE id = ?', previous.reservation_id).toArray()[0]?.state
  if (state === 'open') return { kind: 'in-progress' }
  if (state === 'committed') return { kind: 'charged' }
  return { kind: 'new' } // released or expired: not charged, so this attempt pays
}

/** Point the key at the reservation now paying for its request. */
export function rememberIdempotency(sql: SqlStorage, key: string, fingerprint: string, reservationId: number, now: number): void {
  sql.exec(
    `INSERT INTO idempotency (key, fingerprint, reservation_id, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET reservation_id = excluded.reservation_id, created_at = excluded.created_at`,
    key,
    fingerprint,
    reservationId,
    now
  )
}
