/**
 * @module pricing/discovery
 * A paid route's `discovery` block in routes.json, and what it compiles to: what
 * the route tells catalogues about itself in the x402 bazaar extension
 * (specs/extensions/bazaar.md) and at /.well-known/x402. A pattern route (`*`,
 * `:param`) names the concrete paths it is listed under; an exact route is listed
 * under its own path. Every listed path must be one this very route prices, so a
 * listing never names a URL that is free or served by another route.
 * @example
 * { "path": "/api/*", "method": "GET", "price": "0.02", …,
 *   "discovery": { "resources": ["/api/weather"], "input": { "queryParams": { "city": "Paris" } },
 *                  "output": { "example": { "city": "Paris", "temperature": 18 } } } }
 */
import * as z from 'zod'
import { compilePattern, matchPattern, normalizePath, type PathPattern } from './path'

/** The methods bazaar describes (its query and body methods); a route on another method is not catalogued. */
const QUERY_METHODS = ['GET', 'HEAD', 'DELETE'] as const
const BODY_METHODS = ['POST', 'PUT', 'PATCH'] as const
export type DiscoveryMethod = (typeof QUERY_METHODS)[number] | (typeof BODY_METHODS)[number]

/**
 * The most a route's examples and schemas may take as JSON. They go into every
 * PAYMENT-REQUIRED and are echoed in every PAYMENT-SIGNATURE: this keeps an
 * echoed payment near 5 KB of base64, under the gate's 16,384 (x402/wire
 * decodeHeader) and a proxy's usual 8 KB per request header (nginx's
 * large_client_header_buffers) in sidecar mode.
 */
const MAX_DISCOVERY_CHARS = 2048

const JsonObject = z.record(z.string(), z.unknown())

/**
 * A JSON Schema a catalogue can use: only same-document `$ref`/`$id` ("#…"). The
 * bazaar spec: facilitators must not resolve external references, and the SDK's
 * facilitator refuses a schema that has one.
 */
function hasExternalReference(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasExternalReference)
  if (typeof node !== 'object' || node === null) return false
  return Object.entries(node).some(
    ([key, value]) =>
      ((key === '$ref' || key === '$id') &&
        !(typeof value === 'string' && value.startsWith('#'))) ||
      hasExternalReference(value)
  )
}

const LocalSchema = JsonObject.refine((schema) => !hasExternalReference(schema), {
  error:
    'a "$ref" or "$id" must point inside the schema ("#/…"): catalogues refuse external references',
})

