/**
 * @module stripe/accounts
 * From the key id Stripe's metadata carries to the key's account object, through
 * the key index, the way the admin API finds a key.
 */
import { accountStub, indexStub, KEY_ID_PATTERN } from '../credits'
import type { Env } from '../env'

/** The account object of the key with this id, or null when there is no such key. Throws when the index cannot be reached. */
export async function accountOfKeyId(env: Env, keyId: string) {
  if (!KEY_ID_PATTERN.test(keyId)) return null
  const indexed = await indexStub(env.KEY_INDEX).get(keyId)
  return indexed ? accountStub(env.CREDITS, indexed.hash) : null
}
