/**
 * @module gate/mcp-pricing
 * Pricing an MCP body message by message (a batch as its sum, held
 * all-or-nothing), and the price annotations `tools/list` answers get.
 */
import {
  annotateToolsList,
  idKey,
  requestedTask,
  type McpMessage,
  type MessageRewrite,
} from '../mcp'
import {
  priceMcpRequest,
  priceOfTool,
  type McpPriceBook,
  type PaymentRails,
  type RateLimit,
} from '../pricing'
import { toolPriceMeta } from './tool-price-meta'

export interface PricedBody {
  total: number
  /** Price of each priced request, by id. */
  prices: Map<string, number>
  /** The priced requests in order, as the key's plan prices them. */
  items: Array<{ id: string; price: number; tool?: string }>
  /** Ids of `tools/list` requests, whose answers get price annotations. */
  listIds: Set<string>
  toolLimits: Array<{ tool: string; limit: RateLimit }>
  label: string
  /** How long a held call may wait for its answer after its POST stream ended. */
  waitMs: number
}

/** Price every request in an MCP body (a batch as its sum). */
export function priceBody(book: McpPriceBook, messages: McpMessage[]): PricedBody {
  const priced: PricedBody = {
    total: 0,
    prices: new Map(),
    items: [],
    listIds: new Set(),
    toolLimits: [],
    label: '',
    waitMs: book.resumeMs,
  }
  const names: string[] = []
  for (const message of messages) {
    if (message.kind !== 'request') continue
    if (message.method === 'tools/list') priced.listIds.add(idKey(message.id))
    // A task's result may be fetched as long as the task lives (its ttl), within the route's cap.
    const task = requestedTask(message)
    if (task)
      priced.waitMs = Math.max(priced.waitMs, Math.min(task.ttlMs ?? book.taskMs, book.taskMs))
    const price = priceMcpRequest(book, message.method, message.tool)
    if (price.micros === 0) continue
    priced.total += price.micros
    priced.prices.set(idKey(message.id), price.micros)
    priced.items.push({
      id: idKey(message.id),
      price: price.micros,
      ...(message.tool !== undefined ? { tool: message.tool } : {}),
    })
    if (message.tool !== undefined && price.toolRateLimit) {
      priced.toolLimits.push({ tool: message.tool, limit: price.toolRateLimit })
    }
    names.push(message.tool !== undefined ? `${message.method} ${message.tool}` : message.method)
  }
  priced.label =
    names.length > 3 ? `${names.slice(0, 3).join(', ')} (+${names.length - 3})` : names.join(', ')
  return priced
}

/** The rewrite that annotates the `tools/list` answers among `listIds` with prices (and hides the tools a key may not call). */
export function annotator(
  book: McpPriceBook,
  listIds: Set<string>,
  rails: PaymentRails,
  keep?: (tool: string) => boolean
): MessageRewrite | undefined {
  if (listIds.size === 0) return undefined
  return (message) =>
    annotateToolsList(
      message,
      listIds,
      (tool) => toolPriceMeta(priceOfTool(book, tool), rails),
      keep
    )
}

/** Two rewrites of the origin's messages, the first that changes a message winning. */
export function both(
  first: MessageRewrite | undefined,
  second: MessageRewrite | undefined
): MessageRewrite | undefined {
  if (!first || !second) return first ?? second
  return (message) => first(message) ?? second(message)
}
