/**
 * @module credits/account-object
 * One API key's account: balance, status, limits, reservations and an append-only
 * ledger, in the object's own SQLite storage. The object is the single writer for
 * its key, and every method below does its reads and writes synchronously inside
 * one `transactionSync`, with no `await` between a check and the write it guards:
 * that is what makes each debit atomic however many isolates call at once.
 * It is a ledger only: no HTTP, no Hono, no knowledge of prices or routes.
 */
import { DurableObject } from 'cloudflare:workers'
import {
  ACCOUNT_SCHEMA,
  effectiveStatus,
  toLedgerEntry,
  toView,
  type AccountRow,
  type LedgerRow,
  type ReservationRow,
} from './account-sql'
import { judgeIdempotency, rememberIdempotency } from './idempotency'
import { checkLimits, countLimits } from './rate-window'
import type {
  AccountInit,
  AccountView,
  AdminResult,
  KeyStatus,
  LedgerEntry,
  LedgerKind,
  RateLimitSpec,
  ReserveRequest,
  ReserveResult,
  SettleResult,
} from './types'

/** Settled reservations and idempotency keys are kept this long, then pruned. */
const RETENTION_MS = 24 * 60 * 60 * 1000

export class CreditAccount extends DurableObject<unknown> {
  private readonly sql = this.ctx.storage.sql
  /** Whether this object's tables exist. An unknown key must never create them. */
  private initialized: boolean | undefined
  private reservesSincePrune = 0

