/**
 * @module admin/ui/session
 * The dashboard's login session. The cookie is never the admin token: it is
 * `v1.<expires>.<nonce>.<mac>`, the MAC an HMAC-SHA256 under a key derived from
 * ADMIN_TOKEN, so it expires on its own, cannot be forged without the token, and
 * every session ends when the token is rotated. Sessions are stateless: logging out
 * clears the cookie in the browser; rotating ADMIN_TOKEN is what ends them all.
 *
 * CSRF: the cookie is SameSite=Strict, and every state-changing call made with it
 * must also carry `X-Pay-Gate-CSRF`, a value derived from the session that only
 * the dashboard page (same origin) is given; a cross-site form cannot set a
 * custom header, and a cross-site fetch with one needs a CORS grant we never give.
 */
import { secretsEqual } from '../../secret-compare'

export const SESSION_COOKIE = 'pg_admin_session'
export const CSRF_HEADER = 'x-pay-gate-csrf'
/** How long a login lasts. */
export const SESSION_SECONDS = 8 * 60 * 60

const encoder = new TextEncoder()

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign']
  )
}

/** The session key: derived from the admin token, so the token itself never signs cookies directly. */
async function sessionKey(adminToken: string): Promise<CryptoKey> {
  const derived = await crypto.subtle.sign(
    'HMAC',
    await hmacKey(adminToken),
    encoder.encode('pay-gate admin session v1')
  )
  return crypto.subtle.importKey('raw', derived, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
}

async function mac(adminToken: string, text: string): Promise<string> {
  return base64url(
    await crypto.subtle.sign('HMAC', await sessionKey(adminToken), encoder.encode(text))
  )
}

/** A new session value, valid for SESSION_SECONDS from `now`. */
export async function createSession(adminToken: string, now = Date.now()): Promise<string> {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)))
  return `v1.${expires}.${nonce}.${await mac(adminToken, `session.${expires}.${nonce}`)}`
}

/** True when `value` is a session this admin token issued and it has not expired. */
export async function verifySession(
  adminToken: string,
  value: string,
  now = Date.now()
): Promise<boolean> {
  const match = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(value)
  if (!match) return false
  const [, expires, nonce, given] = match as unknown as [string, string, string, string]
  if (Number(expires) * 1000 <= now) return false
  return secretsEqual(given, await mac(adminToken, `session.${expires}.${nonce}`))
}

/** The CSRF token of a session: what the page sends back in X-Pay-Gate-CSRF. */
export async function csrfToken(adminToken: string, session: string): Promise<string> {
  return mac(adminToken, `csrf.${session}`)
}

/** True when `given` is the CSRF token of `session`. */
export async function verifyCsrf(
  adminToken: string,
  session: string,
  given: string
): Promise<boolean> {
  return secretsEqual(given, await csrfToken(adminToken, session))
}

/** The session cookie from a Cookie header, if any. */
export function sessionFromCookies(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=')
    if (name === SESSION_COOKIE) return rest.join('=')
  }
  return undefined
}

/** Set-Cookie for a session (or, with null, one that clears it). Scoped to /admin; never readable by scripts. */
export function sessionCookie(value: string | null): string {
  const age = value === null ? 0 : SESSION_SECONDS
  return `${SESSION_COOKIE}=${value ?? ''}; Max-Age=${age}; Path=/admin; HttpOnly; Secure; SameSite=Strict`
}

export type SessionCheck =
  { kind: 'none' } | { kind: 'valid'; session: string } | { kind: 'invalid' }

/** The request's session, checked. */
export async function requestSession(adminToken: string, headers: Headers): Promise<SessionCheck> {
  const value = sessionFromCookies(headers.get('cookie') ?? undefined)
  if (value === undefined || value === '') return { kind: 'none' }
  return (await verifySession(adminToken, value))
    ? { kind: 'valid', session: value }
    : { kind: 'invalid' }
}

/**
 * Whether a request made with a session may change state: safe methods always;
 * others need the session's CSRF token, and an Origin (when the browser sends
 * one) that is the gate's own.
 */
export async function csrfAllows(
  adminToken: string,
  session: string,
  request: Request
): Promise<boolean> {
  if (request.method === 'GET' || request.method === 'HEAD') return true
  const origin = request.headers.get('origin')
  if (origin !== null && origin !== new URL(request.url).origin) return false
  if (request.headers.get('sec-fetch-site') === 'cross-site') return false
  const given = request.headers.get(CSRF_HEADER)
  return given !== null && (await verifyCsrf(adminToken, session, given))
}
