/**
 * @module stripe/client
 * The Stripe SDK client the gate talks to api.stripe.com with, one per secret key
 * and isolate, reaching Stripe through an injectable fetch (tests stand in for
 * Stripe's servers there).
 */
import Stripe from 'stripe'

/** How the gate reaches Stripe's API; tests put a stand-in for Stripe's servers here. */
export type StripeFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** One SDK client per secret key and isolate: building one sets up every resource. */
export function stripeClients(fetchFn: StripeFetch | undefined) {
  let cached: { secret: string; client: Stripe } | undefined
  return (secret: string): Stripe => {
    if (cached?.secret !== secret) {
      cached = {
        secret,
        client: new Stripe(secret, {
          httpClient: Stripe.createFetchHttpClient(fetchFn),
          // The SDK sends an Idempotency-Key with every POST, so one retry cannot make two sessions.
          maxNetworkRetries: 1,
          timeout: 15_000,
        }),
      }
    }
    return cached.client
  }
}

