/**
 * @module mcp/annotate
 * Prices shown to agents before they call: each tool in a `tools/list` result gets
 * a `pay-gate/price` entry in its `_meta` (MCP 2025-11-25 §Basic: `_meta` keys with
 * a prefix other than the reserved ones are free for implementations to use).
 */
import { idKey, type JsonRpcId } from './jsonrpc'

export const PRICE_META_KEY = 'pay-gate/price'

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Annotate a `tools/list` response, if `message` is the answer to one of `listIds`.
 * @param metaFor the `_meta` entries to add to a tool (its `pay-gate/price`, …)
 * @param keep which tools the caller may see (a key's allow- and deny-lists); default all
 * @returns the annotated message, or undefined when there is nothing to change
 */
export function annotateToolsList(
  message: unknown,
  listIds: ReadonlySet<string>,
  metaFor: (tool: string) => Record<string, unknown>,
  keep?: (tool: string) => boolean
): unknown {
  if (!isObject(message) || !isObject(message.result)) return undefined
  const id = message.id
  if ((typeof id !== 'string' && typeof id !== 'number') || !listIds.has(idKey(id as JsonRpcId)))
    return undefined
  const tools = message.result.tools
  if (!Array.isArray(tools)) return undefined
  const visible = keep
    ? tools.filter(
        (tool: unknown) => !isObject(tool) || typeof tool.name !== 'string' || keep(tool.name)
      )
    : tools
  const annotated = visible.map((tool: unknown) => {
    if (!isObject(tool) || typeof tool.name !== 'string') return tool
    const meta = isObject(tool._meta) ? tool._meta : {}
    return { ...tool, _meta: { ...meta, ...metaFor(tool.name) } }
  })
  return { ...message, result: { ...message.result, tools: annotated } }
}