  private isInitialized(): boolean {
    this.initialized ??=
      this.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'account'`).toArray()
        .length > 0
    return this.initialized
  }

  private account(): AccountRow | undefined {
    if (!this.isInitialized()) return undefined
    return this.sql.exec<AccountRow>('SELECT * FROM account WHERE singleton = 1').toArray()[0]
  }

  private appendLedger(
    kind: LedgerKind,
    amount: number,
    balanceAfter: number,
    now: number,
    reservationId: string | null = null,
    label: string | null = null
  ): void {
    this.sql.exec(
      'INSERT INTO ledger (at, kind, amount, balance_after, reservation_id, label) VALUES (?, ?, ?, ?, ?, ?)',
      now,
      kind,
      amount,
      balanceAfter,
      reservationId,
      label
    )
  }

  /** Create the account. Fails if it exists, so a key can never be re-granted by replay. */
  async init(input: AccountInit): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(input.credits) || input.credits < 0) return { ok: false, reason: 'invalid_amount' }
    return this.ctx.storage.transactionSync((): AdminResult => {
      this.sql.exec(ACCOUNT_SCHEMA)
      this.initialized = true
      if (this.account()) return { ok: false, reason: 'invalid_transition' }
      this.sql.exec(
        `INSERT INTO account (singleton, id, name, status, balance, held, expires_at, rate_limit, rate_window, created_at, updated_at)
         VALUES (1, ?, ?, 'active', ?, 0, ?, ?, ?, ?, ?)`,
        input.id,
        input.name,
        input.credits,
        input.expiresAt ?? null,
        input.rateLimit?.limit ?? null,
        input.rateLimit?.windowSeconds ?? null,
        now,
        now
      )
      this.appendLedger('grant', input.credits, input.credits, now, null, 'initial credits')
      return { ok: true, view: toView(this.account() as AccountRow, now) }
    })
  }

  /** The account and its most recent ledger rows, newest first; null for an unknown key. */
  async view(ledgerLimit = 0): Promise<{ account: AccountView; ledger: LedgerEntry[] } | null> {
    const row = this.account()
    if (!row) return null
    const limit = Math.max(0, Math.min(1000, Math.trunc(ledgerLimit)))
    const ledger = limit
      ? this.sql.exec<LedgerRow>('SELECT * FROM ledger ORDER BY seq DESC LIMIT ?', limit).toArray().map(toLedgerEntry)
      : []
    return { account: toView(row, Date.now()), ledger }
  }

  /**
   * Hold `amount` for a call about to be forwarded. Checks, in order: the key
   * exists and may spend, the idempotency key, every rate limit, the balance.
   * Nothing is written unless every check passes.
   */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
      throw new RangeError(`reserve needs a positive integer amount, got ${request.amount}`)
    }
    const result = this.ctx.storage.transactionSync((): ReserveResult => {
      const row = this.account()
      if (!row) return { ok: false, reason: 'invalid_api_key' }
      const status = effectiveStatus(row, now)
      if (status !== 'active') return { ok: false, reason: `key_${status}` }
      const available = row.balance - row.held

      if (request.idempotency) {
        const verdict = judgeIdempotency(this.sql, request.idempotency.key, request.idempotency.fingerprint)
        if (verdict.kind === 'mismatch') return { ok: false, reason: 'idempotency_mismatch', available }
        if (verdict.kind === 'in-progress') return { ok: false, reason: 'idempotency_in_progress', available }
        if (verdict.kind === 'charged') return { ok: true, kind: 'replayed', available }
      }

      const limits = keyLimit(row) ? [keyLimit(row) as ReserveRequest['limits'][number], ...request.limits] : request.limits
      const verdict = checkLimits(this.sql, limits, now)
      if (!verdict.ok) {
        return { ok: false, reason: 'rate_limited', available, retryAfterSeconds: verdict.retryAfterSeconds, rateLimit: verdict.state }
      }
      if (available < request.amount) {
        return { ok: false, reason: 'insufficient_credits', available, rateLimit: verdict.state }
      }

      const id = crypto.randomUUID()
      const expiresAt = now + request.holdMs
      this.sql.exec(
        `INSERT INTO reservations (id, amount, state, label, created_at, expires_at) VALUES (?, ?, 'open', ?, ?, ?)`,
        id,
        request.amount,
        request.label,
        now,
        expiresAt
      )
      this.sql.exec('UPDATE account SET held = held + ?, updated_at = ? WHERE singleton = 1', request.amount, now)
      if (request.idempotency) {
        rememberIdempotency(this.sql, request.idempotency.key, request.idempotency.fingerprint, id, now)
      }
      const rateLimit = countLimits(this.sql, limits, now)
      return { ok: true, kind: 'reserved', reservationId: id, available: available - request.amount, rateLimit }
    })
    if (result.ok && result.kind === 'reserved') await this.scheduleExpiry()
    if (++this.reservesSincePrune >= 256) this.prune(now)
    return result
  }

  /**
   * Settle a reservation: charge `amount` (at most what was held; 0 releases it all)
   * and free the hold. Idempotent: settling twice changes nothing the second time.
   */
  async settle(reservationId: string, amount: number): Promise<SettleResult> {
    const now = Date.now()
    return this.ctx.storage.transactionSync((): SettleResult => {
      if (!this.isInitialized()) return { ok: false, reason: 'unknown_reservation' }
      const reservation = this.sql
        .exec<ReservationRow>('SELECT * FROM reservations WHERE id = ?', reservationId)
        .toArray()[0]
      if (!reservation) return { ok: false, reason: 'unknown_reservation' }
      if (!Number.isSafeInteger(amount) || amount < 0 || amount > reservation.amount) {
        return { ok: false, reason: 'over_reserved' }
      }
      const row = this.account() as AccountRow
      if (reservation.state === 'committed' || reservation.state === 'released') {
        return { ok: false, reason: 'already_settled' }
      }
      const open = reservation.state === 'open'
      const held = open ? row.held - reservation.amount : row.held
      // A reservation the alarm already expired no longer holds credits: a late
      // success is charged only if the key can still pay for it.
      if (!open && amount > row.balance - held) return { ok: false, reason: 'unfunded' }
      const balance = row.balance - amount
      this.sql.exec(
        'UPDATE account SET balance = ?, held = ?, updated_at = ? WHERE singleton = 1',
        balance,
        held,
        now
      )
      this.sql.exec(
        `UPDATE reservations SET state = ?, charged = ?, settled_at = ? WHERE id = ?`,
        amount > 0 ? 'committed' : 'released',
        amount,
        now,
        reservationId
      )
      if (amount > 0) this.appendLedger('charge', -amount, balance, now, reservationId, reservation.label)
      return { ok: true, charged: amount, available: balance - held }
    })
  }

  /**
   * Add credits. With a `reference` (a payment's id), the same top-up asked for
   * twice credits once: safe to retry after a settled payment.
   */
  async topUp(amount: number, label: string | null = null, reference?: string): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(amount) || amount <= 0) return { ok: false, reason: 'invalid_amount' }
    return this.ctx.storage.transactionSync((): AdminResult => {
      const row = this.account()
      if (!row) return { ok: false, reason: 'invalid_api_key' }
      if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
      if (reference !== undefined) {
        this.sql.exec('CREATE TABLE IF NOT EXISTS topup_references (reference TEXT PRIMARY KEY, at INTEGER NOT NULL)')
        const seen = this.sql.exec('SELECT 1 FROM topup_references WHERE reference = ?', reference).toArray().length > 0
        if (seen) return { ok: true, view: toView(row, now) }
        this.sql.exec('INSERT INTO topup_references (reference, at) VALUES (?, ?)', reference, now)
      }
      const balance = row.balance + amount
      this.sql.exec('UPDATE account SET balance = ?, updated_at = ? WHERE singleton = 1', balance, now)
      this.appendLedger('topup', amount, balance, now, null, label)
      return { ok: true, view: toView({ ...row, balance, updated_at: now }, now) }
    })
  }

  /** Suspend, resume or revoke. Revocation is final. */
  async setStatus(target: KeyStatus): Promise<AdminResult> {
    const now = Date.now()
    return this.ctx.storage.transactionSync((): AdminResult => {
      const row = this.account()
      if (!row) return { ok: false, reason: 'invalid_api_key' }
      if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
      const allowed = target === 'revoked' || (target === 'suspended') === (row.status === 'active')
      if (!allowed) return { ok: false, reason: 'invalid_transition' }
      this.sql.exec('UPDATE account SET status = ?, updated_at = ? WHERE singleton = 1', target, now)
      const kind: LedgerKind = target === 'active' ? 'resume' : target === 'suspended' ? 'suspend' : 'revoke'
      this.appendLedger(kind, 0, row.balance, now)
      return { ok: true, view: toView({ ...row, status: target, updated_at: now }, now) }
    })
  }

  /** Replace the key's own rate limit (null removes it). */
  async setRateLimit(limit: RateLimitSpec | null): Promise<AdminResult> {
    const now = Date.now()
    const row = this.account()
    if (!row) return { ok: false, reason: 'invalid_api_key' }
    this.sql.exec(
      'UPDATE account SET rate_limit = ?, rate_window = ?, updated_at = ? WHERE singleton = 1',
      limit?.limit ?? null,
      limit?.windowSeconds ?? null,
      now
    )
    return { ok: true, view: toView(this.account() as AccountRow, now) }
  }

  /** Release every reservation whose call never settled (the gate crashed or lost it). */
  override async alarm(): Promise<void> {
    if (!this.isInitialized()) return
    const now = Date.now()
    this.ctx.storage.transactionSync(() => {
      const due = this.sql
        .exec<{ total: number | null }>(
          `SELECT SUM(amount) AS total FROM reservations WHERE state = 'open' AND expires_at <= ?`,
          now
        )
        .one().total
      if (!due) return
      this.sql.exec(`UPDATE reservations SET state = 'expired', settled_at = ? WHERE state = 'open' AND expires_at <= ?`, now, now)
      this.sql.exec('UPDATE account SET held = held - ?, updated_at = ? WHERE singleton = 1', due, now)
    })
    this.prune(now)
    await this.scheduleExpiry()
  }

  /** Keep an alarm at the earliest open reservation's expiry. */
  private async scheduleExpiry(): Promise<void> {
    const next = this.sql
      .exec<{ next: number | null }>(`SELECT MIN(expires_at) AS next FROM reservations WHERE state = 'open'`)
      .one().next
    if (next === null) return
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > next) await this.ctx.storage.setAlarm(next)
  }

  private prune(now: number): void {
    this.reservesSincePrune = 0
    const before = now - RETENTION_MS
    this.sql.exec(`DELETE FROM idempotency WHERE created_at < ?`, before)
    this.sql.exec(`DELETE FROM reservations WHERE state != 'open' AND settled_at < ?`, before)
  }
}

function keyLimit(row: AccountRow): ReserveRequest['limits'][number] | undefined {
  if (row.rate_limit === null || row.rate_window === null) return undefined
  return { bucket: 'key', limit: row.rate_limit, windowSeconds: row.rate_window, cost: 1 }
}
