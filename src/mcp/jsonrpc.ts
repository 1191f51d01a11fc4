/**
 * @module mcp/jsonrpc
 * Reading the JSON-RPC 2.0 body of an MCP Streamable HTTP POST: one message or a
 * batch (MCP 2025-03-26 §Transports allows batches; later revisions dropped them,
 * but the reference server still takes them, so we price them). Framework-free.
 */

/** A request id, kept exactly: `1` and `"1"` are different ids. */
export type JsonRpcId = string | number

export type McpMessage =
  | {
      kind: 'request'
      id: JsonRpcId
      method: string
      params: Record<string, unknown> | undefined
      tool?: string
    }
  | { kind: 'notification'; method: string; params: Record<string, unknown> | undefined }
  | { kind: 'response'; id: JsonRpcId | null }

export type ParsedBody =
  | { ok: true; batch: boolean; messages: McpMessage[] }
  | {
      ok: false
      code: typeof PARSE_ERROR | typeof INVALID_REQUEST | typeof INVALID_PARAMS
      message: string
    }

export const PARSE_ERROR = -32700
export const INVALID_REQUEST = -32600
export const INVALID_PARAMS = -32602
export const INTERNAL_ERROR = -32603

/** The largest batch we price. The reference server's own limit is of this order. */
export const MAX_BATCH = 100

/** A map key for an id that keeps `1` and `"1"` apart. */
export function idKey(id: JsonRpcId | null): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function classify(value: unknown): McpMessage | string {
  if (!isObject(value)) return 'a JSON-RPC message must be an object'
  if (value.jsonrpc !== '2.0') return 'a JSON-RPC message must have "jsonrpc": "2.0"'
  if ('method' in value) {
    if (typeof value.method !== 'string' || value.method === '')
      return '"method" must be a non-empty string'
    if (value.params !== undefined && !isObject(value.params) && !Array.isArray(value.params)) {
      return '"params" must be an object or an array'
    }
    const params = isObject(value.params) ? value.params : undefined
    if (!('id' in value)) return { kind: 'notification', method: value.method, params }
    const id = value.id
    if (typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
      return 'a request "id" must be a string or a number'
    }
    if (value.method === 'tools/call') {
      const tool = params?.name
      if (typeof tool !== 'string' || tool === '') return 'tools/call needs "params.name", a string'
      return { kind: 'request', id, method: value.method, params, tool }
    }
    return { kind: 'request', id, method: value.method, params }
  }
  if ('id' in value && 'result' in value !== 'error' in value) {
    const id = value.id
    if (typeof id === 'string' || typeof id === 'number' || id === null)
      return { kind: 'response', id }
  }
  return 'not a JSON-RPC request, notification or response'
}

/**
 * Parse and classify a POST body.
 * @returns the messages, or the JSON-RPC error code and message to answer with
 */
export function parseMcpBody(text: string): ParsedBody {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, code: PARSE_ERROR, message: 'Parse error: the body is not valid JSON' }
  }
  const batch = Array.isArray(value)
  const items: unknown[] = batch ? (value as unknown[]) : [value]
  if (items.length === 0)
    return { ok: false, code: INVALID_REQUEST, message: 'an empty batch is not a request' }
  if (items.length > MAX_BATCH) {
    return {
      ok: false,
      code: INVALID_REQUEST,
      message: `a batch may hold at most ${MAX_BATCH} messages`,
    }
  }
  const messages: McpMessage[] = []
  const ids = new Set<string>()
  for (const [index, item] of items.entries()) {
    const message = classify(item)
    if (typeof message === 'string') {
      const where = batch ? `message ${index}: ` : ''
      const code = message.startsWith('tools/call') ? INVALID_PARAMS : INVALID_REQUEST
      return { ok: false, code, message: `Invalid request: ${where}${message}` }
    }
    if (message.kind === 'request') {
      // Responses are matched to requests by id to decide what to charge, so an id
      // used twice in one batch would make that ambiguous.
      if (ids.has(idKey(message.id))) {
        return {
          ok: false,
          code: INVALID_REQUEST,
          message: 'Invalid request: a request id appears twice in the batch',
        }
      }
      ids.add(idKey(message.id))
    }
    messages.push(message)
  }
  return { ok: true, batch, messages }
}

/**
 * What a JSON-RPC response says about the call it answers. `incomplete`: the
 * server needs input first (MCP 2026-07-28 multi round-trip requests: an
 * InputRequiredResult), so the call is not answered yet; the client retries it
 * as a new request carrying `inputResponses`, and that one is the call.
 */
export type CallOutcome = 'success' | 'failure' | 'incomplete'

/**
 * An InputRequiredResult (MCP 2026-07-28 §MRTR, SEP-2322): a result that asks for
 * input (`inputRequests`) or hands back state for the retry (`requestState`),
 * marked `resultType: "input_required"` where the server says so.
 */
function needsInput(result: Record<string, unknown>): boolean {
  if (result.resultType === 'input_required') return true
  if (isObject(result.inputRequests)) return true
  return (
    typeof result.requestState === 'string' &&
    !('content' in result) &&
    !('contents' in result) &&
    !('messages' in result)
  )
}

/**
 * Classify a message from the origin. A JSON-RPC error, or a tool result with
 * `isError: true` (MCP §Tools: tool errors are reported in the result), is a
 * failure; an InputRequiredResult is incomplete. Only a success is charged.
 * @returns the id and outcome, or null for anything that is not a response
 */
export function responseOutcome(value: unknown): { id: JsonRpcId; outcome: CallOutcome } | null {
  if (!isObject(value) || !('id' in value)) return null
  const id = value.id
  if (typeof id !== 'string' && typeof id !== 'number') return null
  if ('error' in value) return { id, outcome: 'failure' }
  if (!('result' in value)) return null
  const result = value.result
  if (isObject(result) && result.isError === true) return { id, outcome: 'failure' }
  return { id, outcome: isObject(result) && needsInput(result) ? 'incomplete' : 'success' }
}

/** A JSON-RPC error message object. */
export function jsonRpcError(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: Record<string, unknown>
): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: data ? { code, message, data } : { code, message } }
}
