/**
 * @module credits/account-object
 * One API key's account: balance, status, limits, policy, plan, holds and an
 * append-only ledger, in the object's own SQLite storage. The object is the
 * single writer for its key, and every method below does its reads and writes
 * synchronously inside one `transactionSync`, with no `await` between a check and
 * the write it guards: that is what makes each debit, and each quota and plan
 * count that goes with it, atomic however many isolates call at once.
 * Being the only writer, it keeps its state in memory (account-state: set only
 * after a transaction committed, dropped if one throws) rather than reading it
 * per call. It is a ledger only: no HTTP, no Hono, no knowledge of prices or routes.
 */
import { DurableObject } from 'cloudflare:workers'
import {
  createAccount,
  createAlias,
  setAccountRateLimit,
  setAccountStatus,
  topUpAccount,
} from './account-admin'
import { pruneCounters } from './account-settings'
import { readAsHolder, holderToolLists, setAlertAsHolder } from './account-holder'
import { addLot, expireDue, nextWake } from './account-lots'
import { reserveOnAccount, settleOnAccount } from './account-reserve'
import { AccountState } from './account-state'
import type { HolderAlert } from './holder-alert'
import { bindGrant, revokeGrant } from './oauth-grants'
import { reserveItems } from './reserve-call'
import { earliestExpiry, reserveInOrder } from './reserve-many'
import { markWaiting, pruneWaiting, takeWaiting } from './waiting-calls'
import { pruneSettled } from './reservations'
import type {
  AccountInit,
  AccountView,
  AdminResult,
  AssignedPlan,
  HolderView,
  ToolListsAnswer,
  KeyPolicy,
  KeyStatus,
  LedgerEntry,
  RateLimitSpec,
  ReserveAnswer,
  ReserveRequest,
  ReserveResult,
  Settlement,
  SettleResult,
} from './types'

/** Settled holds and idempotency keys are kept this long, then pruned. */
const RETENTION_MS = 24 * 60 * 60 * 1000

export class CreditAccount extends DurableObject<unknown> {
  private readonly state = new AccountState(this.ctx.storage)
  private readonly sql = this.state.sql
  /** When the alarm is set for, as far as this instance knows (undefined: ask storage). */
  private alarmAt: number | null | undefined
  private holdsSincePrune = 0

