/**
 * @module credits/ledger
 * The typed, fail-closed way the rest of the gate talks to account objects. An RPC
 * that throws (object overloaded, network, a bug) becomes `ledger_unavailable`,
 * which the gate answers with 503: a payment we cannot check is a payment refused.
 */
import { withRetries } from '../retry'
import type { CreditAccount } from './account-object'
import type { HolderAlert } from './holder-alert'
import type { KeyIndex } from './key-index-object'
import { reserveBatched } from './reserve-batching'
import type {
  HolderView,
  MovedAccount,
  ReserveRequest,
  ReserveResult,
  Settlement,
  SettleResult,
  ToolListsAnswer,
} from './types'

export type AccountNamespace = DurableObjectNamespace<CreditAccount>
export type IndexNamespace = DurableObjectNamespace<KeyIndex>

/** The one index object's name. */
const INDEX_NAME = 'key-index'

export function accountStub(
  namespace: AccountNamespace,
  keyHash: string
): DurableObjectStub<CreditAccount> {
  return namespace.getByName(keyHash)
}

export function indexStub(namespace: IndexNamespace): DurableObjectStub<KeyIndex> {
  return namespace.getByName(INDEX_NAME)
}

export type LedgerReserveResult =
  | (Exclude<ReserveResult, { reason: 'moved' }> & { account: string })
  | { ok: false; reason: 'ledger_unavailable' }

/**
 * Where a rotated-in key's account lives, per isolate. A key's object points to
 * one account for ever, so this never goes stale; the account itself decides
 * whether the key still opens it.
 */
const accountOfKey = new Map<string, string>()
const ACCOUNTS_REMEMBERED = 4096

/** The object holding the account a key opens: its own, or the one it was rotated into. */
export function accountNameOf(keyHash: string): string {
  return accountOfKey.get(keyHash) ?? keyHash
}

function rememberAccount(keyHash: string, account: string): void {
  if (accountOfKey.size >= ACCOUNTS_REMEMBERED) accountOfKey.clear()
  accountOfKey.set(keyHash, account)
}

/**
 * Reserve on the account the key opens, failing closed. The result names that
 * account (settlements go there). A key made by a rotation points to its account
 * once; that hop is remembered.
 */
export async function reserveCredits(
  namespace: AccountNamespace,
  keyHash: string,
  request: ReserveRequest
): Promise<LedgerReserveResult> {
  try {
    const account = accountNameOf(keyHash)
    const credential = { ...request, credential: keyHash }
    const result = await reserveBatched(namespace, account, credential)
    if (result.ok || result.reason !== 'moved') return { ...result, account }
    // The key's own object holds no account: the same request, riding settlements and all, goes to the account.
    rememberAccount(keyHash, result.account)
    const moved = await reserveBatched(namespace, result.account, credential)
    if (!moved.ok && moved.reason === 'moved')
      return { ok: false, reason: 'invalid_api_key', account: result.account }
    return { ...moved, account: result.account }
  } catch (error) {
    console.error('pay-gate: reserve failed', (error as Error).message)
    return { ok: false, reason: 'ledger_unavailable' }
  }
}

/**
 * Ask the account a key opens, following a rotation once (and remembering it).
 * @returns the account's answer and the account object's name
 */
async function askAccount<T extends { ok: boolean }>(
  namespace: AccountNamespace,
  keyHash: string,
  ask: (stub: DurableObjectStub<CreditAccount>) => Promise<unknown>
): Promise<{
  answer: Exclude<T, MovedAccount> | { ok: false; reason: 'invalid_api_key' }
  name: string
}> {
  const isMoved = (value: T | MovedAccount): value is MovedAccount =>
    !value.ok && (value as { reason?: string }).reason === 'moved'
  const account = accountNameOf(keyHash)
  const first = (await ask(accountStub(namespace, account))) as T | MovedAccount
  if (!isMoved(first)) return { answer: first as Exclude<T, MovedAccount>, name: account }
  rememberAccount(keyHash, first.account)
  const second = (await ask(accountStub(namespace, first.account))) as T | MovedAccount
  return {
    answer: isMoved(second)
      ? { ok: false, reason: 'invalid_api_key' }
      : (second as Exclude<T, MovedAccount>),
    name: first.account,
  }
}

/**
 * Read the account a key opens, as its holder; null when the key opens none. Throws when the ledger is unreachable.
 * @param before a ledger page: rows older than this seq
 */
