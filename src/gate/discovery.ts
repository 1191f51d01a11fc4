/**
 * @module gate/discovery
 * Public price lists: `GET /pricing` (every route, tool and method price, and how
 * each can be paid) and `GET /.well-known/x402` (the x402 resources with the
 * exact requirements a client would be asked to meet).
 */
import type { Context } from 'hono'
import type { AppEnv } from '../env'
import { formatDollars } from '../money'
import { FREE_MCP_METHODS, type CompiledRoute } from '../pricing'
import { buildRequirements } from '../x402'
import type { RouteTables } from './route-table'

function rails(route: CompiledRoute): string[] {
  return [...(route.rails.credits ? ['credits'] : []), ...(route.rails.x402 ? ['x402'] : [])]
}

function routeJson(route: CompiledRoute): Record<string, unknown> {
  const base = { path: route.path, method: route.method ?? null, description: route.description ?? null }
  const pricing = route.pricing
  if (pricing.kind === 'free') return { ...base, free: true }
  const x402 = route.rails.x402
  const payment = {
    accepts: rails(route),
    ...(x402 ? { x402: { network: x402.network, asset: x402.asset.address, payTo: x402.payTo, maxTimeoutSeconds: x402.maxTimeoutSeconds } } : {}),
  }
  if (pricing.kind === 'fixed') return { ...base, price: formatDollars(pricing.micros), currency: 'USD', ...payment }
  const { book } = pricing
  return {
    ...base,
    currency: 'USD',
    mcp: {
      price: formatDollars(book.defaultMicros),
      freeMethods: [...FREE_MCP_METHODS].filter((method) => !book.methods.has(method)),
      methods: Object.fromEntries([...book.methods].map(([name, micros]) => [name, formatDollars(micros)])),
      tools: Object.fromEntries([...book.tools].map(([name, tool]) => [name, formatDollars(tool.micros)])),
    },
    ...payment,
  }
}

export function pricingHandler(tables: RouteTables) {
  return async function pricing(c: Context<AppEnv>): Promise<Response> {
    const table = await tables(c.env)
    const buy = table.buyCredits
    return c.json(
      {
        currency: 'USD',
        routes: table.routes.map(routeJson),
        ...(buy ? { buyCredits: { path: '/credits/buy', min: formatDollars(buy.minMicros), max: formatDollars(buy.maxMicros) } } : {}),
      },
      200,
      { 'cache-control': 'public, max-age=30' }
    )
  }
}

export function wellKnownX402Handler(tables: RouteTables) {
  return async function wellKnownX402(c: Context<AppEnv>): Promise<Response> {
    const table = await tables(c.env)
    const origin = new URL(c.req.url).origin
    const resources = table.routes.flatMap((route) => {
      const terms = route.rails.x402
      if (!terms || route.pricing.kind === 'free') return []
      if (route.pricing.kind === 'fixed') {
        return [{ resource: { url: `${origin}${route.path}`, description: route.description ?? `${route.method ?? 'ANY'} ${route.path}` }, type: 'http', accepts: [buildRequirements(terms, route.pricing.micros)] }]
      }
      const { book } = route.pricing
      return [...book.tools]
        .filter(([, tool]) => tool.micros > 0)
        .map(([name, tool]) => ({
          resource: { url: `mcp://tool/${name}`, description: `MCP tool ${name}` },
          type: 'mcp',
          endpoint: `${origin}${route.path}`,
          accepts: [buildRequirements(terms, tool.micros)],
        }))
    })
    return c.json({ x402Version: 2, resources }, 200, { 'cache-control': 'public, max-age=30' })
  }
}
