/**
 * @module credits/account-object
 * One API key's account: balance, status, limits, holds and an append-only
 * ledger, in the object's own SQLite storage. The object is the single writer for
 * its key, and every method below does its reads and writes synchronously inside
 * one `transactionSync`, with no `await` between a check and the write it guards:
 * that is what makes each debit atomic however many isolates call at once.
 * Being the only writer, it keeps its account row in memory (set only after a
 * transaction committed, dropped if one throws) rather than reading it per call.
 * It is a ledger only: no HTTP, no Hono, no knowledge of prices or routes.
 */
import { DurableObject } from 'cloudflare:workers'
import { ACCOUNT_SCHEMA, effectiveStatus, toLedgerEntry, toView, type AccountRow, type LedgerRow } from './account-sql'
import { judgeIdempotency, rememberIdempotency } from './idempotency'
import { checkLimits, countLimits, keyLimit } from './rate-window'
import {
  appendLedger,
  expireHolds,
  insertHold,
  lastHoldId,
  loadOpenHolds,
  nextExpiry,
  pruneSettled,
  settleHold,
  writeAccount,
  writeBalance,
  type OpenHold,
} from './reservations'
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
  Settlement,
  SettleResult,
} from './types'

/** Settled holds and idempotency keys are kept this long, then pruned. */
const RETENTION_MS = 24 * 60 * 60 * 1000

export class CreditAccount extends DurableObject<unknown> {
  private readonly sql = this.ctx.storage.sql
  /** The account row; null: this key has no account; undefined: not read yet. */
  private row: AccountRow | null | undefined
  /** The open holds, by id; undefined: not read yet. */
  private holds: Map<number, OpenHold> | undefined
  /** The last hold id used; undefined: not read yet. */
  private holdId: number | undefined
  /** When the alarm is set for, as far as this instance knows (undefined: ask storage). */
  private alarmAt: number | null | undefined
  private holdsSincePrune = 0

