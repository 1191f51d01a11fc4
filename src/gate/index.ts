/**
 * @module gate
 * The only place that composes pricing, credits, mcp and proxy into the paid path.
 */
export { gateHandler } from './handler'
export { balanceHandler } from './balance'
export { PAYMENT_REQUIRED_CODE } from './mcp-answers'
