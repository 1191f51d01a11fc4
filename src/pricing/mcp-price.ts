/**
 * @module pricing/mcp-price
 * What one JSON-RPC request on an MCP route costs. Discovery and lifecycle methods
 * are free by default; `tools/call` is priced by tool; every other method costs the
 * route's default, so no method slips through free by being left out. Pure.
 */
import type { RateLimit } from './schema'
import type { McpPriceBook } from './table'

/**
 * Methods that cost nothing unless the route's `methods` map prices them: the
 * lifecycle and discovery, `logging/setLevel` (clients such as the MCP Inspector
 * send it on connect), the task methods (MCP 2025-11-25 tasks: a task is paid
 * as its tool, never per poll) and `subscriptions/listen` (2026-07-28's
 * long-lived stream, which carries no answer of its own).
 */
export const FREE_MCP_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'prompts/list',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'subscriptions/listen',
])

export interface McpRequestPrice {
  micros: number
  /** The tool's own per-key rate limit, when the route gives one. */
  toolRateLimit?: RateLimit
}

/**
 * Price one JSON-RPC request (a message with an `id`). Notifications and responses
 * are never priced; callers do not ask.
 * @param tool `params.name` of a `tools/call`, already checked to be a string
 */
export function priceMcpRequest(
  book: McpPriceBook,
  method: string,
  tool?: string
): McpRequestPrice {
  const methodPrice = book.methods.get(method)
  if (method === 'tools/call' && tool !== undefined) {
    const entry = book.tools.get(tool)
    if (entry) return { micros: entry.micros, toolRateLimit: entry.rateLimit }
    return { micros: methodPrice ?? book.defaultMicros }
  }
  if (methodPrice !== undefined) return { micros: methodPrice }
  return { micros: FREE_MCP_METHODS.has(method) ? 0 : book.defaultMicros }
}

/** The price of a tool as listed in `tools/list`, for the `_meta` annotation. */
export function priceOfTool(book: McpPriceBook, tool: string): number {
  return priceMcpRequest(book, 'tools/call', tool).micros
}
