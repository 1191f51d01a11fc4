/**
 * @module pricing/table
 * The compiled price table: routes.json turned into matchers and integer prices,
 * and the one function that says which route a request belongs to. Pure.
 */
import { compileDiscovery, listedPaths } from './discovery'
import { compileOAuth, type OAuthSettings } from './oauth-config'
import { compilePlan, type CompiledPlan } from './plans'
import { parseDollars } from '../money'
import { compilePattern, matchPattern, normalizePath, type PathPattern } from './path'
import type { RateLimit, RouteConfig, RoutesFile } from './schema'
import { compileStripe, type StripeSettings } from './stripe-config'
import { resolveTerms, type X402Terms } from './x402-config'

/** Origin response headers must arrive within this time unless a route says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000
/** Largest MCP request body the gate reads unless a route says otherwise. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

export interface ToolPrice {
  micros: number
  rateLimit?: RateLimit
}

/** How an MCP route prices its JSON-RPC methods and tools. */
export interface McpPriceBook {
  defaultMicros: number
  methods: ReadonlyMap<string, number>
  tools: ReadonlyMap<string, ToolPrice>
  /** How long a held call's answer may still come on a resumed stream. */
  resumeMs: number
  /** The cap on how long a task-augmented call stays held. */
  taskMs: number
  /** Browser origins allowed besides the gate's own, lowercased. */
  allowedOrigins: ReadonlySet<string>
}

/** Nine minutes: with the hold's margin, a held call lives as long as before resumption existed. */
export const DEFAULT_RESUME_SECONDS = 540
export const DEFAULT_TASK_SECONDS = 3600

export type RoutePricing =
  { kind: 'free' } | { kind: 'fixed'; micros: number } | { kind: 'mcp'; book: McpPriceBook }

export interface UpstreamCredential {
  secret: string
  header?: string
  prefix?: string
  query?: string
}

/** The ways a priced route can be paid. */
export interface PaymentRails {
  credits: boolean
  /** Present when the route takes x402, with its resolved terms. */
  x402?: X402Terms
}

export interface CompiledRoute {
  /** Position in routes.json; the first matching route wins. */
  index: number
  /** The path as the operator wrote it, for messages and listings. */
  path: string
  method?: string
  /** Base URL of the origin, without a trailing slash. */
  origin: string
  pattern: PathPattern
  pricing: RoutePricing
  rails: PaymentRails
  rateLimit?: RateLimit
  timeoutMs: number
  maxBodyBytes: number
  upstreamAuth?: UpstreamCredential
  description?: string
  /** The concrete paths /.well-known/x402 lists a priced HTTP route under (pricing/discovery). */
  resources: string[]
  /** OAuth 2.1 for MCP clients on this route (src/oauth), when its `mcp.oauth` is set. */
  oauth?: OAuthSettings
}

export interface PriceTable {
  routes: CompiledRoute[]
  /** The table-wide x402 terms, when routes.json has an `x402` block. */
  x402?: X402Terms
  /**
   * Bounds of a credit purchase with x402 (micros), when enabled. Never in dev mode: its payments
   * are never settled, and credits are sold only for money that arrived on chain.
   */
  buyCredits?: { minMicros: number; maxMicros: number }
  /** Plans keys can be put on, by name. */
  plans: Map<string, CompiledPlan>
  /** Card top-ups through Stripe Checkout, when routes.json has a `stripe` block. */
  stripe?: StripeSettings
}

function micros(price: string): number {
  if (price === 'free') return 0
  const parsed = parseDollars(price)
  // The schema has already checked every price; this guards against skipping it.
  if (!parsed.ok) throw new TypeError(`unvalidated price: ${price}`)
  return parsed.micros
}

