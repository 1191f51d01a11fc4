/**
 * The gate's Worker. All of its behaviour comes from the pay-gate library; what it
 * charges comes from routes.json, which `npm run routes:push` uploads to the ROUTES
 * KV namespace. The worker reads it from there, so changing a price needs no deploy.
 *
 * The Durable Object classes are exported because wrangler.toml binds them:
 * - CreditAccount (CREDITS): one ledger per API key;
 * - KeyIndex (KEY_INDEX): the list of keys, for the admin API;
 * - PaymentLock (X402_LOCKS): one per x402 payer, so a payment is used once;
 * - WebhookOutbox (WEBHOOK_OUTBOX, optional): retries operator webhooks;
 * - CheckoutClaim (STRIPE_CLAIMS, optional): one per card purchase made without a key.
 */
import {
  CheckoutClaim,
  createGate,
  CreditAccount,
  KeyIndex,
  PaymentLock,
  WebhookOutbox,
} from 'pay-gate'

export default createGate()
export { CheckoutClaim, CreditAccount, KeyIndex, PaymentLock, WebhookOutbox }
