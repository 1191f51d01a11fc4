/**
 * @module gate/handler
 * The gate for every path it does not serve itself: load the route table, find
 * the route, and hand the request to the free, priced-HTTP or MCP flow. No route,
 * no forwarding: the gate only ever reaches origins that routes.json names.
 */
import type { Context } from 'hono'
import { numberSetting, type AppEnv } from '../env'
import { GateError } from '../errors'
import { matchRoute, type PriceTable, type RouteMatch } from '../pricing'
import { serveHttpRoute, type RouteContext } from './http-route'
import { serveMcpRoute } from './mcp-route'
import type { RouteTables } from './route-table'
import { CreditLedger, presentedKey } from '../credits'
import { usageCall, usageWriter } from './usage'

/** How long a settlement may wait to ride with the key's next hold (see settlement-queue). */
const DEFAULT_SETTLE_BATCH_MS = 500

/**
 * The route a request goes to, or the gate's refusal: no route, no forwarding.
 * @throws GateError `invalid_path` (400), `not_found` (404) or `method_not_allowed` (405)
 */
export function findRoute(
  table: PriceTable,
  method: string,
  pathname: string
): Extract<RouteMatch, { kind: 'matched' }> {
  const match = matchRoute(table, method, pathname)
  switch (match.kind) {
    case 'invalid-path':
      throw new GateError('invalid_path', match.message)
    case 'no-route':
      throw new GateError('not_found', 'No route here.')
    case 'method-not-allowed':
      throw new GateError('method_not_allowed', `This route accepts ${match.allowed.join(', ')}.`, {
        headers: { allow: [...new Set(match.allowed)].join(', ') },
      })
  }
  return match
}

/**
 * Make the gate's request handler.
 * @param tables the gate's route table loader (one cache per gate)
 * @example app.all('*', gateHandler(routeTables()))
 */
export function gateHandler(tables: RouteTables) {
  const ledger = new CreditLedger()
  const usage = usageWriter()
  return async function gate(c: Context<AppEnv>): Promise<Response> {
    const table = await tables(c.env)
    const request = c.req.raw
    const url = new URL(request.url)
    const match = findRoute(table, request.method, url.pathname)
    const context: RouteContext = {
      env: c.env,
      request,
      url,
      route: match.route,
      forwardPath: match.forwardPath,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
      ledger: ledger.client(
        c.env.CREDITS,
        numberSetting(c.env.SETTLE_BATCH_MS, DEFAULT_SETTLE_BATCH_MS),
        (promise) => c.executionCtx.waitUntil(promise)
      ),
      usage: usageCall(c, usage, match.route, { method: request.method, path: url.pathname }),
      // src/oauth sets this when the request's bearer token is one of its access tokens.
      caller: c.get('oauthCaller') ?? presentedKey(request.headers),
      challenge: c.get('oauthChallenge'),
    }
    const pricing = match.route.pricing
    try {
      return await (pricing.kind === 'mcp'
        ? serveMcpRoute(context, pricing.book)
        : serveHttpRoute(context))
    } catch (error) {
      if (error instanceof GateError) context.usage.thrown(error)
      throw error
    }
  }
}
