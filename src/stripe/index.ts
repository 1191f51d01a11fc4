/**
 * @module stripe
 * Card top-ups: Stripe Checkout for the operator's credit packages, and the
 * signed webhook that credits a key once per payment. Uses the credits leaf's
 * `topUp` (idempotent per reference) and the key index; prices come from the
 * routes.json `stripe` block (pricing/stripe-config).
 */
export { stripeRoutes, type StripeOptions } from './routes'
export { HANDLED_EVENT_TYPES, interpretEvent, type EventVerdict, type IgnoreReason } from './events'
export { type StripeFetch } from './api'
export { CheckoutClaim, type CheckoutClaimNamespace } from './claim-object'
export {
  keylessCheckout,
  oneOffPackages,
  type ClaimOutcome,
  type KeylessCheckout,
  type KeylessStart,
  type StartedCheckout,
} from './keyless'
export { topUpCheckout, type TopUpCheckout, type TopUpStart } from './checkout'
export type { StripeSettingsSource } from './webhook'