  /** Create the account. Fails if it exists, so a key can never be re-granted by replay. */
  async init(input: AccountInit): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(input.credits) || input.credits < 0)
      return { ok: false, reason: 'invalid_amount' }
    const trial = input.trial ?? null
    if (
      trial &&
      (!Number.isSafeInteger(trial.credits) || trial.credits <= 0 || trial.expiresAt <= now)
    )
      return { ok: false, reason: 'invalid_amount' }
    const result = createAccount(this.state, input, now)
    if (trial) await this.scheduleExpiry(trial.expiresAt)
    return result
  }

  /** The account and its ledger rows, newest first (older than row `beforeSeq`, if given); null for an unknown key. For the operator. */
  async view(
    ledgerLimit = 0,
    beforeSeq?: number
  ): Promise<{ account: AccountView; ledger: LedgerEntry[] } | null> {
    const row = this.state.account()
    if (!row) return null
    return {
      account: this.state.viewOf(row, Date.now()),
      ledger: this.state.ledger(ledgerLimit, beforeSeq),
    }
  }

  /** The account as its key holder may read it: only with the key that opens it now. `before`: a ledger page older than that seq. */
  async holderView(credential: string, ledgerLimit = 0, before?: number): Promise<HolderView> {
    return readAsHolder(this.state, credential, ledgerLimit, before)
  }

  /** The key's tool allow- and deny-lists, for filtering what it is shown: only with the key that opens it now. */
  async toolLists(credential: string): Promise<ToolListsAnswer> {
    return holderToolLists(this.state, credential)
  }

  /** Set (null: remove) the holder's own low-balance alert: only with the key that opens the account now. */
  async setHolderAlert(credential: string, alert: HolderAlert | null): Promise<HolderView> {
    return setAlertAsHolder(this.state, credential, alert)
  }

  /**
   * Hold the plan's price of a call about to be forwarded. Settlements of earlier
   * calls may ride along (the gate batches them) and are applied first, in the
   * same transaction. The checks are in reserve-call. With `chargeNow` the hold is
   * charged in full before the transaction ends.
   */
  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    const now = Date.now()
    const items = reserveItems(request)
    const result = this.state.transact(() => reserveOnAccount(this.state, request, items, now))
    if (result.ok && result.kind === 'reserved' && !result.charged)
      await this.scheduleExpiry(now + request.holdMs)
    if (++this.holdsSincePrune >= 256) this.prune(now)
    return result
  }

  /**
   * Several reserves at once (reserve-batching: the calls on this key that one
   * isolate had waiting), each decided as `reserve` decides it, in order, in one
   * transaction: one write of the account row and of the counters for them all,
   * and one durable commit, before which no answer leaves. If any throws, that
   * transaction is rolled back and each runs again in its own, so one that fails
   * (a bug, bad input) fails alone, as it would have by itself.
   */
  async reserveMany(requests: ReserveRequest[]): Promise<ReserveAnswer[]> {
    const now = Date.now()
    const answers = reserveInOrder(this.state, requests, now)
    const expiry = earliestExpiry(requests, answers, now)
    this.holdsSincePrune += requests.length
    if (this.holdsSincePrune >= 256) this.prune(now)
    if (expiry !== Infinity) await this.scheduleExpiry(expiry)
    return answers
  }

  /**
   * Settle holds: charge each `amount` (at most what it held; 0 releases it all)
   * and free the rest. Idempotent: settling twice changes nothing the second time.
   */
  async settle(reservationId: string, amount: number): Promise<SettleResult> {
    return (await this.settleMany([{ reservationId, amount }]))[0] as SettleResult
  }

  /** OAuth (credits/oauth-grants): let a grant's tokens pay, while `credential` opens this live account. */
  async bindGrant(credential: string, grant: string, client: string): Promise<boolean> {
    const row = this.state.account()
    if (!row || row.status === 'revoked' || !this.state.opens(credential)) return false
    return this.state.transact(() => bindGrant(this.sql, grant, client, Date.now()))
  }

  /** Stop a grant's tokens paying, at once. */
  async revokeGrant(grant: string): Promise<boolean> {
    return (
      this.state.account() !== null &&
      this.state.transact(() => revokeGrant(this.sql, grant, Date.now()))
    )
  }

  async settleMany(settlements: Settlement[]): Promise<SettleResult[]> {
    const now = Date.now()
    return this.state.transact(() => settleOnAccount(this.state, settlements, now))
  }

  /**
   * A held call whose POST stream ended before its answer waits for it (MCP: the
   * answer may come on a resumed stream). Marked so that the caller can give it up.
   * @returns false when the hold is settled already (or the key does not open this account)
   */
  async awaitAnswer(
    credential: string,
    reservationId: string,
    call: string,
    session: string
  ): Promise<boolean> {
    if (!this.state.opens(credential) || !/^[1-9][0-9]{0,15}$/.test(reservationId)) return false
    return this.state.transact(() =>
      markWaiting(this.sql, Number(reservationId), call, session, Date.now())
    )
  }

  /**
   * Let go of waiting calls the caller gave up on: one call (MCP `notifications/cancelled`)
   * or all of a session's (its DELETE). Released, never charged.
   * @returns how many holds were released
   */
  async releaseWaiting(
    credential: string,
    which: { call: string } | { session: string }
  ): Promise<number> {
    if (!this.state.opens(credential)) return 0
    const ids = this.state.transact(() => takeWaiting(this.sql, which))
    if (ids.length === 0) return 0
    const results = await this.settleMany(
      ids.map((id) => ({ reservationId: String(id), amount: 0, calls: 0 }))
    )
    return results.filter((result) => result.ok).length
  }

  /**
   * Add credits. With a `reference` (a payment's id), the same top-up asked for
   * twice credits once: safe to retry after a settled payment. The same reference
   * with another amount is refused.
   */
  async topUp(
    amount: number,
    label: string | null = null,
    reference?: string
  ): Promise<AdminResult> {
    const now = Date.now()
    if (!Number.isSafeInteger(amount) || amount <= 0) return { ok: false, reason: 'invalid_amount' }
    return topUpAccount(this.state, amount, label, reference, now)
  }

  /** Grant credits that expire at `expiresAt` (a trial); they are spent before the others. */
  async grant(
    amount: number,
    expiresAt: number,
    label: string | null = null
  ): Promise<AdminResult> {
    const now = Date.now()
    if (
      !Number.isSafeInteger(amount) ||
      amount <= 0 ||
      !Number.isSafeInteger(expiresAt) ||
      expiresAt <= now
    )
      return { ok: false, reason: 'invalid_amount' }
    const result = this.state.change(
      (row) => addLot(this.state, row, amount, expiresAt, label ?? 'expiring credits', now),
      now
    )
    if (result.ok) await this.scheduleExpiry(expiresAt)
    return result
  }

  /** Suspend, resume or revoke. Revocation is final. */
  async setStatus(target: KeyStatus): Promise<AdminResult> {
    return setAccountStatus(this.state, target, Date.now())
  }

  /** Replace the key's own rate limit (null removes it). */
  async setRateLimit(limit: RateLimitSpec | null): Promise<AdminResult> {
    return setAccountRateLimit(this.state, limit, Date.now())
  }

  /** Replace the key's policy (tool lists, lifetime cap, quotas); a `policy` ledger row records it. */
  async setPolicy(policy: KeyPolicy): Promise<AdminResult> {
    return this.state.changeSettings({ policy }, 'policy', 'policy changed')
  }

  /** Assign a plan (null: back to list prices); a `plan` ledger row records it. */
  async setPlan(plan: AssignedPlan | null): Promise<AdminResult> {
    return this.state.changeSettings({ plan }, 'plan', plan ? `plan ${plan.name}` : 'no plan')
  }

  /**
   * Rotate: from now on only the key whose hash is `credential` opens this
   * account. Balance, holds, limits, policy and history stay where they are.
   */
  async rotate(credential: string): Promise<AdminResult> {
    if (!/^[0-9a-f]{64}$/.test(credential)) return { ok: false, reason: 'invalid_transition' }
    return this.state.changeSettings({ credential, rotatedAt: Date.now() }, 'rotate', 'key rotated')
  }

  /** Make this (a new key's) object point to the account it opens. Fails if it holds anything. */
  async initAlias(account: string): Promise<boolean> {
    return createAlias(this.state, account)
  }

  /** Release every hold whose call never settled, and take expired credits back. */
  override async alarm(): Promise<void> {
    this.alarmAt = null
    const now = Date.now()
    if (!expireDue(this.state, now)) return
    this.prune(now)
    const next = nextWake(this.state, now)
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
    if (!this.state.account()) return
    pruneSettled(this.sql, now - RETENTION_MS)
    pruneWaiting(this.sql)
    pruneCounters(this.sql, now)
  }
}
