/**
 * @module sidecar/check-mcp
 * The payment check for an MCP route: the JSON-RPC body is priced message by
 * message with the gate's own parser and price book, and refusals are the
 * gate's own JSON-RPC answers (`-32402` in-band). GET and DELETE are free, as in
 * the gate. A POST the proxy sent without its body cannot be priced, so it is
 * refused (fail closed): a tools/call must never pass unpriced.
 *
 * What a sidecar cannot do that the gate does: read the answer. Credits are
 * charged, and x402 settled, on the proxy's word (upstream status), not per
 * successful JSON-RPC result; `tools/list` is not annotated with prices; an x402
 * receipt is the PAYMENT-RESPONSE header of a check that settles at once, never
 * the result's `_meta`.
 */
import { INTERNAL_ERROR, parseMcpBody } from '../mcp'
import type { McpPriceBook } from '../pricing'
import { GateError, statusOf } from '../errors'
import {
  batchNotPayable,
  chooseRail,
  mcpErrorResponse,
  mcpGateErrorResponse,
  mcpHoldRequest,
  mcpJson,
  mcpResource,
  metaPayment,
  priceBody,
  unpaid,
  x402McpAnswer,
  type RouteContext,
} from '../gate'
import { V1_PAYMENT_HEADER } from '../x402'
import { allow, deny } from './answers'
import type { CheckBody } from './check'
import { payWithCredits, payWithX402, type CheckEnv } from './payments'

export async function checkMcpRoute(
  check: CheckEnv,
  context: RouteContext,
  book: McpPriceBook,
  body: CheckBody
): Promise<Response> {
  const { request, route, forwardPath } = context
  if (request.method !== 'POST') return allow({})
  const contentType = (request.headers.get('content-type') ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase()
  if (contentType !== 'application/json') {
    return deny(
      mcpErrorResponse(
        415,
        null,
        -32000,
        'Unsupported Media Type: Content-Type must be application/json',
        'unsupported_media_type'
      )
    )
  }
  if (body.kind === 'too-large') {
    return deny(
      mcpErrorResponse(
        413,
        null,
        -32000,
        `Payload Too Large: the limit is ${route.maxBodyBytes} bytes`,
        'body_too_large'
      )
    )
  }
  if (body.kind === 'none') {
    const message =
      'This MCP call cannot be priced: the proxy did not send its body to the payment check. Nothing was charged.'
    return deny(
      mcpErrorResponse(
        statusOf('sidecar_body_missing'),
        null,
        INTERNAL_ERROR,
        message,
        'sidecar_body_missing'
      )
    )
  }
  const text = new TextDecoder().decode(body.bytes)
  const parsed = parseMcpBody(text)
  if (!parsed.ok)
    return deny(mcpErrorResponse(400, null, parsed.code, parsed.message, 'invalid_request'))

  const priced = priceBody(book, parsed.messages)
  if (priced.total === 0) return allow({})
  const single = parsed.batch ? undefined : parsed.messages[0]
  context.usage.priced(
    priced.total,
    single?.kind === 'request' ? single.method : 'batch',
    single?.kind === 'request' ? (single.tool ?? null) : null
  )
  const inMeta = single
    ? metaPayment(single)
    : {
        present: parsed.messages.some((message) => metaPayment(message).present),
        decoded: undefined,
      }
  const rail = chooseRail(request.headers, route.rails, inMeta)
  const x402 = route.rails.x402
  if (x402 && rail.kind !== 'credits') {
    // One x402 payment pays one call: a batch is paid with credits (its refusal says so).
    if (single?.kind === 'request') {
      const resource = mcpResource(context, single)
      const paid =
        rail.kind === 'none'
          ? {
              ok: false as const,
              refusal: unpaid(
                x402,
                priced.total,
                resource,
                request.headers.has(V1_PAYMENT_HEADER),
                'Payment required'
              ),
            }
          : await payWithX402(
              check,
              x402,
              priced.total,
              resource,
              rail.payment,
              context.usage,
              route.timeoutMs
            )
      if (paid.ok) return allow(paid.headers)
      const { reason, required } = paid.refusal
      return deny(
        context.usage.x402DeniedWith(
          reason,
          mcpJson(200, x402McpAnswer(single, required, reason, route.rails.credits))
        )
      )
    }
    // A batch on a route that takes x402 only cannot be paid at all: never fall through to credits.
    if (rail.kind === 'x402' || !route.rails.credits)
      return deny(batchNotPayable(route.rails.credits))
  }
  try {
    const holdRequest = mcpHoldRequest(
      route,
      priced,
      request.method,
      `${forwardPath}${context.url.search}`,
      body.bytes
    )
    return allow(
      await payWithCredits(check, context.ledger, request.headers, holdRequest, context.usage)
    )
  } catch (error) {
    if (error instanceof GateError)
      return deny(
        context.usage.deniedWith(error, mcpGateErrorResponse(error, parsed, priced.prices))
      )
    throw error
  }
}
