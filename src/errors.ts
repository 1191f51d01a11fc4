/**
 * @module errors
 * The one error class of the gate and the refusals it speaks, in one table. Every
 * refusal a caller can see has a stable lowercase code, the same word on plain HTTP
 * routes (in the JSON body) and on MCP routes (in the JSON-RPC error's
 * `data.reason`), with its HTTP status, whether MCP answers it in-band, and what
 * the caller can do next.
 * Imports nothing from the rest of the gate.
 */

/** How one refusal is answered, whatever the transport renders it as. */
interface RefusalSpec {
  /** The HTTP status on plain HTTP routes (and on MCP routes, unless in-band). */
  status: number
  /**
   * Answered in-band on MCP routes (HTTP 200, JSON-RPC `-32402`): a payment problem the
   * agent must see, where stock MCP clients throw on any non-2xx POST answer.
   */
  inBand?: true
  /** What the caller can do next, shown beside the message. */
  next?: string
}

const SEND_KEY = 'Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".'
const ASK_OPERATOR = 'Ask the operator of this gate about the key.'
const RETRY_LATER = 'Retry after the number of seconds in Retry-After.'

/**
 * Every refusal a caller can see, by its stable code (clients branch on these):
 * the one table the HTTP answer, the JSON-RPC error and the usage record read.
 */
const REFUSALS = {
  // payment and keys
  missing_api_key: { status: 401, inBand: true, next: SEND_KEY },
  invalid_api_key: {
    status: 401,
    inBand: true,
    next: 'Check the key: it is shown once, when issued, and starts with "pg_".',
  },
  insufficient_credits: {
    status: 402,
    inBand: true,
    next: 'Top up the key (POST /credits/buy, POST /stripe/checkout) or ask the operator; GET /balance shows what is left.',
  },
  key_suspended: { status: 403, inBand: true, next: ASK_OPERATOR },
  key_revoked: {
    status: 403,
    inBand: true,
    next: 'Use another key: a revoked key never works again.',
  },
  key_expired: { status: 403, inBand: true, next: ASK_OPERATOR },
  rate_limited: { status: 429, inBand: true, next: RETRY_LATER },
  idempotency_in_progress: {
    status: 409,
    inBand: true,
    next: 'Wait for the first request with this Idempotency-Key to finish, then retry.',
  },
  idempotency_mismatch: {
    status: 422,
    inBand: true,
    next: 'Send a new Idempotency-Key for a different request.',
  },
  // a key's own policy (plans, quotas, limits)
  tool_not_allowed: {
    status: 403,
    inBand: true,
    next: 'Call a tool this key may use (tools/list shows them).',
  },
  spending_limit_reached: { status: 402, inBand: true, next: ASK_OPERATOR },
  quota_exceeded: { status: 429, inBand: true, next: RETRY_LATER },
  plan_allowance_exhausted: {
    status: 402,
    inBand: true,
    next: "Wait for the plan's next period, or ask the operator for another plan.",
  },
  // MCP answers on resumed streams (gate/mcp-stream)
  answer_not_held: {
    status: 402,
    inBand: true,
    next: 'Call it again: nothing was charged for this answer.',
  },
  invalid_resume: {
    status: 400,
    next: 'Resume only from an event id this gate handed out, in its own session and with the same key.',
  },
  // bad input
  invalid_request: { status: 400 },
  invalid_path: { status: 400 },
  body_too_large: { status: 413 },
  unsupported_media_type: { status: 415 },
  not_found: { status: 404 },
  method_not_allowed: { status: 405 },
  unauthorized: { status: 401 },
  // an OAuth access token that no longer pays (src/oauth; RFC 6750 §3.1)
  invalid_token: {
    status: 401,
    next: 'Authorize again: the grant was revoked, or its key revoked or rotated.',
  },
  origin_not_allowed: { status: 403 },
  // sidecar mode (a reverse proxy asks the gate; see src/sidecar)
  invalid_reservation: { status: 400 },
  sidecar_body_missing: { status: 502 },
  settlement_in_progress: { status: 503, next: RETRY_LATER },
  // the gate or the origin cannot serve
  routes_unavailable: { status: 503, next: 'Retry shortly.' },
  upstream_unreachable: { status: 502, next: 'Retry: nothing was charged.' },
  upstream_timeout: { status: 504, next: 'Retry: nothing was charged.' },
  ledger_unavailable: { status: 503, next: 'Retry shortly: nothing was charged.' },
  internal_error: { status: 500 },
} as const satisfies Record<string, RefusalSpec>

/** Why a request was refused. Stable: clients branch on these. */
export type ErrorCode = keyof typeof REFUSALS

const SPECS: Record<ErrorCode, RefusalSpec> = REFUSALS

/** Whether an MCP route answers this refusal in-band (HTTP 200, JSON-RPC `-32402`). */
export function inBand(code: ErrorCode): boolean {
  return SPECS[code].inBand === true
}

/** What a caller refused with `code` can do next, if anything. */
export function nextStep(code: ErrorCode): string | undefined {
  return SPECS[code].next
}

/** The HTTP status a code is answered with on plain HTTP routes. */
export function statusOf(code: ErrorCode): number {
  return SPECS[code].status
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
    options: {
      details?: Record<string, unknown>
      headers?: Record<string, string>
      cause?: unknown
      keyId?: string
    } = {}
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
  const next = nextStep(error.code)
  const body = {
    error: {
      code: error.code,
      message: error.message,
      ...(next ? { next } : {}),
      ...error.details,
    },
  }
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...error.headers },
  })
}
