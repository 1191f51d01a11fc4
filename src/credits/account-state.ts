/**
 * @module credits/account-state
 * What a key's account object keeps in memory and the steps its methods share:
 * the account row, open holds, settings and credit lots (read once, set only
 * after a transaction commits, dropped when one throws), settling a hold with its
 * counters and lots, and an operator's change in one transaction (a reserve:
 * account-reserve; time and lots: account-lots).
 * The object (account-object) is the RPC surface; this is its state.
 */
import {
  toLedgerEntry,
  toView,
  upgradeAccountSchema,
  type AccountRow,
  type LedgerRow,
} from './account-sql'
import { readSettings, writeSettings, type AccountSettings } from './account-settings'
import { CounterBuffer } from './counter-buffer'
import { readLots, spendFromLots, type CreditLot } from './credit-lots'
import { readHolderAlert, writeHolderAlert, type HolderAlert } from './holder-alert'
import { appendLedger, lastHoldId, loadOpenHolds, settleHold, type OpenHold } from './reservations'
import type {
  AccountView,
  AdminResult,
  LedgerEntry,
  LedgerKind,
  Settlement,
  SettleResult,
} from './types'

type Tables = { account: boolean; alias: boolean }

export class AccountState {
  readonly sql: SqlStorage
  /** The period counters, written once per transaction. */
  readonly counters: CounterBuffer
  /** The account row; null: this key has no account; undefined: not read yet. */
  row: AccountRow | null | undefined
  private holds: Map<number, OpenHold> | undefined
  private holdId: number | undefined
  private settingsCache: AccountSettings | undefined
  private lotsCache: CreditLot[] | undefined
  /** The holder's low-balance alert; null: none; undefined: not read yet. */
  private alertCache: HolderAlert | null | undefined

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql
    this.counters = new CounterBuffer(this.sql)
  }

  /** The next hold id (the object counts on from the highest stored). */
  nextHoldId(): number {
    this.holdId = this.peekHoldId()
    return this.holdId
  }

  /** The id the next hold would take. */
  peekHoldId(): number {
    this.holdId ??= lastHoldId(this.sql)
    return this.holdId + 1
  }

  /** Replace the settings, in the current transaction. */
  writeSettings(change: Partial<AccountSettings>): void {
    this.settingsCache = { ...this.settings(), ...change }
    writeSettings(this.sql, this.settingsCache)
  }

  /** An operator's change to the settings, with a ledger row of 0 that records it. */
  changeSettings(change: Partial<AccountSettings>, kind: LedgerKind, label: string): AdminResult {
    const now = Date.now()
    return this.change((row) => {
      this.writeSettings(change)
      appendLedger(this.sql, { kind, amount: 0, balanceAfter: row.balance, at: now, label })
      return row
    }, now)
  }

  tables(): Tables {
    const names = this.sql
      .exec<{ name: string }>(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('account', 'alias')`
      )
      .toArray()
      .map((table) => table.name)
    return { account: names.includes('account'), alias: names.includes('alias') }
  }

  account(): AccountRow | null {
    if (this.row !== undefined) return this.row
    // An unknown key must never create tables, so look before reading.
    if (!this.tables().account) return (this.row = null)
    // Atomic: an upgrade cut short must not leave holds half moved (nested in a caller's transaction, a savepoint).
    this.storage.transactionSync(() => upgradeAccountSchema(this.sql))
    this.row =
      this.sql.exec<AccountRow>('SELECT * FROM account WHERE singleton = 1').toArray()[0] ?? null
    return this.row
  }

  settings(): AccountSettings {
    this.settingsCache ??= readSettings(this.sql)
    return this.settingsCache
  }

  lots(): CreditLot[] {
    this.lotsCache ??= readLots(this.sql)
    return this.lotsCache
  }

  openHolds(): Map<number, OpenHold> {
    this.holds ??= loadOpenHolds(this.sql)
    return this.holds
  }

  /** Run `work` atomically, counters written at its end; if it throws, forget what is cached (its writes rolled back). */
  transact<T>(work: () => T): T {
    try {
      return this.storage.transactionSync(() => {
        const result = work()
        this.counters.flush()
        return result
      })
    } catch (error) {
      this.counters.drop()
      this.row = undefined
      this.holds = undefined
      this.holdId = undefined
      this.settingsCache = undefined
      this.lotsCache = undefined
      this.alertCache = undefined
      throw error
    }
  }

  viewOf(row: AccountRow, now: number): AccountView {
    const settings = this.settings()
    return toView(row, now, {
      policy: settings.policy,
      plan: settings.plan,
      rotatedAt: settings.rotatedAt,
      inFlight: this.openHolds().size,
      expiringCredits: this.lots().map((lot) => ({
        amount: lot.remaining,
        expiresAt: lot.expiresAt,
      })),
      usage: { day: this.counters.read('day', now), month: this.counters.read('month', now) },
    })
  }

  /** The newest ledger rows, newest first; with `before`, those older than that row's seq (a page). */
  ledger(ledgerLimit: number, before?: number): LedgerEntry[] {
    const limit = Math.max(0, Math.min(1000, Math.trunc(ledgerLimit)))
    if (!limit) return []
    const rows =
      before === undefined || !Number.isSafeInteger(before)
        ? this.sql.exec<LedgerRow>('SELECT * FROM ledger ORDER BY seq DESC LIMIT ?', limit)
        : this.sql.exec<LedgerRow>(
            'SELECT * FROM ledger WHERE seq < ? ORDER BY seq DESC LIMIT ?',
            before,
            limit
          )
    return rows.toArray().map(toLedgerEntry)
  }

  holderAlert(): HolderAlert | null {
    if (this.alertCache === undefined) this.alertCache = readHolderAlert(this.sql)
    return this.alertCache
  }

  /** Replace the holder's alert, in the current transaction. */
  setHolderAlert(alert: HolderAlert | null): void {
    writeHolderAlert(this.sql, alert)
    this.alertCache = alert
  }

  /** Whether a presented key (by hash) opens this account: after a rotation, only the newest. */
  opens(credential: string | undefined): boolean {
    const current = this.settings().credential
    return current === null || credential === undefined || credential === current
  }

  aliasTarget(): string | null {
    if (!this.tables().alias) return null
    return (
      this.sql
        .exec<{ account: string }>('SELECT account FROM alias WHERE singleton = 1')
        .toArray()[0]?.account ?? null
    )
  }

  /** Settle one hold, and correct the period counters and credit lots it touched. */
  settleOne(
    row: AccountRow,
    settlement: Settlement,
    now: number
  ): { row: AccountRow; result: SettleResult } {
    const applied = settleHold(this.sql, row, this.openHolds(), settlement, now)
    const settled = applied.settled
    if (settled) {
      const { hold, charged, served } = settled
      // Counted in full when taken: give back what was not served. An expired hold was given back
      // in full by the alarm, so a late success counts what it served again.
      if (hold.tracked && settled.expired) this.counters.add(hold.createdAt, served, charged)
      else if (hold.tracked)
        this.counters.add(hold.createdAt, -(hold.calls - served), -(hold.amount - charged))
      this.spendLots(charged, hold.createdAt)
    }
    return applied
  }

  /** A charge (or a plan's fee) spends the credit lots that expire soonest first. */
  spendLots(amount: number, heldAt: number): void {
    if (amount > 0 && this.lots().length > 0) spendFromLots(this.sql, this.lots(), amount, heldAt)
  }

  /** Apply riding settlements to the row (the caller writes the row). */
  applySettlements(row: AccountRow, settlements: Settlement[], now: number): AccountRow {
    let next = row
    for (const settlement of settlements) {
      const applied = this.settleOne(next, settlement, now)
      if (!applied.result.ok && applied.result.reason !== 'already_settled') {
        console.error(
          `pay-gate: settlement of ${settlement.reservationId} refused: ${applied.result.reason}`
        )
      }
      next = applied.row
    }
    return next
  }

  /** An operator's change to an existing, unrevoked account, in one transaction. */
  change(work: (row: AccountRow) => AccountRow, now: number): AdminResult {
    return this.transact((): AdminResult => {
      const row = this.account()
      if (!row) return { ok: false, reason: 'invalid_api_key' }
      if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
      const next = work(row)
      this.row = next
      return { ok: true, view: this.viewOf(next, now) }
    })
  }
}
