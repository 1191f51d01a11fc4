/**
 * @module pricing/schema
 * The operator's `routes.json`, validated with zod. This is also the format of the
 * value stored in KV: the worker re-validates what it reads, so a hand-edited KV
 * value can never make a priced route free. Errors name the exact place in the file.
 */
import * as z from 'zod'
import { PlansSchema } from './plans'
import { discoveryIssues, DiscoverySchema } from './discovery'
import { parseDollars } from '../money'
import { DollarString } from './dollars'
import { McpPricing, RateLimitSchema } from './mcp-schema'
import { StripeBlockSchema } from './stripe-config'
import { fitsAsset, resolveTerms, X402BlockSchema, X402OverrideSchema } from './x402-config'

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/

/** The operator's own credential for the origin, read from a Worker secret. */
const UpstreamAuth = z.strictObject({
  /** Name of the Worker secret (env var) holding the credential. */
  secret: z
    .string()
    .regex(ENV_NAME, { error: 'expected the name of a Worker secret, e.g. "UPSTREAM_TOKEN"' }),
  /** Send it in this request header… */
  header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/)
    .optional(),
  /** …with this prefix (for example `"Bearer "`)… */
  prefix: z.string().max(64).optional(),
  /** …or in this query parameter. */
  query: z.string().min(1).max(128).optional(),
})

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/** Paths the gate answers itself; no route may claim them. */
export const RESERVED_PATHS = [
  '/admin',
  '/balance',
  '/__pay',
  '/pricing',
  '/credits',
  '/.well-known/x402',
  '/stripe',
  '/metrics',
  '/oauth',
]

const RoutePath = z
  .string()
  .startsWith('/', { error: 'a route path starts with "/"' })
  .max(1024)
  .superRefine((path, ctx) => {
    const segments = path.split('/').slice(1)
    segments.forEach((segment, index) => {
      const last = index === segments.length - 1
      if (segment === '*' && last) return
      if (segment === '' && last && segments.length === 1) return // "/"
      if (segment === '' || segment === '.' || segment === '..') {
        ctx.addIssue({ code: 'custom', message: `empty or dot segment in "${path}"` })
      } else if (segment.includes('*')) {
        ctx.addIssue({
          code: 'custom',
          message: '"*" is allowed only as the whole last segment, as in "/api/*"',
        })
      } else if (/[?#%\\\s]/.test(segment)) {
        ctx.addIssue({
          code: 'custom',
          message: `write the path decoded, without "?", "#", "%", "\\" or spaces`,
        })
      }
    })
    const lower = path.toLowerCase()
    for (const reserved of RESERVED_PATHS) {
      // A wildcard such as "/*" may cover these: the gate answers them before any route.
      if (lower === reserved || lower.startsWith(`${reserved}/`)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${path}" overlaps "${reserved}", which the gate serves itself`,
        })
      }
    }
  })

const Origin = z.string().superRefine((text, ctx) => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'expected an absolute http(s) URL, e.g. "http://127.0.0.1:3001"',
    })
    return
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'the origin must be an http:// or https:// URL' })
  }
  if (url.search || url.hash || url.username || url.password) {
    ctx.addIssue({
      code: 'custom',
      message: 'the origin is a base URL: no query, fragment or credentials',
    })
  }
})

export const RouteSchema = z
  .strictObject({
    path: RoutePath,
    method: z
      .string()
      .transform((method) => method.toUpperCase())
      .pipe(z.enum(HTTP_METHODS, { error: `expected one of ${HTTP_METHODS.join(', ')}` }))
      .optional(),
    origin: Origin,
    price: DollarString.optional(),
    free: z.boolean().optional(),
    mcp: McpPricing.optional(),
    description: z.string().max(500).optional(),
    /** Per-key rate limit for this route. */
    rateLimit: RateLimitSchema.optional(),
    /** Time allowed for the origin's response headers. */
    timeoutMs: z.int().min(100).max(600_000).optional(),
    /** Largest request body the gate reads on an MCP route. */
    maxBodyBytes: z
      .int()
      .min(1024)
      .max(100 * 1024 * 1024)
      .optional(),
    upstreamAuth: UpstreamAuth.optional(),
    /** The ways this route can be paid; default: credits, and x402 when configured. */
    accept: z
      .array(z.enum(['credits', 'x402']))
      .min(1)
      .refine((rails) => new Set(rails).size === rails.length, {
        error: 'a payment method is listed twice',
      })
      .optional(),
    /** Overrides of the table-wide x402 block for this route. */
    x402: X402OverrideSchema.optional(),
    /** What the route tells catalogues (x402 bazaar, /.well-known/x402); see pricing/discovery. */
    discovery: DiscoverySchema.optional(),
  })
  .superRefine((route, ctx) => {
    const kinds = [route.price !== undefined, route.free === true, route.mcp !== undefined].filter(
      Boolean
    )
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'a route has exactly one of "price", "free": true, or "mcp"',
      })
    }
    if (route.free === false && route.price === undefined && route.mcp === undefined) {
      ctx.addIssue({ code: 'custom', path: ['free'], message: '"free": false needs a "price"' })
    }
    // An OAuth resource is one URL (RFC 8707 §2): the route's path, exactly.
    if (route.mcp?.oauth && route.path.endsWith('*')) {
      ctx.addIssue({
        code: 'custom',
        path: ['mcp', 'oauth'],
        message: 'OAuth needs an exact path, such as "/mcp", not a pattern',
      })
    }
    // A token pays from a credit account: a route that takes no credits could never be paid with one.
    if (route.mcp?.oauth && route.accept && !route.accept.includes('credits')) {
      ctx.addIssue({
        code: 'custom',
        path: ['mcp', 'oauth'],
        message: 'OAuth tokens pay with credits: "accept" must include "credits"',
      })
    }
    const auth = route.upstreamAuth
    if (auth && (auth.header === undefined) === (auth.query === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreamAuth'],
        message: 'give exactly one of "header" or "query"',
      })
    }
  })

