/**
 * @module credits/rotate-key
 * Rotating a key: a new random key whose own object points to the account, then
 * the account told that only the new key opens it. The account never moves, so
 * balance, open holds, limits, policy, plan and ledger stay exactly as they were,
 * and the old key stops working in the same transaction that admits the new one.
 */
import { generateApiKey, hashApiKey } from './api-key'
import { accountStub, type AccountNamespace } from './ledger'
import type { AccountView, AdminResult } from './types'

export type RotatedKey =
  { ok: true; key: string; view: AccountView } | Extract<AdminResult, { ok: false }>

/** @param account the account object's name (the hash of the key it was created with) */
export async function rotateKey(accounts: AccountNamespace, account: string): Promise<RotatedKey> {
  const key = generateApiKey()
  const hash = await hashApiKey(key)
  // A fresh object for 256 random bits: refusing here would mean a collision.
  if (!(await accountStub(accounts, hash).initAlias(account)))
    return { ok: false, reason: 'invalid_transition' }
  const result = await accountStub(accounts, account).rotate(hash)
  return result.ok ? { ok: true, key, view: result.view } : result
}
