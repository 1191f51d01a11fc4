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