/** Every price a route can charge, for the precision check against an x402 asset. */
function routePrices(
  route: z.infer<typeof RouteSchema>
): Array<{ path: PropertyKey[]; micros: number }> {
  const prices: Array<{ path: PropertyKey[]; price: string }> = []
  if (route.price !== undefined) prices.push({ path: ['price'], price: route.price })
  if (route.mcp) {
    prices.push({ path: ['mcp', 'price'], price: route.mcp.price })
    for (const [name, price] of Object.entries(route.mcp.methods ?? {}))
      prices.push({ path: ['mcp', 'methods', name], price })
    for (const [name, tool] of Object.entries(route.mcp.tools ?? {}))
      prices.push({ path: ['mcp', 'tools', name, 'price'], price: tool.price })
  }
  return prices.flatMap(({ path, price }) => {
    const parsed = price === 'free' ? { ok: true as const, micros: 0 } : parseDollars(price)
    return parsed.ok && parsed.micros > 0 ? [{ path, micros: parsed.micros }] : []
  })
}

export const RoutesFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1, { error: 'expected "version": 1' }),
    /** x402 for every route that does not say otherwise. */
    x402: X402BlockSchema.optional(),
    routes: z.array(RouteSchema).min(1, { error: 'at least one route is needed' }).max(1000),
    /** Plans the admin API can assign to keys (see pricing/plans). */
    plans: PlansSchema.optional(),
    /** Card top-ups through Stripe Checkout (see pricing/stripe-config). */
    stripe: StripeBlockSchema.optional(),
  })
  .superRefine((file, ctx) => {
    const buy = file.x402?.buyCredits
    if (buy && file.x402) {
      const [min, max] = [parseDollars(buy.min), parseDollars(buy.max)]
      const terms = resolveTerms(file.x402, undefined)
      if (min.ok && max.ok && min.micros > max.micros) {
        ctx.addIssue({
          code: 'custom',
          path: ['x402', 'buyCredits'],
          message: '"min" is more than "max"',
        })
      }
      if (terms.ok && min.ok && !fitsAsset(min.micros, terms.terms)) {
        ctx.addIssue({
          code: 'custom',
          path: ['x402', 'buyCredits', 'min'],
          message: 'needs more decimals than the x402 asset has',
        })
      }
    }
    file.routes.forEach((route, index) => {
      const wantsX402 = route.accept
        ? route.accept.includes('x402')
        : file.x402 !== undefined || route.x402 !== undefined
      if (!wantsX402 || route.free === true) return
      const resolved = resolveTerms(file.x402, route.x402)
      if (!resolved.ok) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, ...resolved.path],
          message: resolved.message,
        })
        return
      }
      for (const { path, micros } of routePrices(route)) {
        if (!fitsAsset(micros, resolved.terms)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', index, ...path],
            message: `this price needs more than the ${resolved.terms.asset.decimals} decimals of the x402 asset`,
          })
        }
      }
    })
    for (const issue of discoveryIssues(file.routes, RESERVED_PATHS))
      ctx.addIssue({ code: 'custom', ...issue })
  })

export type RouteConfig = z.infer<typeof RouteSchema>
export type RoutesFile = z.infer<typeof RoutesFileSchema>
export type RateLimit = z.infer<typeof RateLimitSchema>
export { RateLimitSchema }