  private account(): AccountRow | null {
    if (this.row !== undefined) return this.row
    // An unknown key must never create tables, so look before reading.
    const exists = this.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'account'`).toArray().length > 0
    this.row = exists ? (this.sql.exec<AccountRow>('SELECT * FROM account WHERE singleton = 1').toArray()[0] ?? null) : null
    return this.row
  }

  private openHolds(): Map<number, OpenHold> {
    this.holds ??= loadOpenHolds(this.sql)
    return this.holds
  }

  /** Run `work` atomically; if it throws, forget what is cached (its writes rolled back). */
  private transact<T>(work: () => T): T {
    try {
      return this.ctx.storage.transactionSync(work)
    } catch (error) {
      this.row = undefined
      this.holds = undefined
      this.holdId = undefined
      throw error
    }
  }

  /** Create the account. Fails if it exists, so a key can never be re-granted by replay. */
  async init(input: AccountInit): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(input.credits) || input.credits < 0) return { ok: false, reason: 'invalid_amount' }
    return this.transact((): AdminResult => {
      this.sql.exec(ACCOUNT_SCHEMA)
      this.row = undefined
      if (this.account()) return { ok: false, reason: 'invalid_transition' }
      const row: AccountRow = {
        id: input.id,
        name: input.name,
        status: 'active',
        balance: input.credits,
        held: 0,
        expires_at: input.expiresAt ?? null,
        rate_limit: input.rateLimit?.limit ?? null,
        rate_window: input.rateLimit?.windowSeconds ?? null,
        created_at: now,
        updated_at: now,
      }
      this.sql.exec(
        `INSERT INTO account (singleton, id, name, status, balance, held, expires_at, rate_limit, rate_window, created_at, updated_at)
         VALUES (1, ?, ?, 'active', ?, 0, ?, ?, ?, ?, ?)`,
        row.id, row.name, row.balance, row.expires_at, row.rate_limit, row.rate_window, now, now
      )
      appendLedger(this.sql, { kind: 'grant', amount: input.credits, balanceAfter: input.credits, at: now, label: 'initial credits' })
      this.row = row
      return { ok: true, view: toView(row, now) }
    })
  }

  /** The account and its most recent ledger rows, newest first; null for an unknown key. */
  async view(ledgerLimit = 0): Promise<{ account: AccountView; ledger: LedgerEntry[] } | null> {
    const row = this.account()
    if (!row) return null
    const limit = Math.max(0, Math.min(1000, Math.trunc(ledgerLimit)))
    const ledger = limit ? this.sql.exec<LedgerRow>('SELECT * FROM ledger ORDER BY seq DESC LIMIT ?', limit).toArray().map(toLedgerEntry) : []
    return { account: toView(row, Date.now()), ledger }
  }

  /**
   * Hold `amount` for a call about to be forwarded. Settlements of earlier calls
   * may ride along (the gate batches them) and are applied first, in the same
   * transaction. Then, in order: the key exists and may spend, the idempotency
   * key, every rate limit, the balance. The hold is written only if all pass.
   */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
      throw new RangeError(`reserve needs a positive integer amount, got ${request.amount}`)
    }
    const result = this.transact((): ReserveResult => {
      const before = this.account()
      if (!before) return { ok: false, reason: 'invalid_api_key' }
      const row = this.applySettlements(before, request.settle ?? [], now)
      // Whatever follows, the settlements stand: write the row once, at the end.
      type Outcome = ReserveResult extends infer R ? (R extends ReserveResult ? Omit<R, 'keyId'> : never) : never
      const finish = (outcome: Outcome, next: AccountRow = row): ReserveResult => {
        if (next !== before) writeBalance(this.sql, next)
        this.row = next
        return { ...outcome, keyId: row.id } as ReserveResult
      }
      const status = effectiveStatus(row, now)
      if (status !== 'active') return finish({ ok: false, reason: `key_${status}` })
      const available = row.balance - row.held
      const idempotency = request.idempotency
      if (idempotency) {
        const verdict = judgeIdempotency(this.sql, idempotency.key, idempotency.fingerprint)
        if (verdict.kind === 'mismatch') return finish({ ok: false, reason: 'idempotency_mismatch', available })
        if (verdict.kind === 'in-progress') return finish({ ok: false, reason: 'idempotency_in_progress', available })
        if (verdict.kind === 'charged') return finish({ ok: true, kind: 'replayed', available })
      }
      const own = keyLimit(row)
      const limits = own ? [own, ...request.limits] : request.limits
      const verdict = checkLimits(this.sql, limits, now)
      if (!verdict.ok) return finish({ ok: false, reason: 'rate_limited', available, retryAfterSeconds: verdict.retryAfterSeconds, rateLimit: verdict.state })
      if (available < request.amount) return finish({ ok: false, reason: 'insufficient_credits', available, rateLimit: verdict.state })

      const expiresAt = now + request.holdMs
      this.holdId ??= lastHoldId(this.sql)
      const id = ++this.holdId
      insertHold(this.sql, id, request.amount, request.label, now, expiresAt)
      this.openHolds().set(id, { amount: request.amount, label: request.label, expiresAt })
      if (idempotency) rememberIdempotency(this.sql, idempotency.key, idempotency.fingerprint, id, now)
      const rateLimit = limits.length > 0 ? countLimits(this.sql, limits, now) : undefined
      const reserved = { ok: true as const, kind: 'reserved' as const, reservationId: String(id), available: available - request.amount, rateLimit }
      return finish(reserved, { ...row, held: row.held + request.amount, updated_at: now })
    })
    if (result.ok && result.kind === 'reserved') await this.scheduleExpiry(now + request.holdMs)
    if (++this.holdsSincePrune >= 256) this.prune(now)
    return result
  }

  /**
   * Settle holds: charge each `amount` (at most what it held; 0 releases it all)
   * and free the rest. Idempotent: settling twice changes nothing the second time.
   */
  async settle(reservationId: string, amount: number): Promise<SettleResult> {
    return (await this.settleMany([{ reservationId, amount }]))[0] as SettleResult
  }

  async settleMany(settlements: Settlement[]): Promise<SettleResult[]> {
    const now = Date.now()
    return this.transact((): SettleResult[] => {
      const before = this.account()
      if (!before) return settlements.map(() => ({ ok: false, reason: 'unknown_reservation' }))
      let row = before
      const results = settlements.map(({ reservationId, amount }) => {
        const applied = settleHold(this.sql, row, this.openHolds(), reservationId, amount, now)
        row = applied.row
        return applied.result
      })
      if (row !== before) writeBalance(this.sql, row)
      this.row = row
      return results
    })
  }

  /** Apply riding settlements to the row (the caller writes the row). */
  private applySettlements(row: AccountRow, settlements: Settlement[], now: number): AccountRow {
    let next = row
    for (const { reservationId, amount } of settlements) {
      const applied = settleHold(this.sql, next, this.openHolds(), reservationId, amount, now)
      if (!applied.result.ok && applied.result.reason !== 'already_settled') {
        console.error(`pay-gate: settlement of ${reservationId} refused: ${applied.result.reason}`)
      }
      next = applied.row
    }
    return next
  }

  /**
   * Add credits. With a `reference` (a payment's id), the same top-up asked for
   * twice credits once: safe to retry after a settled payment.
   */
  async topUp(amount: number, label: string | null = null, reference?: string): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(amount) || amount <= 0) return { ok: false, reason: 'invalid_amount' }
    return this.transact((): AdminResult => {
      const row = this.account()
      if (!row) return { ok: false, reason: 'invalid_api_key' }
      if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
      if (reference !== undefined) {
        this.sql.exec('CREATE TABLE IF NOT EXISTS topup_references (reference TEXT PRIMARY KEY, at INTEGER NOT NULL)')
        if (this.sql.exec('SELECT 1 FROM topup_references WHERE reference = ?', reference).toArray().length > 0) {
          return { ok: true, view: toView(row, now) }
        }
        this.sql.exec('INSERT INTO topup_references (reference, at) VALUES (?, ?)', reference, now)
      }
      const next = { ...row, balance: row.balance + amount, updated_at: now }
      writeAccount(this.sql, next)
      appendLedger(this.sql, { kind: 'topup', amount, balanceAfter: next.balance, at: now, label })
      this.row = next
      return { ok: true, view: toView(next, now) }
    })
  }

  /** Suspend, resume or revoke. Revocation is final. */
  async setStatus(target: KeyStatus): Promise<AdminResult> {
    const now = Date.now()
    return this.transact((): AdminResult => {
      const row = this.account()
      if (!row) return { ok: false, reason: 'invalid_api_key' }
      if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
      const allowed = target === 'revoked' || (target === 'suspended') === (row.status === 'active')
      if (!allowed) return { ok: false, reason: 'invalid_transition' }
      const next = { ...row, status: target, updated_at: now }
      writeAccount(this.sql, next)
      const kind: LedgerKind = target === 'active' ? 'resume' : target === 'suspended' ? 'suspend' : 'revoke'
      appendLedger(this.sql, { kind, amount: 0, balanceAfter: row.balance, at: now })
      this.row = next
      return { ok: true, view: toView(next, now) }
    })
  }

  /** Replace the key's own rate limit (null removes it). */
  async setRateLimit(limit: RateLimitSpec | null): Promise<AdminResult> {
    const now = Date.now()
    return this.transact((): AdminResult => {
      const row = this.account()
      if (!row) return { ok: false, reason: 'invalid_api_key' }
      const next = { ...row, rate_limit: limit?.limit ?? null, rate_window: limit?.windowSeconds ?? null, updated_at: now }
      writeAccount(this.sql, next)
      this.row = next
      return { ok: true, view: toView(next, now) }
    })
  }

  /** Release every hold whose call never settled (the gate crashed or lost it). */
  override async alarm(): Promise<void> {
    this.alarmAt = null
    const now = Date.now()
    const row = this.account()
    if (!row) return
    this.transact(() => {
      this.row = expireHolds(this.sql, row, this.openHolds(), now)
    })
    this.prune(now)
    const next = nextExpiry(this.openHolds())
    if (next !== null) await this.scheduleExpiry(next)
  }

  /** Keep an alarm at or before the earliest open hold's expiry. */
  private async scheduleExpiry(expiresAt: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm()
    if (this.alarmAt !== null && this.alarmAt <= expiresAt) return
    this.alarmAt = expiresAt
    await this.ctx.storage.setAlarm(expiresAt)
  }

  private prune(now: number): void {
    this.holdsSincePrune = 0
    pruneSettled(this.sql, now - RETENTION_MS)
  }
}
