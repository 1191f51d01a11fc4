/**
 * @module credits/account-admin
 * An operator's changes to a key's account that need more than one step: create
 * it, top it up (once per payment reference), change its status or its rate
 * limit, point a rotated-in key's object at its account. Each runs in
 * one transaction of the object's state (account-object is the RPC surface).
 */
import { ACCOUNT_SCHEMA, type AccountRow } from './account-sql'
import { addLot } from './account-lots'
import type { AccountState } from './account-state'
import { noteTopUpReference } from './idempotency'
import { appendLedger, writeAccount } from './reservations'
import type { AccountInit, AdminResult, KeyStatus, LedgerKind, RateLimitSpec } from './types'

/** Create the account with its initial credits, policy, plan and trial lot. Fails if it exists. */
export function createAccount(state: AccountState, input: AccountInit, now: number): AdminResult {
  const trial = input.trial ?? null
  return state.transact((): AdminResult => {
    if (state.tables().alias) return { ok: false, reason: 'invalid_transition' }
    state.sql.exec(ACCOUNT_SCHEMA)
    state.row = undefined
    if (state.account()) return { ok: false, reason: 'invalid_transition' }
    state.sql.exec(
      `INSERT INTO account (singleton, id, name, status, balance, held, expires_at, rate_limit, rate_window, created_at, updated_at, spent)
       VALUES (1, ?, ?, 'active', ?, 0, ?, ?, ?, ?, ?, 0)`,
      input.id,
      input.name,
      input.credits,
      input.expiresAt ?? null,
      input.rateLimit?.limit ?? null,
      input.rateLimit?.windowSeconds ?? null,
      now,
      now
    )
    appendLedger(state.sql, {
      kind: 'grant',
      amount: input.credits,
      balanceAfter: input.credits,
      at: now,
      label: 'initial credits',
    })
    let row = state.sql.exec<AccountRow>('SELECT * FROM account WHERE singleton = 1').one()
    if (input.policy || input.plan) {
      state.writeSettings({
        policy: input.policy ?? state.settings().policy,
        plan: input.plan ?? null,
      })
    }
    if (trial) row = addLot(state, row, trial.credits, trial.expiresAt, 'trial credits', now)
    state.row = row
    return { ok: true, view: state.viewOf(row, now) }
  })
}

/** Add credits; with a `reference`, the same top-up asked for twice credits once. */
export function topUpAccount(
  state: AccountState,
  amount: number,
  label: string | null,
  reference: string | undefined,
  now: number
): AdminResult {
  return state.transact((): AdminResult => {
    const row = state.account()
    if (!row) return { ok: false, reason: 'invalid_api_key' }
    if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
    const noted =
      reference === undefined ? 'new' : noteTopUpReference(state.sql, reference, amount, now)
    if (noted === 'repeat') return { ok: true, view: state.viewOf(row, now), duplicate: true }
    if (noted === 'conflict') return { ok: false, reason: 'reference_conflict' }
    const next = { ...row, balance: row.balance + amount, updated_at: now }
    writeAccount(state.sql, next)
    appendLedger(state.sql, { kind: 'topup', amount, balanceAfter: next.balance, at: now, label })
    state.row = next
    return { ok: true, view: state.viewOf(next, now) }
  })
}

/** Suspend, resume or revoke. Revocation is final. */
export function setAccountStatus(state: AccountState, target: KeyStatus, now: number): AdminResult {
  return state.transact((): AdminResult => {
    const row = state.account()
    if (!row) return { ok: false, reason: 'invalid_api_key' }
    if (row.status === 'revoked') return { ok: false, reason: 'key_revoked' }
    const allowed = target === 'revoked' || (target === 'suspended') === (row.status === 'active')
    if (!allowed) return { ok: false, reason: 'invalid_transition' }
    const next = { ...row, status: target, updated_at: now }
    writeAccount(state.sql, next)
    const kind: LedgerKind =
      target === 'active' ? 'resume' : target === 'suspended' ? 'suspend' : 'revoke'
    appendLedger(state.sql, { kind, amount: 0, balanceAfter: row.balance, at: now })
    state.row = next
    return { ok: true, view: state.viewOf(next, now) }
  })
}

/** Replace the key's own rate limit (null removes it). */
export function setAccountRateLimit(
  state: AccountState,
  limit: RateLimitSpec | null,
  now: number
): AdminResult {
  return state.change((row) => {
    const next = {
      ...row,
      rate_limit: limit?.limit ?? null,
      rate_window: limit?.windowSeconds ?? null,
      updated_at: now,
    }
    writeAccount(state.sql, next)
    return next
  }, now)
}

/** Make this (a new key's) object point to the account it opens. Fails if it holds anything. */
export function createAlias(state: AccountState, account: string): boolean {
  return state.transact(() => {
    const tables = state.tables()
    if (tables.account || tables.alias) return false
    state.sql.exec(
      'CREATE TABLE alias (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), account TEXT NOT NULL)'
    )
    state.sql.exec('INSERT INTO alias (singleton, account) VALUES (1, ?)', account)
    return true
  })
}
