/**
 * @module sidecar/auth
 * Who may ask the sidecar: only the reverse proxy, which proves it with the
 * shared `SIDECAR_TOKEN` in `X-Pay-Sidecar-Token` (compared in constant time). Without that secret set, sidecar
 * mode does not exist (404, the same answer as any unknown path), so a gate
 * deployed on its own exposes nothing new.
 */
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { secretsEqual } from '../secret-compare'

/** The header the proxy sends the shared secret in. */
export const SIDECAR_TOKEN_HEADER = 'x-pay-sidecar-token'

/** A secret shorter than this is treated as unset: a guessable token must not open the sidecar. */
const MIN_TOKEN_LENGTH = 16

/** The configured sidecar secret, or null when sidecar mode is off. */
export function sidecarSecret(env: { SIDECAR_TOKEN?: string }): string | null {
  const token = env.SIDECAR_TOKEN
  return typeof token === 'string' && token.length >= MIN_TOKEN_LENGTH ? token : null
}

/** Refuse everything unless sidecar mode is on and the caller shows the token. */
export function sidecarAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const secret = sidecarSecret(c.env)
    if (secret === null) throw new GateError('not_found', 'No route here.')
    const presented = c.req.header(SIDECAR_TOKEN_HEADER)
    if (presented === undefined || !(await secretsEqual(presented, secret))) {
      throw new GateError(
        'unauthorized',
        'The payment check needs the sidecar token (X-Pay-Sidecar-Token).'
      )
    }
    await next()
  }
}
