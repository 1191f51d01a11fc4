/**
 * @module gate/limits
 * The rate-limit counters a call counts against, besides the key's own: the
 * route's, and on MCP routes each priced tool's. Counted per key, in the key's
 * account object.
 */
import type { LimitCheck } from '../credits'
import type { CompiledRoute, RateLimit } from '../pricing'

function check(bucket: string, limit: RateLimit, cost: number): LimitCheck {
  return { bucket, limit: limit.limit, windowSeconds: limit.windowSeconds, cost }
}

/** The route's own limit, if it has one. */
export function routeLimits(route: CompiledRoute): LimitCheck[] {
  return route.rateLimit ? [check(`route:${route.path}`, route.rateLimit, 1)] : []
}

/**
 * The limits for an MCP POST: the route's, once, and each tool's, counted as many
 * times as the body calls that tool.
 */
export function mcpLimits(
  route: CompiledRoute,
  toolCalls: Array<{ tool: string; limit: RateLimit }>
): LimitCheck[] {
  const counts = new Map<string, { limit: RateLimit; cost: number }>()
  for (const { tool, limit } of toolCalls) {
    const entry = counts.get(tool)
    counts.set(tool, { limit, cost: (entry?.cost ?? 0) + 1 })
  }
  const tools = [...counts].map(([tool, { limit, cost }]) =>
    check(`tool:${route.path}:${tool}`, limit, cost)
  )
  return [...routeLimits(route), ...tools]
}
