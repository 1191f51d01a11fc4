/**
 * @module credits/issue-key
 * Issuing a key: a random key, its account object holding the initial credits,
 * and its entry in the index. The key is returned once and never stored.
 */
import { generateApiKey, generateKeyId, hashApiKey } from './api-key'
import { accountStub, indexStub, type AccountNamespace, type IndexNamespace } from './ledger'
import type { AccountInit, AccountView } from './types'

export type IssuedKey =
  | { ok: true; key: string; view: AccountView }
  | { ok: false; reason: 'invalid_amount' | 'invalid_transition' }

export async function issueKey(
  namespaces: { accounts: AccountNamespace; index: IndexNamespace },
  input: Omit<AccountInit, 'id'>
): Promise<IssuedKey> {
  const key = generateApiKey()
  const hash = await hashApiKey(key)
  const id = generateKeyId()
  const index = indexStub(namespaces.index)
  await index.add({ id, hash, name: input.name, createdAt: Date.now() })
  try {
    const result = await accountStub(namespaces.accounts, hash).init({ ...input, id })
    if (!result.ok) {
      await index.remove(id)
      return result.reason === 'invalid_amount'
        ? { ok: false, reason: 'invalid_amount' }
        : { ok: false, reason: 'invalid_transition' }
    }
    return { ok: true, key, view: result.view }
  } catch (error) {
    await index.remove(id) // no listed key without an account behind it
    throw error
  }
}
