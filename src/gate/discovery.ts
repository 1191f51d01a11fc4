/**
 * @module gate/discovery
 * Public price lists: `GET /pricing` (every route, tool and method price, and how
 * each can be paid) and `GET /.well-known/x402` (the x402 resources, concrete
 * URLs only, with the exact requirements a client would be asked to meet and the
 * bazaar discovery extension its 402 carries).
 */
import type { Context } from 'hono'
import type { AppEnv } from '../env'
import { formatDollars } from '../money'
import { FREE_MCP_METHODS, type CompiledRoute, type X402Terms } from '../pricing'
import {
  buildRequirements,
  discoveryExtensions,
  MCP_TOOL_RESOURCE,
  type ResourceInfo,
} from '../x402'
import type { RouteTables } from './route-table'

function rails(route: CompiledRoute): string[] {
  return [...(route.rails.credits ? ['credits'] : []), ...(route.rails.x402 ? ['x402'] : [])]
}

function routeJson(route: CompiledRoute): Record<string, unknown> {
  const base = {
    path: route.path,
    method: route.method ?? null,
    description: route.description ?? null,
  }
  const pricing = route.pricing
  if (pricing.kind === 'free') return { ...base, free: true }
  const x402 = route.rails.x402
  const payment = {
    accepts: rails(route),
    ...(x402
      ? {
          x402: {
            network: x402.network,
            asset: x402.asset.address,
            payTo: x402.payTo,
            maxTimeoutSeconds: x402.maxTimeoutSeconds,
          },
        }
      : {}),
  }
  if (pricing.kind === 'fixed')
    return { ...base, price: formatDollars(pricing.micros), currency: 'USD', ...payment }
  const { book } = pricing
  return {
    ...base,
    currency: 'USD',
    mcp: {
      price: formatDollars(book.defaultMicros),
      freeMethods: [...FREE_MCP_METHODS].filter((method) => !book.methods.has(method)),
      methods: Object.fromEntries(
        [...book.methods].map(([name, micros]) => [name, formatDollars(micros)])
      ),
      tools: Object.fromEntries(
        [...book.tools].map(([name, tool]) => [name, formatDollars(tool.micros)])
      ),
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
        ...(buy
          ? {
              buyCredits: {
                path: '/credits/buy',
                min: formatDollars(buy.minMicros),
                max: formatDollars(buy.maxMicros),
              },
            }
          : {}),
      },
      200,
      { 'cache-control': 'public, max-age=30' }
    )
  }
}

/** A resource as /.well-known/x402 lists it, with the bazaar extension its 402 carries. */
function listed(
  terms: X402Terms,
  micros: number,
  resource: ResourceInfo,
  entry: Record<string, unknown>
): Record<string, unknown> {
  const extensions = discoveryExtensions(terms.discovery, resource)
  return {
    resource,
    ...entry,
    accepts: [buildRequirements(terms, micros)],
    ...(extensions ? { extensions } : {}),
  }
}

/**
 * The x402 resources, each a concrete URL a client can pay for as it stands: an
 * exact route's own path, a pattern route's `discovery.resources` (a pattern
 * without them is not listed), each priced MCP tool as the 402 names it.
 */
function x402Resources(route: CompiledRoute, origin: string): Array<Record<string, unknown>> {
  const terms = route.rails.x402
  if (!terms || route.pricing.kind === 'free') return []
  if (route.pricing.kind === 'fixed') {
    const { micros } = route.pricing
    const discovery = terms.discovery
    if (discovery?.kind !== 'http') return []
    return route.resources.map((path) => {
      // As the 402 names it (gate/http-x402 httpResource): origin and encoded path.
      const url = new URL(path, origin)
      const resource = {
        url: `${url.origin}${url.pathname}`,
        description: route.description ?? `${discovery.method} ${path}`,
      }
      return listed(terms, micros, resource, { type: 'http', method: discovery.method })
    })
  }
  return [...route.pricing.book.tools]
    .filter(([, tool]) => tool.micros > 0)
    .map(([name, tool]) =>
      listed(
        terms,
        tool.micros,
        { url: `${MCP_TOOL_RESOURCE}${name}`, description: `MCP tool ${name}` },
        { type: 'mcp', endpoint: `${origin}${route.path}` }
      )
    )
}

export function wellKnownX402Handler(tables: RouteTables) {
  return async function wellKnownX402(c: Context<AppEnv>): Promise<Response> {
    const table = await tables(c.env)
    const origin = new URL(c.req.url).origin
    const resources = table.routes.flatMap((route) => x402Resources(route, origin))
    return c.json({ x402Version: 2, resources }, 200, { 'cache-control': 'public, max-age=30' })
  }
}
