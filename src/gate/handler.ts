/**
 * @module gate/handler
 * The gate for every path it does not serve itself: load the route table, find
 * the route, and hand the request to the free, priced-HTTP or MCP flow. No route,
 * no forwarding: the gate only ever reaches origins that routes.json names.
 */
import type { Context } from 'hono'
import type { AppEnv } from '../env'
import { numberSetting } from '../env'
import { GateError } from '../errors'
import { matchRoute, RouteTableCache } from '../pricing'
import { serveHttpRoute, type RouteContext } from './http-route'
import { serveMcpRoute } from './mcp-route'

/** Default seconds a route table is used before KV is read again. */
const DEFAULT_ROUTES_TTL_SECONDS = 30

/**
 * Make the gate's request handler. Holds the per-isolate route table cache.
 * @example app.all('*', gateHandler())
 */
export function gateHandler() {
  let routes: RouteTableCache | undefined
  return async function gate(c: Context<AppEnv>): Promise<Response> {
    routes ??= new RouteTableCache({
      ttlMs: numberSetting(c.env.ROUTES_CACHE_TTL_SECONDS, DEFAULT_ROUTES_TTL_SECONDS) * 1000,
    })
    const load = await routes.get(c.env.ROUTES)
    if (!load.ok) {
      console.error(`pay-gate: no route table (${load.reason}): ${load.message}`)
      throw new GateError('routes_unavailable', 'The gate has no route table yet; nothing is served until it has.', {
        headers: { 'retry-after': '5' },
      })
    }
    const request = c.req.raw
    const match = matchRoute(load.table, request.method, new URL(request.url).pathname)
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
    const context: RouteContext = {
      env: c.env,
      request,
      route: match.route,
      forwardPath: match.forwardPath,
      waitUntil: (promise) => c.executionCtx.waitUntil(promise),
    }
    const pricing = match.route.pricing
    return pricing.kind === 'mcp' ? serveMcpRoute(context, pricing.book) : serveHttpRoute(context)
  }
}
