/**
 * pay-gate as a library: what a scaffolded gate imports. A gate's own worker
 * entry is then:
 *
 *   import { createGate, CreditAccount, KeyIndex, PaymentLock } from 'pay-gate'
 *   export default createGate()
 *   export { CreditAccount, KeyIndex, PaymentLock }
 */
export { createGate, type Gate, type GateOptions } from './app'
export { CreditAccount, KeyIndex } from './credits'
export { PaymentLock } from './x402'
/** Optional: bind it as WEBHOOK_OUTBOX (docs/admin-api.md "Operator webhooks") so webhook retries outlive the request. */
export { WebhookOutbox } from './notify'
/** Optional: bind it as STRIPE_CLAIMS (docs/stripe.md "Buying credits by card without a key") to sell keys by card. */
export { CheckoutClaim } from './stripe'
export type { Env } from './env'
export {
  validateRoutesFile,
  validateRoutesText,
  ROUTES_KV_KEY,
  type RoutesFile,
  type RoutesIssue,
  type RoutesValidation,
} from './pricing'
export { parseDollars, formatDollars } from './money'
export type { UsageEvent, UsageOutcome, UsageRail } from './usage'
