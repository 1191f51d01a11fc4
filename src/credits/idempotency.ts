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
  | { kind: 'partly-served' } // the earlier attempt was a batch charged for only some of its calls
  | { kind: 'in-progress' } // the earlier attempt is still in flight
  | { kind: 'charged' } // the earlier attempt was charged: serve without charging again

export function judgeIdempotency(sql: SqlStorage, key: string, fingerprint: string): IdempotencyVerdict {
  const previous = sql
    .exec<{ fingerprint: string; reservation_id: number }>('SELECT fingerprint, reservation_id FROM idempotency WHERE key = ?', key)
    .toArray()[0]
  if (!previous) return { kind: 'new' }
  if (previous.fingerprint !== fingerprint) return { kind: 'mismatch' }
  const hold = sql.exec<{ state: string; amount: number; charged: number | null }>('SELECT state, amount, charged FROM reservations WHERE id = ?', previous.reservation_id).toArray()[0]
  const state = hold?.state
  if (state === 'open') return { kind: 'in-progress' }
  // A replay is served free: only when the earlier attempt was charged in full, or a batch whose
  // failed calls were charged nothing would have them served free on the retry.
  if (state === 'committed') return (hold?.charged ?? 0) < (hold?.amount ?? 0) ? { kind: 'partly-served' } : { kind: 'charged' }
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
