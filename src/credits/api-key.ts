/**
 * @module credits/api-key
 * API keys: made from 32 random bytes, shown once, stored and addressed only by
 * their SHA-256. A key's account object is named by that hash, so the gate can find
 * a key's balance without ever storing the key.
 */
import { bearerToken } from '../bearer'

/** Every key starts with this, so it is recognisable in logs and secret scanners. */
export const API_KEY_PREFIX = 'pg_'
const API_KEY_SHAPE = /^pg_[A-Za-z0-9_-]{43}$/

function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** A new random API key: `pg_` and 43 base64url characters (256 bits). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)))
}

/** What a key id looks like (generateKeyId). */
export const KEY_ID_PATTERN = /^key_[a-z2-7]{20}$/

/** A new key id for the admin API: `key_` and 20 base32 characters. Not secret. */
export function generateKeyId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  const bytes = crypto.getRandomValues(new Uint8Array(20))
  return `key_${Array.from(bytes, (byte) => alphabet[byte % 32]).join('')}`
}

/** Whether a string has the shape of one of our keys (cheap check before any lookup). */
export function looksLikeApiKey(value: string): boolean {
  return API_KEY_SHAPE.test(value)
}

/** Recently seen keys' hashes, per isolate: a busy key is hashed once, not per call. */
const recentHashes = new Map<string, string>()
const RECENT_HASHES = 1024

/** Lowercase hex SHA-256 of a key: the name of its account object. */
export async function hashApiKey(key: string): Promise<string> {
  const known = recentHashes.get(key)
  if (known !== undefined) return known
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key))
  const hash = Array.from(new Uint8Array(digest), (byte) =>
    byte.toString(16).padStart(2, '0')
  ).join('')
  if (recentHashes.size >= RECENT_HASHES) recentHashes.clear()
  recentHashes.set(key, hash)
  return hash
}

/** Where a caller's key was found; it is removed from that header before forwarding. */
export type PresentedKey =
  { kind: 'none' } | { kind: 'key'; key: string; header: 'authorization' | 'x-api-key' }

/** Who pays for a call: what the headers present, or a token src/oauth has validated. */
export type Caller = PresentedKey | OAuthCaller

/**
 * An OAuth access token the gate has validated (src/oauth), standing for the key
 * whose account it is bound to: it pays as that key does, and only while its grant
 * is bound to the account and unrevoked (`grant`). Never built from a header alone.
 */
export interface OAuthCaller {
  kind: 'token'
  /** SHA-256 of the key that signed in at consent: after a rotation it opens nothing. */
  keyHash: string
  grant: string
  /** The `WWW-Authenticate` value a refused token is answered with (RFC 6750 §3). */
  challenge: string
}

/**
 * Whether a header carries one of our keys. Such headers never reach an origin,
 * on free routes as much as on paid ones: a key is a bearer credential.
 */
export function carriesGateKey(name: string, value: string): boolean {
  if (name !== 'x-api-key' && name !== 'authorization') return false
  // However the header came: repeated ("a, Bearer pg_…"), a bearer in X-API-Key, a bare key.
  return value.trim().startsWith(API_KEY_PREFIX) || KEY_ANYWHERE.test(value)
}

const KEY_ANYWHERE = /(^|[\s,])(bearer\s+)?pg_[A-Za-z0-9_-]{43}/i

/**
 * Read a caller's key from `X-API-Key: <key>` or `Authorization: Bearer <key>`.
 * A bearer token that is not one of our keys (an OAuth token for the origin, say)
 * is left alone and does not count as a key.
 */
export function presentedKey(headers: Headers): PresentedKey {
  const direct = headers.get('x-api-key')?.trim()
  const bearer = bearerToken(headers)
  // One of our keys wins wherever it is; a foreign X-API-Key alone is still an attempt to pay.
  if (direct?.startsWith(API_KEY_PREFIX)) return { kind: 'key', key: direct, header: 'x-api-key' }
  if (bearer?.startsWith(API_KEY_PREFIX))
    return { kind: 'key', key: bearer, header: 'authorization' }
  if (direct) return { kind: 'key', key: direct, header: 'x-api-key' }
  return { kind: 'none' }
}
