/**
 * @module stripe/claim-object
 * `CheckoutClaim`: one Durable Object per keyless Checkout Session (named by the
 * session id), the single writer that makes "one paid session, one key, shown
 * once" hold whatever Stripe's retries do.
 *
 * - The webhook proposes a key (its id, its hash, the key sealed to the buyer's
 *   claim, stripe/claim-seal); the first proposal is kept for good, and every later
 *   delivery is answered with it, so a retried or concurrent webhook issues that
 *   same key's account (idempotently) and never a second one.
 * - The buyer's success page reads the sealed key, opens it with the claim secret
 *   it holds, and then `reveal`s: the first reveal wins and wipes the sealed key,
 *   so the key can never be shown again, not even to the same browser.
 * It never holds the key in the clear, nor the claim secret.
 */
import { DurableObject } from 'cloudflare:workers'

export type ClaimState = 'issuing' | 'issued' | 'revealed'

/** The key a session was issued: its admin id and hash, never the key itself. */
export interface ClaimRecord {
  keyId: string
  keyHash: string
  state: ClaimState
}

type ClaimRow = { key_id: string; key_hash: string; sealed: string | null; state: ClaimState }

export type CheckoutClaimNamespace = DurableObjectNamespace<CheckoutClaim>

export function claimStub(
  namespace: CheckoutClaimNamespace,
  sessionId: string
): DurableObjectStub<CheckoutClaim> {
  return namespace.getByName(sessionId)
}

export class CheckoutClaim extends DurableObject<unknown> {
  private readonly sql = this.ctx.storage.sql

  /** The stored row; a session nobody proposed for creates no table. */
  private row(): ClaimRow | null {
    const exists =
      this.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'claim'`).toArray()
        .length > 0
    return exists
      ? (this.sql
          .exec<ClaimRow>('SELECT key_id, key_hash, sealed, state FROM claim WHERE singleton = 1')
          .toArray()[0] ?? null)
      : null
  }

  /** Keep this key for the session unless one is kept already; either way, answer the one kept. */
  async propose(proposal: {
    keyId: string
    keyHash: string
    sealed: string
  }): Promise<ClaimRecord> {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS claim (
      singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
      key_id      TEXT NOT NULL,
      key_hash    TEXT NOT NULL,
      sealed      TEXT,
      state       TEXT NOT NULL CHECK (state IN ('issuing', 'issued', 'revealed')),
      created_at  INTEGER NOT NULL,
      revealed_at INTEGER
    )`)
    this.sql.exec(
      `INSERT OR IGNORE INTO claim (singleton, key_id, key_hash, sealed, state, created_at) VALUES (1, ?, ?, ?, 'issuing', ?)`,
      proposal.keyId,
      proposal.keyHash,
      proposal.sealed,
      Date.now()
    )
    const row = this.row() as ClaimRow
    return { keyId: row.key_id, keyHash: row.key_hash, state: row.state }
  }

  /** The key's account exists with the session's credits. */
  async markIssued(): Promise<void> {
    this.sql.exec(`UPDATE claim SET state = 'issued' WHERE state = 'issuing'`)
  }

  /** What the success page needs: the state and, until revealed, the sealed key. Null: no key issued yet. */
  async sealed(): Promise<{ keyId: string; state: ClaimState; sealed: string | null } | null> {
    const row = this.row()
    return row
      ? { keyId: row.key_id, state: row.state, sealed: row.state === 'issued' ? row.sealed : null }
      : null
  }

  /** Mark the key shown and forget its seal. True only for the first caller. */
  async reveal(): Promise<boolean> {
    const row = this.row()
    if (!row || row.state !== 'issued') return false
    this.sql.exec(
      `UPDATE claim SET state = 'revealed', sealed = NULL, revealed_at = ? WHERE singleton = 1`,
      Date.now()
    )
    return true
  }
}
