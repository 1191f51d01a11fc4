/**
 * @module sidecar/check
 * `/__pay/check`: "may this request through?" for a reverse proxy's
 * sub-request. The same route table, the same matching, the same prices and the
 * same payment code as the gate; only the forwarding is the proxy's. A path with
 * no route is refused (404), as the gate refuses it: the sidecar fails closed.
 */
import type { Context } from 'hono'
import type { AppEnv } from '../env'
import { presentedKey } from '../credits'
import { errorResponse, GateError } from '../errors'
import { CreditLedger } from '../credits'
import {
  chooseRail,
  findRoute,
  httpHoldRequest,
  httpRefusal,
  httpResource,
  unpaid,
  usageCall,
  usageWriter,
  type RouteContext,
  type RouteTables,
} from '../gate'
import { V1_PAYMENT_HEADER } from '../x402'
import { readBytesWithin } from '../request-body'
import type { UsageWriter } from '../usage'
import { allow, deny } from './answers'
import { sidecarSecret } from './auth'
import { requireCanonicalPath } from './canonical-path'
import { checkMcpRoute } from './check-mcp'
import { originalRequest } from './original-request'
import { payWithCredits, payWithX402, type CheckEnv } from './payments'

/** Set by the proxy's configuration when it cannot send a follow-up: charge at check time. */
export const SETTLE_HEADER = 'x-pay-settle'

/** Methods whose calls carry no body: an Idempotency-Key retry of one is identified by method and URI. */
const BODILESS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS'])

/** The body the proxy sent along, within the route's limit; null when it sent none. */
export type CheckBody =
  { kind: 'none' } | { kind: 'too-large' } | { kind: 'bytes'; bytes: Uint8Array }

async function checkBody(request: Request, limit: number): Promise<CheckBody> {
  const declared = request.headers.get('content-length')
  if (request.body === null || declared === '0') return { kind: 'none' }
  const bytes = await readBytesWithin(request, limit)
  if (bytes === null) return { kind: 'too-large' }
  return bytes.byteLength === 0 ? { kind: 'none' } : { kind: 'bytes', bytes }
}

function bodilessRequest(url: URL, method: string, headers: Headers): Request {
  try {
    return new Request(url, { method, headers })
  } catch {
    // CONNECT, TRACE and TRACK cannot be expressed (nor routed): refuse them.
    throw new GateError('method_not_allowed', `${method} is not served here.`)
  }
}

/**
 * Make the check handler.
 * @param tables the gate's route table loader (shared with the gate)
 */
export function checkHandler(tables: RouteTables) {
  // Never holds settlements back: the sidecar settles directly, for a definite answer.
  const ledger = new CreditLedger()
  const usage = usageWriter()
  return async function check(c: Context<AppEnv>): Promise<Response> {
    try {
      return await checkRequest(c, tables, ledger, usage)
    } catch (error) {
      if (error instanceof GateError) return deny(errorResponse(error))
      throw error
    }
  }
}

async function checkRequest(
  c: Context<AppEnv>,
  tables: RouteTables,
  ledger: CreditLedger,
  usage: (delayMs: number) => UsageWriter
): Promise<Response> {
  const checkUrl = new URL(c.req.url)
  const suffix = checkUrl.pathname.replace(/^\/__pay\/check/, '')
  const original = originalRequest(c.req.raw, checkUrl, suffix)
  const table = await tables(c.env)
  const match = findRoute(table, original.method, original.url.pathname)
  const { route, forwardPath } = match
  requireCanonicalPath(original.path, forwardPath)
  const check: CheckEnv = {
    env: c.env,
    secret: sidecarSecret(c.env) as string,
    settleNow: (c.req.header(SETTLE_HEADER) ?? '').trim().toLowerCase() === 'now',
    waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  }
  const context: RouteContext = {
    env: c.env,
    // The original request as far as pricing needs it: method, URL and headers (the body is read below).
    request: bodilessRequest(original.url, original.method, original.headers),
    url: original.url,
    route,
    forwardPath,
    waitUntil: check.waitUntil,
    ledger: ledger.client(c.env.CREDITS, 0, check.waitUntil),
    // Records the check's refusals; a sidecar's charges are in the key's ledger (not yet usage events).
    usage: usageCall(c, usage, route, { method: original.method, path: original.url.pathname }),
    // Sidecar mode takes keys and x402, not OAuth tokens (docs/oauth.md).
    caller: presentedKey(original.headers),
  }
  try {
    return await checkPriced(c, check, context, original, forwardPath)
  } catch (error) {
    if (error instanceof GateError) context.usage.thrown(error)
    throw error
  }
}

async function checkPriced(
  c: Context<AppEnv>,
  check: CheckEnv,
  context: RouteContext,
  original: ReturnType<typeof originalRequest>,
  forwardPath: string
): Promise<Response> {
  const { route } = context
  // The body is read only where it decides something: an MCP POST's price, an Idempotency-Key call's identity.
  const idempotent = original.headers.has('idempotency-key')
  const needsBody =
    route.pricing.kind === 'mcp'
      ? original.method === 'POST'
      : route.pricing.kind === 'fixed' && idempotent
  const body: CheckBody = needsBody
    ? await checkBody(c.req.raw, route.maxBodyBytes)
    : { kind: 'none' }
  if (route.pricing.kind === 'mcp') return checkMcpRoute(check, context, route.pricing.book, body)
  if (route.pricing.kind !== 'fixed') return allow({})

  const amount = route.pricing.micros
  const rail = chooseRail(original.headers, route.rails)
  const x402 = route.rails.x402
  if (x402 && rail.kind === 'none') {
    const refusal = unpaid(
      x402,
      amount,
      httpResource(context),
      original.headers.has(V1_PAYMENT_HEADER),
      'Payment required: pay with x402 (PAYMENT-SIGNATURE)'
    )
    return deny(httpRefusal(context, { rail: 'x402', refusal }))
  }
  if (x402 && rail.kind === 'x402') {
    const paid = await payWithX402(
      check,
      x402,
      amount,
      httpResource(context),
      rail.payment,
      context.usage,
      route.timeoutMs
    )
    return paid.ok
      ? allow(paid.headers)
      : deny(httpRefusal(context, { rail: 'x402', refusal: paid.refusal }))
  }
  if (body.kind === 'too-large' && idempotent) {
    throw new GateError(
      'body_too_large',
      `With an Idempotency-Key the body may be at most ${route.maxBodyBytes} bytes.`
    )
  }
  if (body.kind === 'none' && idempotent && !BODILESS.has(original.method)) {
    // Without the body a retry with another body would pass as a replay, unpaid: fail closed.
    throw new GateError(
      'sidecar_body_missing',
      'An Idempotency-Key call is identified by its body too, and the proxy did not send it to the payment check. Nothing was charged.'
    )
  }
  const bytes = body.kind === 'bytes' ? body.bytes : null
  const search = original.url.search
  const holdRequest = httpHoldRequest(
    route,
    amount,
    original.method,
    `${forwardPath}${search}`,
    bytes
  )
  return allow(
    await payWithCredits(check, context.ledger, original.headers, holdRequest, context.usage)
  )
}
