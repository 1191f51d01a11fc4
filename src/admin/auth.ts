/**
 * @module admin/auth
 * The admin API's bearer check. The token is a Worker secret; it is compared in
 * constant time (both sides hashed first, so their lengths leak nothing either).
 * With no ADMIN_TOKEN set, the admin API refuses every request.
 */
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env'
import { GateError } from '../errors'

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
}

/** Constant-time equality of two secrets. */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)])
  return crypto.subtle.timingSafeEqual(a, b)
}

/**
 * Require `Authorization: Bearer $ADMIN_TOKEN`.
 * @example app.use('*', adminAuth())
 */
export function adminAuth() {
  return createMiddleware<AppEnv>(async function adminAuth(c, next) {
    const expected = c.env.ADMIN_TOKEN
    const given = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1]
    const challenge = { 'www-authenticate': 'Bearer realm="pay-gate admin"' }
    if (typeof expected !== 'string' || expected.length < 16) {
      throw new GateError('unauthorized', 'The admin API is disabled: set the ADMIN_TOKEN secret (16 characters or more).', { headers: challenge })
    }
    if (!given || !(await secretsEqual(given, expected))) {
      throw new GateError('unauthorized', 'A valid admin token is required.', { headers: challenge })
    }
    await next()
  })
}
