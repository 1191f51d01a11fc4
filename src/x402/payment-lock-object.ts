/**
 * @module x402/payment-lock-object
 * Exactly-once for x402: one object per payer (network, asset, payer address)
 * holds the state of each of that payer's authorizations by nonce. An
 * authorization can be in flight or spent once, whatever the concurrency: two
 * requests carrying one signature meet here, and only the first gets through.
 * EIP-3009 nonces are spent on chain only at settlement, so until then a
 * facilitator would happily verify the same signature again (protocols.md §A.5).
 * It is also the record of every x402 payment the gate took.
 */
import { DurableObject } from 'cloudflare:workers'

/** in_flight: being served; settling: its deferred settlement has begun (sidecar follow-up, under a lease);
 *  settled: paid on chain; released: not taken (origin failed), may be retried;
 *  unpaid: served without settlement (fail-open, or a deferred settlement that failed);
 *  indeterminate: a settle with no answer;
 *  free_pass: an allow-listed payer served free; dev: dev mode, checked but never settled. */
export type PaymentState =
  | 'in_flight'
  | 'settling'
  | 'settled'
  | 'released'
  | 'unpaid'
  | 'indeterminate'
  | 'free_pass'
  | 'dev'

export interface PaymentRecord {
  nonce: string
  state: PaymentState
  amount: string
  payTo: string
  resource: string
  validBefore: number
  transaction: string | null
  reason: string | null
  createdAt: number
  updatedAt: number
}

type Row = {
  nonce: string
  state: PaymentState
  amount: string
  pay_to: string
  resource: string
  valid_before: number
  tx_hash: string | null
  reason: string | null
  created_at: number
  updated_at: number
}

const toRecord = (row: Row): PaymentRecord => ({
  nonce: row.nonce,
  state: row.state,
  amount: row.amount,
  payTo: row.pay_to,
  resource: row.resource,
  validBefore: row.valid_before,
  transaction: row.tx_hash,
  reason: row.reason,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
})

/** Records are kept a day past their authorization's expiry, when nobody can use it any more. */
const KEEP_AFTER_EXPIRY_MS = 24 * 60 * 60 * 1000

export type AcquireResult = 'acquired' | 'in_flight' | 'spent'

/**
 * A deferred settlement's claim. `claimed`: this caller settles it, under the
 * claim id (`retaken` when an earlier claim's lease ran out: that follow-up
 * stopped, and may have settled it on chain first). `settling`: another
 * follow-up is settling it now; ask again after `retryAfterMs`. `finished`: it is
 * over (settled, released, ...) or belongs to another flight.
 */
export type ClaimResult =
  | { kind: 'claimed'; claim: string; retaken: boolean }
  | { kind: 'settling'; retryAfterMs: number }
  | { kind: 'finished' }

