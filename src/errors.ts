/**
 * @module errors
 * The one error class of the gate and the codes it speaks. Every refusal a caller
 * can see has a stable lowercase code, the same word on plain HTTP routes (in the
 * JSON body) and on MCP routes (in the JSON-RPC error's `data.reason`).
 * Imports nothing from the rest of the gate.
 */

/** Why a request was refused. Stable: clients branch on these. */
export type ErrorCode =
  // payment and keys
  | 'missing_api_key'
  | 'invalid_api_key'
  | 'insufficient_credits'
  | 'key_suspended'
  | 'key_revoked'
  | 'key_expired'
  | 'rate_limited'
  | 'idempotency_in_progress'
  | 'idempotency_mismatch'
  // a key's own policy (plans, quotas, limits)
  | 'tool_not_allowed'
  | 'spending_limit_reached'
  | 'quota_exceeded'
  | 'plan_allowance_exhausted'
  // MCP answers on resumed streams (gate/mcp-stream)
  | 'answer_not_held'
  | 'invalid_resume'
  // bad input
  | 'invalid_request'
  | 'invalid_path'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  // an OAuth access token that no longer pays (src/oauth; RFC 6750 §3.1)
  | 'invalid_token'
  | 'origin_not_allowed'
  // sidecar mode (a reverse proxy asks the gate; see src/sidecar)
  | 'invalid_reservation'
  | 'sidecar_body_missing'
  | 'settlement_in_progress'
  // the gate or the origin cannot serve
  | 'routes_unavailable'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'ledger_unavailable'
  | 'internal_error'

const STATUS: Record<ErrorCode, number> = {
  missing_api_key: 401,
  invalid_api_key: 401,
  insufficient_credits: 402,
  key_suspended: 403,
  key_revoked: 403,
  key_expired: 403,
  rate_limited: 429,
  idempotency_in_progress: 409,
  idempotency_mismatch: 422,
  tool_not_allowed: 403,
  spending_limit_reached: 402,
  quota_exceeded: 429,
  plan_allowance_exhausted: 402,
  answer_not_held: 402,
  invalid_resume: 400,
  origin_not_allowed: 403,
  invalid_request: 400,
  invalid_path: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  not_found: 404,
  method_not_allowed: 405,
  unauthorized: 401,
  invalid_token: 401,
  invalid_reservation: 400,
  sidecar_body_missing: 502,
  settlement_in_progress: 503,
  routes_unavailable: 503,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  ledger_unavailable: 503,
  internal_error: 500,
}

/** The HTTP status a code is answered with on plain HTTP routes. */
export function statusOf(code: ErrorCode): number {
  return STATUS[code]
}

/**
 * A refusal with a code, a human message and optional details that are safe to
 * show the caller (prices, balances, retry hints). Never put secrets in details.
 */
export class GateError extends Error {
  override readonly name = 'GateError'
  readonly code: ErrorCode
  readonly details: Record<string, unknown>
  readonly headers: Record<string, string>
  /** Whose call was refused (the admin key id), for usage records. Never shown to the caller. */
  readonly keyId: string | undefined

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown; keyId?: string } = {}
  ) {
    super(message, { cause: options.cause })
    this.code = code
    this.details = options.details ?? {}
    this.headers = options.headers ?? {}
    this.keyId = options.keyId
  }

  get status(): number {
    return statusOf(this.code)
  }
}

/**
 * The JSON answer for a plain HTTP caller:
 * `{ "error": { "code": "insufficient_credits", "message": "…", …details } }`.
 */
export function errorResponse(error: GateError): Response {
  const body = { error: { code: error.code, message: error.message, ...error.details } }
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...error.headers },
  })
}
