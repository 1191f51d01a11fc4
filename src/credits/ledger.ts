/**
 * @module credits/ledger
 * The typed, fail-closed way the rest of the gate talks to account objects. An RPC
 * that throws (object overloaded, network, a bug) becomes `ledger_unavailable`,
 * which the gate answers with 503: a payment we cannot check is a payment refused.
 */
import type { CreditAccount } from './account-object'
import type { KeyIndex } from './key-index-object'
import type { ReserveRequest, ReserveResult, SettleResult } from './types'

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

/** Attempts at settling before leaving the reservation to expire on its own. */
const SETTLE_ATTEMPTS = 3

/**
 * Settle a reservation: charge `amount` of it and free the rest. Settling is
 * idempotent per reservation, so a transient RPC failure is retried; if every
 * attempt fails, the hold expires and the caller is not charged.
 */
export async function settleCredits(
  namespace: AccountNamespace,
  keyHash: string,
  reservationId: string,
  amount: number
): Promise<SettleResult | { ok: false; reason: 'ledger_unavailable' }> {
  let lastError: unknown
  for (let attempt = 0; attempt < SETTLE_ATTEMPTS; attempt++) {
    try {
      // On a retry after a lost reply this may answer `already_settled`: the work is done.
      return await accountStub(namespace, keyHash).settle(reservationId, amount)
    } catch (error) {
      lastError = error
      if ((error as { overloaded?: boolean }).overloaded) break
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt))
    }
  }
  console.error('pay-gate: settle failed, the hold will expire', reservationId, (lastError as Error)?.message)
  return { ok: false, reason: 'ledger_unavailable' }
}
