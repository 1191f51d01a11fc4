/**
 * @module gate/http-route
 * Plain HTTP routes: free routes pass straight through; a priced route holds its
 * price on the caller's key, forwards, and charges only when the origin answered
 * below 400 and the body reached the caller in full. A 5xx, a 4xx, a network
 * error, a timeout, a body the origin broke off, or a caller who went away: released.
 */
import type { Caller } from '../credits'
import type { Env } from '../env'
import type { CompiledRoute } from '../pricing'
import { downstreamResponseHeaders, observeBody } from '../proxy'
import { holdCredits, holdHeaders, HoldSettlement } from './credits-payment'
import { GateError } from '../errors'
import { httpHoldRequest } from './hold-requests'
import { readBytesWithin } from '../request-body'
import type { SettlementQueue } from './settlement-queue'
import { paymentRequiredResponse, serveHttpWithX402 } from './http-x402'
import { chooseRail } from './rails'
import { callOrigin } from './upstream'
import type { UsageCall } from '../usage'

export interface RouteContext {
  env: Env
  request: Request
  /** The request URL, parsed once. */
  url: URL
  route: CompiledRoute
  forwardPath: string
  waitUntil: (promise: Promise<unknown>) => void
  /** Where finished credit calls queue their settlements (one per gate and isolate). */
  settlements: SettlementQueue
  /** Records this request's paid call as a usage event. */
  usage: UsageCall
  /** Who pays with credits: the key the headers present, or the OAuth token src/oauth validated. */
  caller: Caller
  /** On an OAuth route, the 401 challenge for a caller with no credential (src/oauth/guard). */
  challenge?: string
}

/** Pass a response through with hop-by-hop headers removed. */
export function passThrough(response: Response, extraHeaders: Record<string, string> = {}, body?: ReadableStream | null): Response {
  const headers = downstreamResponseHeaders(response.headers)
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value)
  return new Response(body === undefined ? response.body : body, { status: response.status, statusText: response.statusText, headers })
}

export async function serveHttpRoute(context: RouteContext): Promise<Response> {
  const { request, route } = context
  if (route.pricing.kind !== 'fixed') {
    return passThrough(await callOrigin(context))
  }
  const amount = route.pricing.micros
  const rail = chooseRail(request.headers, route.rails, undefined, context.caller)
  const x402 = route.rails.x402
  if (x402 && rail.kind === 'x402') return serveHttpWithX402(context, x402, amount, rail.payment)
  if (x402 && rail.kind === 'none') return paymentRequiredResponse(context, x402, amount)
  return serveHttpWithCredits(context, amount)
}

async function serveHttpWithCredits(context: RouteContext, amount: number): Promise<Response> {
  const { env, request, route, forwardPath } = context
  const search = context.url.search
  // With an Idempotency-Key the body is part of what identifies the call, so it is
  // read (within the route's limit) and forwarded from memory; otherwise it streams.
  let requestBody: Uint8Array | undefined
  if (request.headers.has('idempotency-key') && request.body !== null) {
    const read = await readBytesWithin(request, route.maxBodyBytes)
    if (read === null) {
      throw new GateError('body_too_large', `With an Idempotency-Key the body may be at most ${route.maxBodyBytes} bytes.`)
    }
    requestBody = read
  }
  const holdRequest = httpHoldRequest(route, amount, request.method, `${forwardPath}${search}`, requestBody ?? null)
  const hold = await holdCredits(env.CREDITS, request.headers, holdRequest, { queue: context.settlements, waitUntil: context.waitUntil }, context.caller)
  const settlement = context.usage.credits(hold, new HoldSettlement(env.CREDITS, hold, context.settlements, context.waitUntil))
  let response: Response
  try {
    response = await callOrigin(context, { body: requestBody, headers: { 'x-pay-verified': 'true', 'x-pay-rail': 'credits' } })
  } catch (error) {
    settlement.failed()
    throw error
  }
  if (response.status >= 400) {
    settlement.failed()
    return passThrough(response)
  }
  const headers = holdHeaders(hold)
  if (response.body === null) {
    settlement.served()
    return passThrough(response, headers)
  }
  const body = observeBody(response.body, {
    chunk: (bytes) => bytes,
    end: (how) => (how === 'complete' ? settlement.served() : settlement.failed()),
  })
  return passThrough(response, headers, body)
}
