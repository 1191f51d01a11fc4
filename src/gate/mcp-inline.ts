/**
 * @module gate/mcp-inline
 * Small JSON answers are read whole (natively, cheaper than streaming them
 * through JavaScript), seen and annotated at once, and answered as one body.
 */
import type { BodyFormat, McpResponseReader } from '../mcp'
import { downstreamResponseHeaders } from '../proxy'

/** JSON answers up to this size are read whole rather than streamed through JavaScript. */
const INLINE_JSON_BYTES = 256 * 1024

/** A JSON answer whose declared length is small: cheaper to read at once than to stream. */
export function isSmallJson(response: Response, format: BodyFormat): boolean {
  const length = Number(response.headers.get('content-length') ?? Number.NaN)
  return format === 'json' && Number.isSafeInteger(length) && length <= INLINE_JSON_BYTES
}

/** Read a JSON answer whole, let the reader see (and annotate) it, and answer with the result. */
export async function inlineJson(
  response: Response,
  reader: McpResponseReader,
  extraHeaders: Record<string, string> = {}
): Promise<Response> {
  const text = await response.text()
  const body = reader.whole(text)
  const headers = downstreamResponseHeaders(response.headers)
  headers.delete('content-length')
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value)
  return new Response(body, { status: response.status, statusText: response.statusText, headers })
}
