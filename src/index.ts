/**
 * The deployable Worker: the gate as the default export, and the Durable Object
 * classes its bindings name. workerd accepts only handlers and classes here, so
 * the library API (types, validation, helpers) is exported from `lib.ts`.
 */
import { createGate } from './app'

export { CreditAccount, KeyIndex } from './credits'
export { PaymentLock } from './x402'
export { WebhookOutbox } from './notify'
export { CheckoutClaim } from './stripe'

export default createGate()