/** A path exactly as a caller would request it: no `*`, no `:param`, no query. */
const ConcretePath = z
  .string()
  .max(1024)
  .refine(
    (path) =>
      path === '/' ||
      (path.startsWith('/') &&
        path
          .split('/')
          .slice(1)
          .every(
            (segment) =>
              segment !== '' &&
              segment !== '.' &&
              segment !== '..' &&
              !segment.startsWith(':') &&
              !/[*?#%\\\s]/.test(segment)
          )),
    {
      error:
        'expected a concrete path such as "/api/weather": no "*" or ":param", no "?", "#", "%", "\\" or spaces',
    }
  )

export const DiscoverySchema = z.strictObject({
  /** The concrete paths this route is listed under; by default an exact route's own path, and none for a pattern. */
  resources: z.array(ConcretePath).min(1).max(100).optional(),
  /** An example call: query parameters (GET, HEAD, DELETE) or a body (POST, PUT, PATCH), and their JSON Schema. */
  input: z
    .strictObject({
      queryParams: z.record(z.string(), z.string()).optional(),
      bodyType: z.enum(['json', 'form-data', 'text']).optional(),
      body: JsonObject.optional(),
      schema: LocalSchema.optional(),
    })
    .optional(),
  /** An example answer (a JSON object), and its JSON Schema. */
  output: z.strictObject({ example: JsonObject, schema: LocalSchema.optional() }).optional(),
})
export type DiscoveryConfig = z.infer<typeof DiscoverySchema>

/**
 * What a 402 tells catalogues about the route's resource, compiled. Part of the
 * route's x402 terms, which a sidecar seals into its reservation tokens: so it is
 * plain JSON and small (no listed paths, no per-tool text).
 */
export type RouteDiscovery =
  | {
      kind: 'http'
      method: DiscoveryMethod
      /** Set for a route with `:param` segments and no `*`: the catalogue key for all its paths. */
      routeTemplate?: string
      input?: DiscoveryConfig['input']
      output?: DiscoveryConfig['output']
    }
  | { kind: 'mcp' }

/** The parts of a route that decide its discovery. */
interface DiscoveryRoute {
  path: string
  method?: string
  price?: string
  free?: boolean
  mcp?: unknown
  discovery?: DiscoveryConfig
}

const isBodyMethod = (method: string): boolean =>
  (BODY_METHODS as readonly string[]).includes(method)
const isDiscoveryMethod = (method: string): method is DiscoveryMethod =>
  isBodyMethod(method) || (QUERY_METHODS as readonly string[]).includes(method)

/** The method a route is catalogued under: its own, or for a route that takes any, POST with a body example and GET without. */
function discoveryMethod(route: DiscoveryRoute): string {
  return (
    route.method ??
    (route.discovery?.input?.body !== undefined || route.discovery?.input?.bodyType !== undefined
      ? 'POST'
      : 'GET')
  )
}

const isPattern = (path: string): boolean =>
  path.split('/').some((segment) => segment === '*' || segment.startsWith(':'))

/** Compile a validated route's discovery; none for a free route or a method bazaar cannot describe. */
export function compileDiscovery(route: DiscoveryRoute): RouteDiscovery | undefined {
  if (route.mcp) return { kind: 'mcp' }
  const method = discoveryMethod(route)
  if (route.free === true || route.price === undefined || !isDiscoveryMethod(method))
    return undefined
  const segments = route.path.split('/')
  const { discovery } = route
  return {
    kind: 'http',
    method,
    ...(segments.some((segment) => segment.startsWith(':')) && !segments.includes('*')
      ? { routeTemplate: route.path }
      : {}),
    ...(discovery?.input ? { input: discovery.input } : {}),
    ...(discovery?.output ? { output: discovery.output } : {}),
  }
}

/** The concrete paths a priced HTTP route is listed under: its `discovery.resources`, else an exact route's own path. */
export function listedPaths(route: DiscoveryRoute): string[] {
  if (route.mcp || route.free === true || route.price === undefined) return []
  return route.discovery?.resources ?? (isPattern(route.path) ? [] : [route.path])
}

export interface DiscoveryIssue {
  path: PropertyKey[]
  message: string
}

/** Which route serves `method path` first, as pricing/table matchRoute decides it. */
function firstRoute(
  patterns: Array<{ pattern: PathPattern; method?: string }>,
  method: string,
  path: string
): number {
  const normalized = normalizePath(path)
  if (!normalized.ok) return -1
  return patterns.findIndex(
    (route) =>
      matchPattern(route.pattern, normalized.segments, normalized.trailingSlash) !== null &&
      (!route.method || route.method === method || (route.method === 'GET' && method === 'HEAD'))
  )
}

/**
 * Every problem with the routes' discovery blocks, at paths relative to the file.
 * @param reserved the paths the gate answers itself (a `/*` route may cover them)
 */
export function discoveryIssues(
  routes: DiscoveryRoute[],
  reserved: readonly string[]
): DiscoveryIssue[] {
  const patterns = routes.map((route) => ({
    pattern: compilePattern(route.path),
    method: route.method,
  }))
  return routes.flatMap((route, index): DiscoveryIssue[] => {
    const { discovery } = route
    if (!discovery) return []
    const at = (...path: PropertyKey[]) => ['routes', index, 'discovery', ...path]
    const method = discoveryMethod(route)
    if (route.mcp)
      return [
        {
          path: at(),
          message: 'an MCP route is catalogued by its tools (mcp.tools), not by "discovery"',
        },
      ]
    if (route.free === true || route.price === undefined)
      return [{ path: at(), message: 'only a priced route is catalogued' }]
    if (!isDiscoveryMethod(method))
      return [
        {
          path: at(),
          message: `bazaar catalogues ${[...QUERY_METHODS, ...BODY_METHODS].join(', ')} routes, not ${method}`,
        },
      ]
    const issues: DiscoveryIssue[] = []
    if (
      JSON.stringify({ input: discovery.input, output: discovery.output }).length >
      MAX_DISCOVERY_CHARS
    ) {
      issues.push({
        path: at(),
        message: `"input" and "output" take at most ${MAX_DISCOVERY_CHARS} characters of JSON: they are sent with every 402 and echoed in every payment`,
      })
    }
    const input = discovery.input
    if (input && isBodyMethod(method) && input.queryParams !== undefined) {
      issues.push({
        path: at('input'),
        message: '"queryParams" examples are for GET, HEAD or DELETE routes; give a "body" example',
      })
    }
    if (
      input &&
      !isBodyMethod(method) &&
      (input.body !== undefined || input.bodyType !== undefined)
    ) {
      issues.push({
        path: at('input'),
        message: `a "body" example needs a POST, PUT or PATCH route (this one is ${method})`,
      })
    }
    const own = patterns[index] as { pattern: PathPattern }
    discovery.resources?.forEach((resource, position) => {
      const lower = resource.toLowerCase()
      const gates = reserved.find((path) => lower === path || lower.startsWith(`${path}/`))
      if (gates) {
        issues.push({
          path: at('resources', position),
          message: `"${resource}" is under "${gates}", which the gate serves itself`,
        })
        return
      }
      const normalized = normalizePath(resource)
      if (
        !normalized.ok ||
        matchPattern(own.pattern, normalized.segments, normalized.trailingSlash) === null
      ) {
        issues.push({
          path: at('resources', position),
          message: `"${resource}" is not matched by "${route.path}"`,
        })
        return
      }
      const first = firstRoute(patterns, method, resource)
      if (first !== index)
        issues.push({
          path: at('resources', position),
          message: `"${resource}" is served by routes[${first}] (the first match), not by this route`,
        })
    })
    return issues
  })
}
