/**
 * @module gate/mcp-origin
 * DNS-rebinding protection on MCP routes. Streamable HTTP (2025-11-25 §Security
 * Warning): "Servers MUST validate the Origin header on all incoming connections
 * … If the Origin header is present and invalid, servers MUST respond with HTTP
 * 403 Forbidden." The origin behind the gate sees the gate's request, not the
 * browser's Host, so the gate checks: no Origin (not a browser) passes; the
 * gate's own origin passes; any other only when the route allows it.
 */
import type { McpPriceBook } from '../pricing'
import { mcpErrorResponse } from './mcp-answers'

/** The 403 for a browser origin the route does not allow, or null when the request may go on. */
export function originRefusal(request: Request, url: URL, book: McpPriceBook): Response | null {
  const origin = request.headers.get('origin')
  if (origin === null) return null
  const normalised = origin.trim().toLowerCase()
  if (normalised === url.origin.toLowerCase() || book.allowedOrigins.has(normalised)) return null
  return mcpErrorResponse(
    403,
    null,
    -32000,
    `Forbidden: the Origin ${JSON.stringify(origin.slice(0, 200))} may not call this MCP route`,
    'origin_not_allowed'
  )
}
