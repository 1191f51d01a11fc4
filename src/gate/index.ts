/**
 * @module gate
 * The only place that composes pricing, credits, mcp and proxy into the paid path.
 */
export { gateHandler } from './handler'
export { balanceHandler } from './balance'
export { buyCreditsHandler } from './buy-credits'
export { pricingHandler, wellKnownX402Handler } from './discovery'
export { routeTables, type RouteTables } from './route-table'
export { PAYMENT_REQUIRED_CODE } from './mcp-answers'

// What sidecar mode shares with the gate's own paid path: the same prices, holds,
// payments and refusals, for a proxy that forwards the call itself.
export { findRoute } from './handler'
export { HOLD_MARGIN_MS, holdHeaders, type HoldRequest } from './credits-payment'
export { httpHoldRequest, mcpHoldRequest } from './hold-requests'
export { type RouteContext } from './http-route'
export { httpRefusal, httpResource, x402RefusalResponse } from './http-x402'
export { batchNotPayable, mcpErrorResponse, mcpGateErrorResponse, mcpJson } from './mcp-answers'
export { priceBody } from './mcp-pricing'
export { mcpResource, metaPayment, x402McpAnswer } from './mcp-x402'
export { chooseRail } from './rails'
export { usageCall, usageSink, usageWriter } from './usage'
export {
  paidHeaders,
  requiredFor,
  serverTiming,
  X402Refusal,
  type X402Attempt,
} from './x402-payment'
export { finishClaimedX402 } from './x402-finish'
export { acceptCredits, type CreditsPayment } from './credits-rail'
export { acceptX402Payment, unpaid, type X402Payment } from './x402-rail'
export type { Payment, PaymentEnd, Refusal } from './payment'
export { issueSoldKey, settleSale } from './credit-sale'
