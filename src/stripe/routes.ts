/**
 * @module stripe/routes
 * The /stripe sub-app: card top-ups through Stripe Checkout.
 * - `POST /stripe/checkout`: a key holder starts a Checkout Session for a package.
 * - `POST /stripe/webhook`: Stripe reports payments; paid ones credit the key, or issue one.
 * - `GET /stripe/buy`, `POST /stripe/buy`, `GET /stripe/claim`: buying by card without a
 *   key, whose key is shown once (stripe/buy-routes; needs the STRIPE_CLAIMS binding too).
 * Each answers 404 `not_found` while its secret (STRIPE_SECRET_KEY,
 * STRIPE_WEBHOOK_SECRET) is unset, as does either without a `stripe` block in routes.json.
 */
import { Hono } from 'hono'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { mountBuyRoutes } from './buy-routes'
import { checkoutHandler, topUpCheckout } from './checkout'
import { keylessCheckout } from './keyless'
import type { StripeFetch } from './api'
import { webhookHandler, type StripeSettingsSource } from './webhook'

export interface StripeOptions {
  /** How the gate reaches api.stripe.com (default: the global fetch). Tests stand in for Stripe's servers here. */
  fetch?: StripeFetch
}

/** The /stripe sub-app, reading its packages from `settingsOf`. */
export function stripeRoutes(
  settingsOf: StripeSettingsSource,
  options: StripeOptions = {}
): Hono<AppEnv> {
  const stripe = new Hono<AppEnv>()
  stripe.post('/webhook', webhookHandler(settingsOf))
  stripe.post('/checkout', checkoutHandler(topUpCheckout(settingsOf, options.fetch)))
  mountBuyRoutes(stripe, settingsOf, keylessCheckout(settingsOf, options.fetch))
  // The gate owns /stripe/*: nothing under it is ever forwarded, even to a "/*" route.
  stripe.on(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], ['/webhook', '/checkout'], () => {
    throw new GateError('method_not_allowed', 'Use POST.', { headers: { allow: 'POST' } })
  })
  stripe.all('*', () => {
    throw new GateError(
      'not_found',
      'No such Stripe endpoint: POST /stripe/checkout, POST /stripe/webhook, GET and POST /stripe/buy and GET /stripe/claim exist.'
    )
  })
  return stripe
}