export class PaymentLock extends DurableObject<unknown> {
  private readonly sql = this.ctx.storage.sql
  private acquiresSincePrune = 0

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS payments (
      nonce TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      amount TEXT NOT NULL,
      pay_to TEXT NOT NULL,
      resource TEXT NOT NULL,
      valid_before INTEGER NOT NULL,
      tx_hash TEXT,
      reason TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`)
    // Which flight holds an authorization whose settlement is deferred (sidecar mode): only that
    // flight's follow-up may settle it, not a stale repeat from before the authorization was
    // released and taken again.
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS flights (nonce TEXT PRIMARY KEY, flight TEXT NOT NULL)'
    )
    // The claim on an authorization being settled (state settling), or the claim that ended it: when it
    // was taken, so a follow-up that stopped mid-settlement (its isolate gone) can be taken over once its
    // lease has run out, and which claim it is, so only the current one records how the payment ended.
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS claims (nonce TEXT PRIMARY KEY, claim TEXT NOT NULL, claimed_at INTEGER NOT NULL)'
    )
  }

  /** Take an authorization for one request. Only a released one may be taken again. */
  async acquire(entry: {
    nonce: string
    amount: string
    payTo: string
    resource: string
    validBefore: number
    flight?: string
  }): Promise<AcquireResult> {
    const now = Date.now()
    const result = this.ctx.storage.transactionSync((): AcquireResult => {
      const row = this.sql
        .exec<Row>('SELECT * FROM payments WHERE nonce = ?', entry.nonce)
        .toArray()[0]
      if (row && (row.state === 'in_flight' || row.state === 'settling')) return 'in_flight'
      if (row && row.state !== 'released') return 'spent'
      this.sql.exec(
        `INSERT INTO payments (nonce, state, amount, pay_to, resource, valid_before, created_at, updated_at)
         VALUES (?, 'in_flight', ?, ?, ?, ?, ?, ?)
         ON CONFLICT (nonce) DO UPDATE SET state = 'in_flight', resource = excluded.resource, reason = NULL, updated_at = excluded.updated_at`,
        entry.nonce,
        entry.amount,
        entry.payTo,
        entry.resource,
        entry.validBefore,
        now,
        now
      )
      if (entry.flight)
        this.sql.exec(
          'INSERT OR REPLACE INTO flights (nonce, flight) VALUES (?, ?)',
          entry.nonce,
          entry.flight
        )
      // A flight or claim is only ever written beside its payment row, and pruning drops them with it
      // (a payment pruned is a day past its expiry, refused before it gets here), so a nonce seen for
      // the first time has none to clear: two statements fewer on every new payment.
      else if (row) this.sql.exec('DELETE FROM flights WHERE nonce = ?', entry.nonce)
      if (row) this.sql.exec('DELETE FROM claims WHERE nonce = ?', entry.nonce)
      return 'acquired'
    })
    if (++this.acquiresSincePrune >= 256) {
      this.acquiresSincePrune = 0
      // A day past its expiry nobody can settle an authorization, so even one never finished
      // (a sidecar follow-up that never came) has nothing left to guard.
      this.sql.exec(
        `DELETE FROM payments WHERE valid_before * 1000 < ?`,
        now - KEEP_AFTER_EXPIRY_MS
      )
      this.sql.exec('DELETE FROM flights WHERE nonce NOT IN (SELECT nonce FROM payments)')
      this.sql.exec('DELETE FROM claims WHERE nonce NOT IN (SELECT nonce FROM payments)')
    }
    return result
  }

  /**
   * Begin the deferred settlement of an authorization in flight (sidecar mode's
   * follow-up) taken by `flight`. Only one caller at a time holds the claim: a
   * repeated or concurrent follow-up gets `settling`, one from an earlier flight
   * of the same authorization `finished`. A claim is a lease of `leaseMs`: a
   * follow-up whose isolate died mid-settlement never finishes it, so once the
   * lease has run out the next follow-up of the flight takes it over (`retaken`).
   * The lease outlasts the holder's settle (its timeout plus a margin), and the
   * holder's late finish is refused anyway (see finish), so the payment is
   * recorded once.
   */
  async claim(nonce: string, flight: string, leaseMs: number): Promise<ClaimResult> {
    return this.ctx.storage.transactionSync((): ClaimResult => {
      const row = this.sql
        .exec<Row>('SELECT state, updated_at FROM payments WHERE nonce = ?', nonce)
        .toArray()[0]
      const holder = this.sql
        .exec<{ flight: string }>('SELECT flight FROM flights WHERE nonce = ?', nonce)
        .toArray()[0]
      if (
        !row ||
        holder?.flight !== flight ||
        (row.state !== 'in_flight' && row.state !== 'settling')
      )
        return { kind: 'finished' }
      const now = Date.now()
      if (row.state === 'settling') {
        // A claim taken before claims were kept has its time in the row (claiming set it).
        const taken = this.sql
          .exec<{ claimed_at: number }>('SELECT claimed_at FROM claims WHERE nonce = ?', nonce)
          .toArray()[0]
        const left = (taken?.claimed_at ?? row.updated_at) + leaseMs - now
        if (left > 0) return { kind: 'settling', retryAfterMs: left }
      }
      const claim = crypto.randomUUID()
      this.sql.exec(
        `UPDATE payments SET state = 'settling', updated_at = ? WHERE nonce = ?`,
        now,
        nonce
      )
      this.sql.exec(
        'INSERT OR REPLACE INTO claims (nonce, claim, claimed_at) VALUES (?, ?, ?)',
        nonce,
        claim,
        now
      )
      return { kind: 'claimed', claim, retaken: row.state === 'settling' }
    })
  }

  /** Put back a claim whose settlement could not be attempted (the facilitator was unreachable), for the follow-up to be sent again. */
  async unclaim(nonce: string, claim: string): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      if (!this.holds(nonce, claim, 'settling')) return
      this.sql.exec(
        `UPDATE payments SET state = 'in_flight', updated_at = ? WHERE nonce = ?`,
        Date.now(),
        nonce
      )
      this.sql.exec('DELETE FROM claims WHERE nonce = ?', nonce)
    })
  }

  /**
   * Record how an in-flight authorization ended. With `claim` (a deferred
   * settlement), only while that claim holds it: false when it was taken over
   * (the holder outlived its lease) or is not known. Repeating a recorded end is
   * answered true, so the write can be retried.
   */
  async finish(
    nonce: string,
    state: Exclude<PaymentState, 'in_flight'>,
    detail: { transaction?: string; reason?: string } = {},
    claim?: string
  ): Promise<boolean> {
    return this.ctx.storage.transactionSync(() => {
      if (claim !== undefined && !this.holds(nonce, claim, 'settling', state)) return false
      this.sql.exec(
        `UPDATE payments SET state = ?, tx_hash = COALESCE(?, tx_hash), reason = ?, updated_at = ? WHERE nonce = ?`,
        state,
        detail.transaction ?? null,
        detail.reason ?? null,
        Date.now(),
        nonce
      )
      return true
    })
  }

  /** Whether `claim` is the current claim on `nonce` and the payment is in one of `states`. */
  private holds(nonce: string, claim: string, ...states: PaymentState[]): boolean {
    const row = this.sql.exec<Row>('SELECT state FROM payments WHERE nonce = ?', nonce).toArray()[0]
    const taken = this.sql
      .exec<{ claim: string }>('SELECT claim FROM claims WHERE nonce = ?', nonce)
      .toArray()[0]
    return row !== undefined && taken?.claim === claim && states.includes(row.state)
  }

  /**
   * Whether `flight` settled the authorization: it is settled, and the flight that
   * last took it is this one. A payment settled for another call (the same
   * authorization reused after this flight's settle failed) is not this flight's.
   */
  async settledFor(nonce: string, flight: string): Promise<boolean> {
    const row = this.sql.exec<Row>('SELECT state FROM payments WHERE nonce = ?', nonce).toArray()[0]
    const holder = this.sql
      .exec<{ flight: string }>('SELECT flight FROM flights WHERE nonce = ?', nonce)
      .toArray()[0]
    return row?.state === 'settled' && holder?.flight === flight
  }

  async get(nonce: string): Promise<PaymentRecord | null> {
    const row = this.sql.exec<Row>('SELECT * FROM payments WHERE nonce = ?', nonce).toArray()[0]
    return row ? toRecord(row) : null
  }

  async list(limit = 100): Promise<PaymentRecord[]> {
    return this.sql
      .exec<Row>(
        'SELECT * FROM payments ORDER BY created_at DESC LIMIT ?',
        Math.max(1, Math.min(1000, limit))
      )
      .toArray()
      .map(toRecord)
  }
}
