/**
 * @module credits/account-holder
 * What a key holder may read and change of their own account: only with the key
 * that opens it now. An account the key was rotated into says where it lives;
 * one the key no longer opens answers nothing.
 */
import type { AccountRow } from './account-sql'
import type { AccountState } from './account-state'
import type { HolderAlert } from './holder-alert'
import type { HolderView, KeyPolicy, MovedAccount, ToolListsAnswer } from './types'

/** Only the lists: a key's quotas and limits are the operator's business. */
const pickLists = ({ allowTools, denyTools }: KeyPolicy) => ({ allowTools, denyTools })

function asHolder<T>(
  state: AccountState,
  credential: string,
  read: (row: AccountRow) => T
): T | MovedAccount | { ok: false; reason: 'invalid_api_key' } {
  const row = state.account()
  if (!row) {
    const moved = state.aliasTarget()
    return moved
      ? { ok: false, reason: 'moved', account: moved }
      : { ok: false, reason: 'invalid_api_key' }
  }
  return state.opens(credential) ? read(row) : { ok: false, reason: 'invalid_api_key' }
}

/** The account, its ledger (a page older than `before`, if given) and the holder's alert. */
export function readAsHolder(
  state: AccountState,
  credential: string,
  ledgerLimit: number,
  before?: number
): HolderView {
  return asHolder(state, credential, (row) => {
    const alert = state.holderAlert()
    const ledger = state.ledger(ledgerLimit, before)
    return {
      ok: true,
      account: state.viewOf(row, Date.now()),
      ledger,
      alert: alert && { url: alert.url, threshold: alert.threshold },
    }
  })
}

/** The key's tool allow- and deny-lists, for filtering what it is shown. */
export function holderToolLists(state: AccountState, credential: string): ToolListsAnswer {
  return asHolder(state, credential, () => ({ ok: true, ...pickLists(state.settings().policy) }))
}

/** Set (null: remove) the holder's own low-balance alert; answers the account as it is then. */
export function setAlertAsHolder(
  state: AccountState,
  credential: string,
  alert: HolderAlert | null
): HolderView {
  const allowed = asHolder(state, credential, () => ({ ok: true as const }))
  if (!allowed.ok) return allowed
  state.transact(() => state.setHolderAlert(alert))
  return readAsHolder(state, credential, 0)
}
