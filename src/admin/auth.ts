/**
 * @module admin/auth
 * The admin API's bearer check. The token is a Worker secret; it is compared in
 * constant time (both sides hashed first, so their lengths leak nothing either).
 * With no ADMIN_TOKEN set, the admin API refuses every request. A client that
 * keeps sending wrong tokens is slowed down: after FREE_FAILURES in a window,
 * its wrong attempts get 429 until the window ends (the right token still works).
 * The count is per isolate, which is enough against guessing a 32-character
 * secret; it is defence in depth, not the lock itself.
 *
 * A client is told apart by an address only a party the gate trusts can set
 * (the CLIENT_IP_HEADER setting): on Cloudflare, CF-Connecting-IP, which the edge
 * sets and replaces whatever a client sent. Elsewhere (`pay-gate serve`, which
 * sets CLIENT_IP_HEADER=none) a client sets that header itself, so it is not
 * believed: every caller shares one allowance, unless the operator names the
 * header its own reverse proxy sets.
 */
import { createMiddleware } from 'hono/factory'
import { bearerToken } from '../bearer'
import { secretsEqual } from '../secret-compare'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { csrfAllows, requestSession } from './ui/session'

/** Wrong tokens a client may send per window before being slowed down. */
const FREE_FAILURES = 5
const FAILURE_WINDOW_MS = 60_000
/** Clients tracked at most; beyond it the oldest entries go. */
const TRACKED_CLIENTS = 10_000

const failures = new Map<string, { count: number; windowEnds: number }>()

/** The header Cloudflare's edge sets to the connecting client's address. */
const CLOUDFLARE_CLIENT_HEADER = 'cf-connecting-ip'
/** The one allowance of callers the gate cannot tell apart. */
const EVERYONE = 'everyone'
/** An address is at most 45 characters (IPv6 with IPv4 inside); more is not one, and is not kept. */
const MAX_ADDRESS_CHARS = 64
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Who is asking, for the throttle: the address in the trusted header.
 * @param setting CLIENT_IP_HEADER: unset is Cloudflare's CF-Connecting-IP; "none"
 *   trusts no header (one shared allowance); else the header the operator's proxy
 *   sets, of which the last entry counts (the one the nearest proxy appended to an
 *   X-Forwarded-For). A setting that is no header name trusts none.
 */
export function clientOf(headers: Headers, setting: unknown): string {
  const named = typeof setting === 'string' ? setting.trim() : ''
  const header = named === '' ? CLOUDFLARE_CLIENT_HEADER : named
  if (header.toLowerCase() === 'none' || !HEADER_NAME.test(header)) return EVERYONE
  const address = headers.get(header)?.split(',').at(-1)?.trim()
  return address ? `ip:${address.slice(0, MAX_ADDRESS_CHARS)}` : EVERYONE
}

/** Count a wrong token; returns the seconds to wait when the client is over its allowance. */
export function recordFailure(client: string, now: number): number | undefined {
  let entry = failures.get(client)
  if (!entry || entry.windowEnds <= now) {
    if (failures.size >= TRACKED_CLIENTS) failures.delete(failures.keys().next().value as string)
    entry = { count: 0, windowEnds: now + FAILURE_WINDOW_MS }
    failures.set(client, entry)
  }
  entry.count++
  return entry.count > FREE_FAILURES ? Math.ceil((entry.windowEnds - now) / 1000) : undefined
}

/**
 * Require `Authorization: Bearer $ADMIN_TOKEN`, or the dashboard's session cookie
 * (admin/ui/session) with its CSRF header on state-changing calls.
 * @example app.use('*', adminAuth())
 */
export function adminAuth() {
  return createMiddleware<AppEnv>(async function adminAuth(c, next) {
    const expected = c.env.ADMIN_TOKEN
    const given = bearerToken(c.req.raw.headers)
    const challenge = { 'www-authenticate': 'Bearer realm="pay-gate admin"' }
    if (typeof expected !== 'string' || expected.length < 16) {
      throw new GateError(
        'unauthorized',
        'The admin API is disabled: set the ADMIN_TOKEN secret (16 characters or more).',
        { headers: challenge }
      )
    }
    if (!given) {
      const session = await requestSession(expected, c.req.raw.headers)
      if (session.kind === 'valid') {
        if (!(await csrfAllows(expected, session.session, c.req.raw))) {
          throw new GateError(
            'unauthorized',
            'A dashboard call that changes state needs the X-Pay-Gate-CSRF header of its session.'
          )
        }
        return next()
      }
    }
    if (!given || !(await secretsEqual(given, expected))) {
      const wait = recordFailure(clientOf(c.req.raw.headers, c.env.CLIENT_IP_HEADER), Date.now())
      if (wait !== undefined) {
        throw new GateError('rate_limited', 'Too many wrong admin tokens; slow down.', {
          headers: { 'retry-after': String(wait) },
        })
      }
      throw new GateError('unauthorized', 'A valid admin token is required.', {
        headers: challenge,
      })
    }
    await next()
  })
}
