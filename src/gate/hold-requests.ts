/**
 * @module gate/hold-requests
 * What a paid call holds on its key, for a plain HTTP route and for an MCP body:
 * the list price, the priced items a plan and the key's tool lists apply to, the
 * ledger label, the rate limits and the fingerprint behind Idempotency-Key. The
 * gate and the sidecar's check build their holds here, so the two cannot drift.
 */

/**
 * The longest ledger label, in characters (an admin note's limit): an MCP label
 * names the caller's methods and tools, which the caller may make as long as the body.
 */
export const MAX_LABEL_CHARS = 200
import type { CompiledRoute } from '../pricing'
import { capText } from '../text-cap'
import { fingerprintOf, type HoldRequest } from './credits-payment'
import { mcpLimits, routeLimits } from './limits'
import type { PricedBody } from './mcp-pricing'

/** A hold outlives its stream ticket by this, so an answer the ticket still admits always finds it held. */
export const RESUME_SLACK_MS = 60_000

/** The hold of a call to a fixed-price route. `pathAndQuery` and `body` identify it for Idempotency-Key. */
export function httpHoldRequest(
  route: CompiledRoute,
  amount: number,
  method: string,
  pathAndQuery: string,
  body: Uint8Array | null
): HoldRequest {
  return {
    amount,
    label: capText(`${method} ${route.path}`, MAX_LABEL_CHARS),
    limits: routeLimits(route),
    timeoutMs: route.timeoutMs,
    fingerprint: () => fingerprintOf(method, pathAndQuery, body),
    describe: { route: route.path },
  }
}

/**
 * The hold of an MCP body: each priced request is an item (a batch is held as its sum).
 * `target` is the forwarded path with its query (the origin gets both); the body is
 * encoded for the fingerprint only when an Idempotency-Key asks for one.
 */
export function mcpHoldRequest(
  route: CompiledRoute,
  priced: PricedBody,
  method: string,
  target: string,
  body: string | Uint8Array
): HoldRequest {
  return {
    amount: priced.total,
    items: priced.items.map(({ price, tool }) =>
      tool !== undefined ? { price, tool } : { price }
    ),
    label: capText(`${method} ${route.path} ${priced.label}`, MAX_LABEL_CHARS),
    limits: mcpLimits(route, priced.toolLimits),
    timeoutMs: route.timeoutMs,
    // A held call's answer may still come on a resumed stream (or as a task's result) until its ticket runs out.
    waitMs: priced.waitMs + RESUME_SLACK_MS,
    fingerprint: () =>
      fingerprintOf(
        method,
        target,
        typeof body === 'string' ? new TextEncoder().encode(body) : body
      ),
    describe: {},
  }
}
