/**
 * @module gate/mcp-answers
 * How the gate itself answers on an MCP route. Payment problems go in-band, HTTP
 * 200 with a JSON-RPC error `-32402` per request, because stock MCP clients throw
 * on any non-2xx POST answer (MCP SDK StreamableHTTPClientTransport) and the agent
 * would never see why. Malformed input and gate or origin failures keep their HTTP
 * status, with a JSON-RPC error body as the reference server sends.
 */
import { GateError, inBand as answeredInBand, nextStep, type ErrorCode } from '../errors'
import {
  idKey,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  jsonRpcError,
  type JsonRpcId,
  type ParsedBody,
} from '../mcp'
import { formatDollars } from '../money'
import { readBytesWithin } from '../request-body'

/** JSON-RPC code for "payment required" on MCP routes (the code MCP payment drafts use). */
export const PAYMENT_REQUIRED_CODE = -32402

/** A JSON answer from the gate itself, never cached. */
export function mcpJson(
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  })
}

/** An HTTP error with a JSON-RPC error body (id null: no single request to answer). */
export function mcpErrorResponse(
  status: number,
  id: JsonRpcId | null,
  code: number,
  message: string,
  reason: ErrorCode
): Response {
  return mcpJson(status, jsonRpcError(id, code, message, { reason }))
}

/** A priced batch that cannot be paid: one x402 payment pays one call, so batches are paid with credits only. */
export function batchNotPayable(routeTakesCredits: boolean): Response {
  const message = routeTakesCredits
    ? 'Invalid request: a batch can be paid with credits only, not x402'
    : 'Invalid request: a batch can be paid with credits only, and this route takes x402 only: send the calls one by one'
  return mcpErrorResponse(400, null, INVALID_REQUEST, message, 'invalid_request')
}

/**
 * Answer every request in the body with the gate's refusal: `-32402` in-band for
 * payment problems; otherwise the error's HTTP status, with `-32600` for the
 * caller's mistakes and `-32603` for failures of the gate or the origin.
 */
export function mcpGateErrorResponse(
  error: GateError,
  parsed: Extract<ParsedBody, { ok: true }>,
  prices: ReadonlyMap<string, number>
): Response {
  const inBand = answeredInBand(error.code)
  const next = nextStep(error.code)
  // A refusal of the caller's own input is an invalid request; anything else is ours or the origin's.
  const code = inBand
    ? PAYMENT_REQUIRED_CODE
    : error.status < 500
      ? INVALID_REQUEST
      : INTERNAL_ERROR
  const answers = parsed.messages.flatMap((message) => {
    if (message.kind !== 'request') return []
    const price = prices.get(idKey(message.id))
    const data = {
      reason: error.code,
      ...(next ? { next } : {}),
      ...error.details,
      method: message.method,
      ...(message.tool !== undefined ? { tool: message.tool } : {}),
      ...(price !== undefined ? { price: formatDollars(price) } : { price: '0' }),
    }
    return [jsonRpcError(message.id, code, error.message, data)]
  })
  const body = parsed.batch
    ? answers
    : (answers[0] ?? jsonRpcError(null, code, error.message, { reason: error.code }))
  return mcpJson(inBand ? 200 : error.status, body, error.headers)
}

export type BodyRead = { ok: true; text: string } | { ok: false; response: Response }

/**
 * Read a request body as text, refusing with 413 as soon as it passes `limit`
 * bytes (before reading it at all, when Content-Length already says so).
 */
export async function readBodyWithin(request: Request, limit: number): Promise<BodyRead> {
  const tooLarge = (): BodyRead => ({
    ok: false,
    response: mcpErrorResponse(
      413,
      null,
      -32000,
      `Payload Too Large: the limit is ${limit} bytes`,
      'body_too_large'
    ),
  })
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) return tooLarge()
  // A declared length within the limit: the runtime enforces it, so decode natively.
  if (declared !== null && /^\d+$/.test(declared)) return { ok: true, text: await request.text() }
  const bytes = await readBytesWithin(request, limit)
  return bytes === null ? tooLarge() : { ok: true, text: new TextDecoder().decode(bytes) }
}