export async function holderView(
  namespace: AccountNamespace,
  keyHash: string,
  ledgerLimit = 0,
  before?: number
): Promise<(Extract<HolderView, { ok: true }> & { name: string }) | null> {
  const { answer, name } = await askAccount<HolderView>(namespace, keyHash, (stub) =>
    stub.holderView(keyHash, ledgerLimit, before)
  )
  return answer.ok ? { ...answer, name } : null
}

/** Set (null: remove) the holder's low-balance alert on the account the key opens; the account after, or null when the key opens none. Throws when the ledger is unreachable. */
export async function setHolderAlert(
  namespace: AccountNamespace,
  keyHash: string,
  alert: HolderAlert | null
): Promise<Extract<HolderView, { ok: true }> | null> {
  const { answer } = await askAccount<HolderView>(namespace, keyHash, (stub) =>
    stub.setHolderAlert(keyHash, alert)
  )
  return answer.ok ? answer : null
}

/** The tool lists of the key's account; null when the key opens none. Throws when the ledger is unreachable. */
export async function keyToolLists(
  namespace: AccountNamespace,
  keyHash: string
): Promise<Extract<ToolListsAnswer, { ok: true }> | null> {
  const { answer } = await askAccount<ToolListsAnswer>(namespace, keyHash, (stub) =>
    stub.toolLists(keyHash)
  )
  return answer.ok ? answer : null
}

/**
 * Let an OAuth grant pay from the account the key opens (credits/oauth-grants).
 * @returns the account object's name, or null when the key opens no live account
 */
export async function bindGrant(
  namespace: AccountNamespace,
  keyHash: string,
  grant: string,
  client: string
): Promise<string | null> {
  const { answer, name } = await askAccount<{ ok: boolean }>(namespace, keyHash, async (stub) => {
    const moved = await stub.holderView(keyHash, 0)
    if (!moved.ok && moved.reason === 'moved') return moved
    return { ok: await stub.bindGrant(keyHash, grant, client) }
  })
  return answer.ok ? name : null
}

/** Stop an OAuth grant paying from an account (its object's name), at once. Throws when the ledger is unreachable. */
export async function revokeGrant(
  namespace: AccountNamespace,
  account: string,
  grant: string
): Promise<boolean> {
  return accountStub(namespace, account).revokeGrant(grant)
}

/** Attempts at settling before leaving the holds to expire on their own. */
const SETTLE_ATTEMPTS = 3

/**
 * Settle holds: charge each its amount and free the rest. Settling is idempotent
 * per hold, so a transient RPC failure is retried; if every attempt fails, the
 * holds expire and the caller is not charged.
 */
export async function settleManyCredits(
  namespace: AccountNamespace,
  keyHash: string,
  settlements: Settlement[]
): Promise<SettleResult[] | { ok: false; reason: 'ledger_unavailable' }> {
  // On a retry after a lost reply this may answer `already_settled`: the work is done.
  // An overloaded object is not asked again at once.
  const tried = await withRetries(() => accountStub(namespace, keyHash).settleMany(settlements), {
    attempts: SETTLE_ATTEMPTS,
    baseMs: 50,
    retryable: (error) => !(error as { overloaded?: boolean }).overloaded,
  })
  if (!tried.ok) {
    console.error(
      `pay-gate: settle failed for ${settlements.length} hold(s); they will expire`,
      (tried.error as Error)?.message
    )
    return { ok: false, reason: 'ledger_unavailable' }
  }
  tried.value.forEach((result, index) => {
    if (!result.ok && result.reason !== 'already_settled') {
      console.error(`pay-gate: settle ${settlements[index]?.reservationId} → ${result.reason}`)
    }
  })
  return tried.value
}

/**
 * Mark a held call as waiting for an answer on another stream (see waiting-calls).
 * Best effort: unmarked, the call can still be answered, just not given up early.
 */
export async function awaitAnswer(
  namespace: AccountNamespace,
  keyHash: string,
  account: string,
  reservationId: string,
  call: string,
  session: string
): Promise<boolean> {
  try {
    return await accountStub(namespace, account).awaitAnswer(keyHash, reservationId, call, session)
  } catch (error) {
    console.error('pay-gate: could not mark a call as waiting', (error as Error).message)
    return false
  }
}

/** Release the key's waiting calls named by one call or a whole session; the number released. */
export async function releaseWaiting(
  namespace: AccountNamespace,
  keyHash: string,
  which: { call: string } | { session: string }
): Promise<number> {
  try {
    return await accountStub(namespace, accountNameOf(keyHash)).releaseWaiting(keyHash, which)
  } catch (error) {
    console.error('pay-gate: could not release waiting calls', (error as Error).message)
    return 0
  }
}
