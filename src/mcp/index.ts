/**
 * @module mcp
 * JSON-RPC awareness for MCP origins over Streamable HTTP: reading request bodies,
 * reading responses (JSON or SSE) as they stream, deciding whether a call
 * succeeded, and annotating `tools/list` with prices. Knows nothing of prices'
 * source or of credits: the gate passes those in. Imports no other leaf.
 */
export {
  parseMcpBody,
  responseOutcome,
  jsonRpcError,
  idKey,
  PARSE_ERROR,
  INVALID_REQUEST,
  INVALID_PARAMS,
  INTERNAL_ERROR,
  MAX_BATCH,
  type JsonRpcId,
  type McpMessage,
  type ParsedBody,
  type CallOutcome,
} from './jsonrpc'
export {
  McpResponseReader,
  bodyFormat,
  MAX_INSPECTED_BYTES,
  type BodyFormat,
  type EventIdRewrite,
  type MessageRewrite,
} from './response-reader'
export { annotateToolsList, PRICE_META_KEY } from './annotate'
export { SseReader, serializeEvent, withEventId, type SseEvent } from './sse'
export {
  createdTaskId,
  requestedTask,
  taskIdParam,
  withTaskId,
  RELATED_TASK_META,
  TASK_METHODS,
} from './tasks'
