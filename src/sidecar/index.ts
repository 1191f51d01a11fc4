/**
 * @module sidecar
 * Sidecar mode: the gate next to a reverse proxy the operator already runs
 * (nginx, Caddy, Traefik, Envoy). The proxy asks `/__pay/check` before it
 * forwards a call, passes on what the check answers, and reports the outcome to
 * `/__pay/settle`. Off unless `SIDECAR_TOKEN` is set; every request must carry it.
 * Example configurations and their pitfalls: templates/sidecar/README.md.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { usageWriter, type RouteTables } from '../gate'
import { sidecarAuth } from './auth'
import { checkHandler } from './check'
import { settleHandler } from './settle'

export { SIDECAR_TOKEN_HEADER } from './auth'
export { CLIENT_STATUS_HEADER } from './answers'
export { RESERVATION_HEADER } from './payments'
export { SETTLE_HEADER } from './check'

/**
 * The sidecar endpoints, to mount at `/__pay` (a path no route may use).
 * @example app.route('/__pay', sidecarRoutes(tables))
 */
export function sidecarRoutes(tables: RouteTables): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use('*', sidecarAuth())
  const check = checkHandler(tables)
  // Envoy's ext_authz appends the original path to the check's: /__pay/check/api/users.
  app.all('/check', check)
  app.all('/check/*', check)
  app.post('/settle', settleHandler(usageWriter()))
  app.all('*', () => {
    throw new GateError('not_found', 'No route here.')
  })
  return app
}
