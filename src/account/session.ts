/**
 * @module account/session
 * The key holder's portal session. The cookie is never the key: it is
 * `v1.<expires>.<credential>.<nonce>.<mac>`, the credential the SHA-256 of the key
 * that signed in (what the account object checks on every read, so a key rotated
 * or revoked elsewhere ends its sessions at once), the MAC an HMAC-SHA256 under a
 * key derived from ACCOUNT_SESSION_SECRET (else from ADMIN_TOKEN), so it cannot be
 * forged and expires on its own. HttpOnly, Secure, SameSite=Strict, Path=/account.
 *
 * CSRF: besides SameSite=Strict, every form carries a token derived from the
 * session (a cross-site page cannot read it), and a state-changing request whose
 * Origin is not the gate's own, or that a browser marks cross-site, is refused.
 */
import { secretsEqual } from '../secret-compare'

export const SESSION_COOKIE = 'pg_account_session'
/** How long a sign-in lasts. */
export const SESSION_SECONDS = 8 * 60 * 60
/** The form field carrying the CSRF token. */
export const CSRF_FIELD = 'csrf'

const encoder = new TextEncoder()

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')
}

/** The secret sessions are signed with, or null when the portal cannot sign any (neither setting is set). */
export function sessionSecret(env: {
  ACCOUNT_SESSION_SECRET?: unknown
  ADMIN_TOKEN?: unknown
}): string | null {
  const own = env.ACCOUNT_SESSION_SECRET
  if (typeof own === 'string' && own.length >= 16) return `account\0${own}`
  const admin = env.ADMIN_TOKEN
  // Derived, never the admin token itself: a holder's cookie can never be an admin session.
  return typeof admin === 'string' && admin.length >= 16 ? `account-from-admin\0${admin}` : null
}

async function mac(secret: string, text: string): Promise<string> {
  const base = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign']
  )
  const derived = await crypto.subtle.sign(
    'HMAC',
    base,
    encoder.encode('pay-gate account session v1')
  )
  const key = await crypto.subtle.importKey(
    'raw',
    derived,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign']
  )
  return base64url(await crypto.subtle.sign('HMAC', key, encoder.encode(text)))
}

/** A new session for the key whose hash is `credential`. */
export async function createSession(
  secret: string,
  credential: string,
  now = Date.now()
): Promise<string> {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)))
  return `v1.${expires}.${credential}.${nonce}.${await mac(secret, `session.${expires}.${credential}.${nonce}`)}`
}

export type SessionCheck =
  { kind: 'none' } | { kind: 'invalid' } | { kind: 'valid'; value: string; credential: string }

/** The request's session, checked: signed by us and not expired. */
export async function requestSession(
  secret: string,
  headers: Headers,
  now = Date.now()
): Promise<SessionCheck> {
  const value = cookieValue(headers.get('cookie') ?? undefined, SESSION_COOKIE)
  if (value === undefined || value === '') return { kind: 'none' }
  const match = /^v1\.(\d{1,12})\.([0-9a-f]{64})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(
    value
  )
  if (!match) return { kind: 'invalid' }
  const [, expires, credential, nonce, given] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ]
  if (Number(expires) * 1000 <= now) return { kind: 'invalid' }
  const valid = await secretsEqual(
    given,
    await mac(secret, `session.${expires}.${credential}.${nonce}`)
  )
  return valid ? { kind: 'valid', value, credential } : { kind: 'invalid' }
}

/** The CSRF token of a session, for its forms. */
export function csrfToken(secret: string, session: string): Promise<string> {
  return mac(secret, `csrf.${session}`)
}

/** Whether a state-changing request made with `session` may go ahead: our own origin, and the session's CSRF token. */
export async function csrfAllows(
  secret: string,
  session: string,
  request: Request,
  given: unknown
): Promise<boolean> {
  const origin = request.headers.get('origin')
  if (origin !== null && origin !== new URL(request.url).origin) return false
  if (request.headers.get('sec-fetch-site') === 'cross-site') return false
  return (
    typeof given === 'string' &&
    given !== '' &&
    (await secretsEqual(given, await csrfToken(secret, session)))
  )
}

/** Set-Cookie for a session (or, with null, one that clears it). */
export function sessionCookie(value: string | null): string {
  const age = value === null ? 0 : SESSION_SECONDS
  return `${SESSION_COOKIE}=${value ?? ''}; Max-Age=${age}; Path=/account; HttpOnly; Secure; SameSite=Strict`
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === name) return rest.join('=')
  }
  return undefined
}
