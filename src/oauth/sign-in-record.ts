/**
 * @module oauth/sign-in-record
 * Between "sign in with a key" and "allow", the consent page shows what the key's
 * account may use; the key itself is never put in that page. What the sign-in
 * established waits in OAUTH_KV under a random id for ten minutes, tied to the
 * provider's consent handle (which is bound to this browser and works once).
 */
import type { SignedIn } from './grants'

const PREFIX = 'pay-gate/consent-sign-in/'
const TTL_SECONDS = 600

interface SignInRecord {
  handle: string
  who: SignedIn
}

/** Keep a sign-in for the confirmation; returns its id (random, not secret beyond this page). */
export async function keepSignIn(kv: KVNamespace, handle: string, who: SignedIn): Promise<string> {
  const id = crypto.randomUUID()
  await kv.put(PREFIX + id, JSON.stringify({ handle, who } satisfies SignInRecord), {
    expirationTtl: TTL_SECONDS,
  })
  return id
}

/** The sign-in kept for this consent handle, once; null when unknown, expired or for another page. */
export async function takeSignIn(
  kv: KVNamespace,
  id: string,
  handle: string
): Promise<SignedIn | null> {
  if (!/^[0-9a-f-]{36}$/.test(id)) return null
  const record = await kv.get<SignInRecord>(PREFIX + id, 'json')
  if (!record || record.handle !== handle) return null
  await kv.delete(PREFIX + id)
  return record.who
}