function compilePricing(route: RouteConfig): RoutePricing {
  if (route.mcp) {
    const tools = new Map<string, ToolPrice>()
    for (const [name, entry] of Object.entries(route.mcp.tools ?? {})) {
      tools.set(name, { micros: micros(entry.price), rateLimit: entry.rateLimit })
    }
    const methods = new Map(
      Object.entries(route.mcp.methods ?? {}).map(([name, price]) => [name, micros(price)] as const)
    )
    return {
      kind: 'mcp',
      book: {
        defaultMicros: micros(route.mcp.price),
        methods,
        tools,
        resumeMs: (route.mcp.resumeSeconds ?? DEFAULT_RESUME_SECONDS) * 1000,
        taskMs: (route.mcp.taskSeconds ?? DEFAULT_TASK_SECONDS) * 1000,
        allowedOrigins: new Set(
          (route.mcp.allowedOrigins ?? []).map((origin) => origin.toLowerCase())
        ),
      },
    }
  }
  if (route.free === true || route.price === undefined) return { kind: 'free' }
  const amount = micros(route.price)
  return amount === 0 ? { kind: 'free' } : { kind: 'fixed', micros: amount }
}

/** Compile a validated routes file. */
function compileRails(file: RoutesFile, route: RouteConfig): PaymentRails {
  const wantsX402 = route.accept
    ? route.accept.includes('x402')
    : file.x402 !== undefined || route.x402 !== undefined
  const resolved = wantsX402 ? resolveTerms(file.x402, route.x402) : undefined
  // The schema has checked that a route asking for x402 resolves; this guards against skipping it.
  if (resolved && !resolved.ok) throw new TypeError(`unvalidated x402 terms on ${route.path}`)
  const discovery = resolved ? compileDiscovery(route) : undefined
  return {
    credits: route.accept ? route.accept.includes('credits') : true,
    x402: resolved && { ...resolved.terms, ...(discovery ? { discovery } : {}) },
  }
}

export function compileTable(file: RoutesFile): PriceTable {
  const routes = file.routes.map((route, index): CompiledRoute => ({
    index,
    path: route.path,
    method: route.method,
    origin: route.origin.replace(/\/+$/, ''),
    pattern: compilePattern(route.path),
    pricing: compilePricing(route),
    rails: compileRails(file, route),
    rateLimit: route.rateLimit,
    timeoutMs: route.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxBodyBytes: route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    upstreamAuth: route.upstreamAuth,
    description: route.description,
    resources: listedPaths(route),
    ...(route.mcp?.oauth ? { oauth: compileOAuth(route.mcp.oauth) } : {}),
  }))
  const table = file.x402 ? resolveTerms(file.x402, undefined) : undefined
  const buy = file.x402?.buyCredits
  return {
    routes,
    x402: table?.ok ? table.terms : undefined,
    buyCredits:
      buy && table?.ok && table.terms.mode !== 'dev'
        ? { minMicros: micros(buy.min), maxMicros: micros(buy.max) }
        : undefined,
    plans: new Map(
      Object.entries(file.plans ?? {}).map(([name, plan]) => [name, compilePlan(plan)])
    ),
    stripe: file.stripe ? compileStripe(file.stripe) : undefined,
  }
}

export type RouteMatch =
  | { kind: 'matched'; route: CompiledRoute; forwardPath: string }
  | { kind: 'no-route' }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'invalid-path'; message: string }

/**
 * Find the route for a request: the first route in file order whose path matches
 * the normalised path and whose method (if it names one) is the request's.
 * @param pathname the request URL's pathname, as received
 */
export function matchRoute(table: PriceTable, method: string, pathname: string): RouteMatch {
  const normalized = normalizePath(pathname)
  if (!normalized.ok) return { kind: 'invalid-path', message: normalized.message }
  const allowed: string[] = []
  for (const route of table.routes) {
    const forwardPath = matchPattern(route.pattern, normalized.segments, normalized.trailingSlash)
    if (forwardPath === null) continue
    if (route.method && route.method !== method && !(route.method === 'GET' && method === 'HEAD')) {
      allowed.push(route.method)
      continue
    }
    return { kind: 'matched', route, forwardPath }
  }
  return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'no-route' }
}
