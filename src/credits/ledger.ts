/**
 * @module credits/ledger
 * The typed, fail-closed way the rest of the gate talks to account objects. An RPC
 * that throws (object overloaded, network, a bug) becomes `ledger_unavailable`,
 * which the gate answers with 503: a payment we cannot check is a payment refused.
 */
import type { CreditAccount } from './account-object'
import type { KeyIndex } from './key-index-object'
import type { ReserveRequest, ReserveResult, Settlement, SettleResult } from './types'

export type AccountNamespace = DurableObjectNamespace<CreditAccount>
export type IndexNamespace = DurableObjectNamespace<KeyIndex>

/** The one index object's name. */
const INDEX_NAME = 'key-index'

export function accountStub(namespace: AccountNamespace, keyHash: string): DurableObjectStub<CreditAccount> {
  return namespace.getByName(keyHash)
}

export function indexStub(namespace: IndexNamespace): DurableObjectStub<KeyIndex> {
  return namespace.getByName(INDEX_NAME)
}

export type LedgerReserveResult = ReserveResult | { ok: false; reason: 'ledger_unavailable' }

/** Reserve, failing closed. */
export async function reserveCredits(
  namespace: AccountNamespace,
  keyHash: string,
  request: ReserveRequest
): Promise<LedgerReserveResult> {
  try {
    return await accountStub(namespace, keyHash).reserve(request)
  } catch (error) {
    console.error('pay-gate: reserve failed', (error as Error).message)
    return { ok: false, reason: 'ledger_unavailable' }
  }
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
  let lastError: unknown
  for (let attempt = 0; attempt < SETTLE_ATTEMPTS; attempt++) {
    try {
      // On a retry after a lost reply this may answer `already_settled`: the work is done.
      const results = await accountStub(namespace, keyHash).settleMany(settlements)
      results.forEach((result, index) => {
        if (!result.ok && result.reason !== 'already_settled') {
          console.error(`pay-gate: settle ${settlements[index]?.reservationId} → ${result.reason}`)
        }
      })
      return results
    } catch (error) {
      lastError = error
      if ((error as { overloaded?: boolean }).overloaded) break
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt))
    }
  }
  console.error(`pay-gate: settle failed for ${settlements.length} hold(s); they will expire`, (lastError as Error)?.message)
  return { ok: false, reason: 'ledger_unavailable' }
}
