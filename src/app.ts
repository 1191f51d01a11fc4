/**
 * @module app
 * `createGate()`: the whole gate as a Hono app. The gate's own endpoints come
 * first (/admin, /balance, /pricing, /.well-known/x402, /credits/buy, /stripe, the
 * key holder's portal /account, the sidecar's /__pay when SIDECAR_TOKEN is set, and
 * OAuth's /oauth and metadata when a route has `mcp.oauth`); every other path goes
 * through the route table, behind OAuth's guard.
 */
import { Hono } from 'hono'
import { accountRoutes, type OAuthGrants } from './account'
import { adminRoutes, mountMetrics } from './admin'
import type { AppEnv } from './env'
import { errorResponse, GateError } from './errors'
import { accountGrants, oauthEndpoints, oauthGuard } from './oauth'
import { sidecarRoutes } from './sidecar'
import {
  balanceHandler,
  buyCreditsHandler,
  gateHandler,
  pricingHandler,
  routeTables,
  wellKnownX402Handler,
} from './gate'
import { stripeRoutes, topUpCheckout, type StripeOptions } from './stripe'
import { consumeUsageBatch } from './usage'

/** What a gate can be built with. */
export interface GateOptions {
  /** Stripe top-ups: how the gate reaches Stripe's API (tests stand in for it). */
  stripe?: StripeOptions
  /** The OAuth provider's grants, listed and revoked in the key holder's portal (/account). */
  oauthGrants?: OAuthGrants
}

/**
 * The gate: a Hono app (its `fetch` serves requests) that also consumes the
 * usage events' queue, so `export default createGate()` is the whole Worker.
 */
export type Gate = Hono<AppEnv> & {
  /** The USAGE_QUEUE consumer (usage/queue): writes queued usage events to USAGE_DB. */
  queue: (batch: MessageBatch<unknown>, env: AppEnv['Bindings']) => Promise<void>
}

/**
 * Build a gate. Each call has its own per-isolate route-table cache, so call it
 * once, at module scope.
 * @example
 * import { createGate, CreditAccount, KeyIndex } from 'pay-gate'
 * export default createGate()
 * export { CreditAccount, KeyIndex }
 */
export function createGate(options: GateOptions = {}): Gate {
  const app = new Hono<AppEnv>()
  const tables = routeTables()
  app.route(
    '/admin',
    adminRoutes(async (env) => (await tables(env)).plans)
  )
  app.get('/balance', balanceHandler)
  app.get('/pricing', pricingHandler(tables))
  app.get('/.well-known/x402', wellKnownX402Handler(tables))
  app.post('/credits/buy', buyCreditsHandler(tables))
  const stripeSettings = async (env: AppEnv['Bindings']) => (await tables(env)).stripe
  app.route('/stripe', stripeRoutes(stripeSettings, options.stripe))
  app.route(
    '/account',
    accountRoutes({
      stripeSettings,
      topUps: topUpCheckout(stripeSettings, options.stripe?.fetch),
      grants: options.oauthGrants ?? accountGrants(tables),
    })
  )
  app.route('/__pay', sidecarRoutes(tables))
  mountMetrics(app)
  app.route('/', oauthEndpoints(tables))
  app.all('*', oauthGuard(tables), gateHandler(tables))
  app.onError((error) => {
    if (error instanceof GateError) return errorResponse(error)
    // A bug, not a refusal: log what it was (never the stack, which can carry
    // request data), show the caller nothing of it. Nothing was charged, as every
    // charge settles only after a response was delivered.
    console.error(`pay-gate: unexpected error: ${error.name}: ${error.message}`)
    return errorResponse(new GateError('internal_error', 'Internal error.'))
  })
  return Object.assign(app, {
    queue: (batch: MessageBatch<unknown>, env: AppEnv['Bindings']) =>
      consumeUsageBatch(batch, env.USAGE_DB),
  })
}
