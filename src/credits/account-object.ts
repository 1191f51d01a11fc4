/**
 * @module credits/account-object
 * One API key's account: balance, status, limits, policy, plan, holds and an
 * append-only ledger, in the object's own SQLite storage. The object is the
 * single writer for its key, and every method below does its reads and writes
 * synchronously inside one `transactionSync`, with no `await` between a check and
 * the write it guards: that is what makes each debit, and each quota and plan
 * count that goes with it, atomic however many isolates call at once.
 * Being the only writer, it keeps its state in memory (set only after a
 * transaction committed, dropped if one throws) rather than reading it per call.
 * It is a ledger only: no HTTP, no Hono, no knowledge of prices or routes.
 */
import { DurableObject } from 'cloudflare:workers'
import { ACCOUNT_SCHEMA, toLedgerEntry, toView, upgradeAccountSchema, type AccountRow, type LedgerRow } from './account-sql'
import { addToCounters, pruneCounters, readCounter, readSettings, writeSettings, type AccountSettings } from './account-settings'
import { expireLots, insertLot, nextLotExpiry, readLots, spendFromLots, type CreditLot } from './credit-lots'
import { reserveCall, reserveItems } from './reserve-call'
import {
  appendLedger,
  expireHolds,
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
  AssignedPlan,
  HolderView,
  KeyPolicy,
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

type Tables = { account: boolean; alias: boolean }

export class CreditAccount extends DurableObject<unknown> {
  private readonly sql = this.ctx.storage.sql
  /** The account row; null: this key has no account; undefined: not read yet. */
  private row: AccountRow | null | undefined
  private holds: Map<number, OpenHold> | undefined
  private holdId: number | undefined
  private settingsCache: AccountSettings | undefined
  private lotsCache: CreditLot[] | undefined
  /** When the alarm is set for, as far as this instance knows (undefined: ask storage). */
  private alarmAt: number | null | undefined
  private holdsSincePrune = 0

  private tables(): Tables {
    const names = this.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('account', 'alias')`)
      .toArray()
      .map((table) => table.name)
    return { account: names.includes('account'), alias: names.includes('alias') }
  }

  private account(): AccountRow | null {
    if (this.row !== undefined) return this.row
    // An unknown key must never create tables, so look before reading.
    if (!this.tables().account) return (this.row = null)
    upgradeAccountSchema(this.sql)
    this.row = this.sql.exec<AccountRow>('SELECT * FROM account WHERE singleton = 1').toArray()[0] ?? null
    return this.row
  }

  private settings(): AccountSettings {
    this.settingsCache ??= readSettings(this.sql)
    return this.settingsCache
  }

  private lots(): CreditLot[] {
    this.lotsCache ??= readLots(this.sql)
    return this.lotsCache
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
      this.settingsCache = undefined
      this.lotsCache = undefined
      throw error
    }
  }

  private viewOf(row: AccountRow, now: number): AccountView {
    const settings = this.settings()
    return toView(row, now, {
      policy: settings.policy,
      plan: settings.plan,
      rotatedAt: settings.rotatedAt,
      inFlight: this.openHolds().size,
      expiringCredits: this.lots().map((lot) => ({ amount: lot.remaining, expiresAt: lot.expiresAt })),
      usage: { day: readCounter(this.sql, 'day', now), month: readCounter(this.sql, 'month', now) },
    })
  }

  /** Create the account. Fails if it exists, so a key can never be re-granted by replay. */
  async init(input: AccountInit): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(input.credits) || input.credits < 0) return { ok: false, reason: 'invalid_amount' }
    const trial = input.trial ?? null
    if (trial && (!Number.isSafeInteger(trial.credits) || trial.credits <= 0 || trial.expiresAt <= now)) return { ok: false, reason: 'invalid_amount' }
    const result = this.transact((): AdminResult => {
      if (this.tables().alias) return { ok: false, reason: 'invalid_transition' }
      this.sql.exec(ACCOUNT_SCHEMA)
      this.row = undefined
      if (this.account()) return { ok: false, reason: 'invalid_transition' }
      this.sql.exec(
        `INSERT INTO account (singleton, id, name, status, balance, held, expires_at, rate_limit, rate_window, created_at, updated_at, spent)
         VALUES (1, ?, ?, 'active', ?, 0, ?, ?, ?, ?, ?, 0)`,
        input.id, input.name, input.credits, input.expiresAt ?? null, input.rateLimit?.limit ?? null, input.rateLimit?.windowSeconds ?? null, now, now
      )
      appendLedger(this.sql, { kind: 'grant', amount: input.credits, balanceAfter: input.credits, at: now, label: 'initial credits' })
      let row = this.sql.exec<AccountRow>('SELECT * FROM account WHERE singleton = 1').one()
      if (input.policy || input.plan) {
        this.settingsCache = { ...this.settings(), policy: input.policy ?? this.settings().policy, plan: input.plan ?? null }
        writeSettings(this.sql, this.settingsCache)
      }
      if (trial) row = this.addLot(row, trial.credits, trial.expiresAt, 'trial credits', now)
      this.row = row
      return { ok: true, view: this.viewOf(row, now) }
    })
    if (trial) await this.scheduleExpiry(trial.expiresAt)
    return result
  }

  /** The account and its most recent ledger rows, newest first; null for an unknown key. For the operator. */
  async view(ledgerLimit = 0): Promise<{ account: AccountView; ledger: LedgerEntry[] } | null> {
    const row = this.account()
    if (!row) return null
    return { account: this.viewOf(row, Date.now()), ledger: this.ledger(ledgerLimit) }
  }

  /** The account as its key holder may read it: only with the key that opens it now. */
  async holderView(credential: string, ledgerLimit = 0): Promise<HolderView> {
    const row = this.account()
    if (!row) {
      const moved = this.aliasTarget()
      return moved ? { ok: false, reason: 'moved', account: moved } : { ok: false, reason: 'invalid_api_key' }
    }
    if (!this.opens(credential)) return { ok: false, reason: 'invalid_api_key' }
    return { ok: true, account: this.viewOf(row, Date.now()), ledger: this.ledger(ledgerLimit) }
  }

  private ledger(ledgerLimit: number): LedgerEntry[] {
    const limit = Math.max(0, Math.min(1000, Math.trunc(ledgerLimit)))
    return limit ? this.sql.exec<LedgerRow>('SELECT * FROM ledger ORDER BY seq DESC LIMIT ?', limit).toArray().map(toLedgerEntry) : []
  }

  /** Whether a presented key (by hash) opens this account: after a rotation, only the newest. */
  private opens(credential: string | undefined): boolean {
    const current = this.settings().credential
    return current === null || credential === undefined || credential === current
  }

  private aliasTarget(): string | null {
    if (!this.tables().alias) return null
    return this.sql.exec<{ account: string }>('SELECT account FROM alias WHERE singleton = 1').toArray()[0]?.account ?? null
  }

  /**
   * Hold the plan's price of a call about to be forwarded. Settlements of earlier
   * calls may ride along (the gate batches them) and are applied first, in the
   * same transaction. The checks are in reserve-call.
   */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const now = Date.now()
    const items = reserveItems(request)
    const result = this.transact((): ReserveResult => {
      const before = this.account()
      if (!before) {
        const moved = this.aliasTarget()
        return moved ? { ok: false, reason: 'moved', account: moved } : { ok: false, reason: 'invalid_api_key' }
      }
      let row = this.applySettlements(before, request.settle ?? [], now)
      row = this.expireDueLots(row, now)
      const decided = this.opens(request.credential)
        ? reserveCall(
            { sql: this.sql, settings: this.settings(), holds: this.openHolds(), nextHoldId: () => (this.holdId = (this.holdId ?? lastHoldId(this.sql)) + 1) },
            row,
            request,
            items,
            now
          )
        : { outcome: { ok: false as const, reason: 'invalid_api_key' as const }, row }
      if (decided.row !== before) writeBalance(this.sql, decided.row)
      this.row = decided.row
      return { ...decided.outcome, keyId: before.id } as ReserveResult
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
      const results: SettleResult[] = []
      let row = before
      for (const settlement of settlements) {
        const applied = this.settleOne(row, settlement, now)
        row = applied.row
        results.push(applied.result)
      }
      row = this.expireDueLots(row, now)
      if (row !== before) writeBalance(this.sql, row)
      this.row = row
      return results
    })
  }

  /** Settle one hold, and correct the period counters and credit lots it touched. */
  private settleOne(row: AccountRow, settlement: Settlement, now: number): { row: AccountRow; result: SettleResult } {
    const applied = settleHold(this.sql, row, this.openHolds(), settlement, now)
    const settled = applied.settled
    if (settled) {
      const { hold, charged, served } = settled
      if (hold.tracked) addToCounters(this.sql, hold.createdAt, -(hold.calls - served), -(hold.amount - charged))
      if (charged > 0 && this.lots().length > 0) spendFromLots(this.sql, this.lots(), charged)
    }
    return applied
  }

  /** Apply riding settlements to the row (the caller writes the row). */
  private applySettlements(row: AccountRow, settlements: Settlement[], now: number): AccountRow {
    let next = row
    for (const settlement of settlements) {
      const applied = this.settleOne(next, settlement, now)
      if (!applied.result.ok && applied.result.reason !== 'already_settled') {
        console.error(`pay-gate: settlement of ${settlement.reservationId} refused: ${applied.result.reason}`)
      }
      next = applied.row
    }
    return next
  }

  /** Take expired lots out of the balance, if any is due (cheap when none is). */
  private expireDueLots(row: AccountRow, now: number): AccountRow {
    const due = nextLotExpiry(this.lots())
    return due !== null && due <= now ? expireLots(this.sql, row, this.lots(), now) : row
  }

  private addLot(row: AccountRow, amount: number, expiresAt: number, label: string, now: number): AccountRow {
    this.lots().push(insertLot(this.sql, amount, expiresAt, label))
    this.lots().sort((a, b) => a.expiresAt - b.expiresAt || a.id - b.id)
    const next = { ...row, balance: row.balance + amount, updated_at: now }
    writeBalance(this.sql, next)
    appendLedger(this.sql, { kind: 'grant', amount, balanceAfter: next.balance, at: now, label: `${label}, expire ${new Date(expiresAt).toISOString()}` })
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
          return { ok: true, view: this.viewOf(row, now) }
        }
        this.sql.exec('INSERT INTO topup_references (reference, at) VALUES (?, ?)', reference, now)
      }
      const next = { ...row, balance: row.balance + amount, updated_at: now }
      writeAccount(this.sql, next)
      appendLedger(this.sql, { kind: 'topup', amount, balanceAfter: next.balance, at: now, label })
      this.row = next
      return { ok: true, view: this.viewOf(next, now) }
    })
  }

  /** Grant credits that expire at `expiresAt` (a trial); they are spent before the others. */
  async grant(amount: number, expiresAt: number, label: string | null = null): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(amount) || amount <= 0 || !Number.isSafeInteger(expiresAt) || expiresAt <= now) return { ok: false, reason: 'invalid_amount' }
    const result = this.change((row) => this.addLot(row, amount, expiresAt, label ?? 'expiring credits', now), now)
    if (result.ok) await this.scheduleExpiry(expiresAt)
    return result
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
      return { ok: true, view: this.viewOf(next, now) }
    })
  }

  /** Replace the key's own rate limit (null removes it). */
  async setRateLimit(limit: RateLimitSpec | null): Promise<AdminResult> {
    const now = Date.now()
    return this.change((row) => {
      const next = { ...row, rate_limit: limit?.limit ?? null, rate_window: limit?.windowSeconds ?? null, updated_at: now }
      writeAccount(this.sql, next)
      return next
    }, now)
  }

  /** Replace the key's policy (tool lists, lifetime cap, quotas); a `policy` ledger row records it. */
  async setPolicy(policy: KeyPolicy): Promise<AdminResult> {
    return this.changeSettings({ policy }, 'policy', 'policy changed')
  }

  /** Assign a plan (null: back to list prices); a `plan` ledger row records it. */
  async setPlan(plan: AssignedPlan | null): Promise<AdminResult> {
    return this.changeSettings({ plan }, 'plan', plan ? `plan ${plan.name}` : 'no plan')
  }

  /**
   * Rotate: from now on only the key whose hash is `credential` opens this
   * account. Balance, holds, limits, policy and history stay where they are.
   */
  async rotate(credential: string): Promise<AdminResult> {
    if (!/^[0-9a-f]{64}$/.test(credential)) return { ok: false, reason: 'invalid_transition' }
    return this.changeSettings({ credential, rotatedAt: Date.now() }, 'rotate', 'key rotated')
  }

  /** Make this (a new key's) object point to the account it opens. Fails if it holds anything. */
  async initAlias(account: string): Promise<boolean> {
    return this.transact(() => {
      const tables = this.tables()
      if (tables.account || tables.alias) return false
      this.sql.exec('CREATE TABLE alias (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), account TEXT NOT NULL)')
      this.sql.exec('INSERT INTO alias (singleton, account) VALUES (1, ?)', account)
      return true
    })
  }

  private changeSettings(change: Partial<AccountSettings>, kind: LedgerKind, label: string): Promise<AdminResult> {
    const now = Date.now()
    return Promise.resolve(
      this.change((row) => {
        if (row.status === 'revoked') throw new RevokedKey()
        this.settingsCache = { ...this.settings(), ...change }
        writeSettings(this.sql, this.settingsCache)
        appendLedger(this.sql, { kind, amount: 0, balanceAfter: row.balance, at: now, label })
        return row
      }, now)
    )
  }

  /** An operator's change to an existing, unrevoked account, in one transaction. */
  private change(work: (row: AccountRow) => AccountRow, now: number): AdminResult {
    try {
      return this.transact((): AdminResult => {
        const row = this.account()
        if (!row) return { ok: false, reason: 'invalid_api_key' }
        if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
        const next = work(row)
        this.row = next
        return { ok: true, view: this.viewOf(next, now) }
      })
    } catch (error) {
      if (error instanceof RevokedKey) return { ok: false, reason: 'key_revoked' }
      throw error
    }
  }

  /** Release every hold whose call never settled, and take expired credits back. */
  override async alarm(): Promise<void> {
    this.alarmAt = null
    const now = Date.now()
    const row = this.account()
    if (!row) return
    this.transact(() => {
      const expired = expireHolds(this.sql, row, this.openHolds(), now)
      for (const hold of expired.expired) if (hold.tracked) addToCounters(this.sql, hold.createdAt, -hold.calls, -hold.amount)
      this.row = expireLots(this.sql, expired.row, this.lots(), now)
    })
    this.prune(now)
    // A lot past its expiry that still backs in-flight holds waits for them: no busy alarm.
    const lot = nextLotExpiry(this.lots().filter((entry) => entry.expiresAt > now))
    const hold = nextExpiry(this.openHolds())
    const next = lot === null ? hold : hold === null ? lot : Math.min(lot, hold)
    if (next !== null) await this.scheduleExpiry(next)
  }

  /** Keep an alarm at or before the earliest open hold's or lot's expiry. */
  private async scheduleExpiry(expiresAt: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm()
    if (this.alarmAt !== null && this.alarmAt <= expiresAt) return
    this.alarmAt = expiresAt
    await this.ctx.storage.setAlarm(expiresAt)
  }

  private prune(now: number): void {
    this.holdsSincePrune = 0
    if (!this.account()) return
    pruneSettled(this.sql, now - RETENTION_MS)
    pruneCounters(this.sql, now)
  }
}

/** Thrown inside a transaction to roll it back when the key is revoked. */
class RevokedKey extends Error {}
