/**
 * @module x402
 * x402 v2 payments with the `exact` scheme on EVM (EIP-3009): wire types,
 * requirements rebuilt from our own table, local checks, the facilitator client,
 * and the per-payer lock that makes each authorization usable once.
 * Imports `money` and the `pricing` terms type only; never another leaf's code.
 */
export {
  PaymentPayloadSchema,
  decodeHeader,
  encodeHeader,
  type PaymentPayload,
  type PaymentRequired,
  type PaymentRequirements,
  type ResourceInfo,
  type SettlementResponse,
} from './wire'
export { buildRequirements, matchesRequirements, paymentRequired } from './requirements'
export { discoveryExtensions, MCP_TOOL_RESOURCE } from './bazaar'
export { reasonNext, reasonStatus, type RefusalReason, type X402Reason } from './reasons'
export { AUTHORIZATION_TYPES, checkLocally, type LocalCheck } from './local-check'
export {
  verifyPayment,
  settlePayment,
  type FacilitatorOptions,
  type VerifyOutcome,
  type SettleOutcome,
} from './facilitator'
export {
  PaymentLock,
  type PaymentRecord,
  type PaymentState,
  type AcquireResult,
  type ClaimResult,
} from './payment-lock-object'
export {
  acquireAuthorization,
  claimAuthorization,
  finishAuthorization,
  lockName,
  settledByFlight,
  unclaimAuthorization,
  type FinishRecord,
  type LockNamespace,
} from './lock'

/** HTTP headers of the x402 HTTP transport (transports-v2/http.md). */
export const PAYMENT_REQUIRED_HEADER = 'PAYMENT-REQUIRED'
export const PAYMENT_SIGNATURE_HEADER = 'PAYMENT-SIGNATURE'
export const PAYMENT_RESPONSE_HEADER = 'PAYMENT-RESPONSE'
/** x402 v1's payment header (transports-v1/http.md), which the gate does not take: it speaks v2 only. */
export const V1_PAYMENT_HEADER = 'X-PAYMENT'
/** `_meta` keys of the x402 MCP transport (transports-v2/mcp.md). */
export const MCP_PAYMENT_META = 'x402/payment'
export const MCP_PAYMENT_RESPONSE_META = 'x402/payment-response'
/** Where Cloudflare's agents SDK looks for PaymentRequired (protocols.md §A.7). */
export const MCP_PAYMENT_ERROR_META = 'x402/error'
