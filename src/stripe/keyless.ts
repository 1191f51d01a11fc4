/**
 * @module stripe/keyless
 * Buying credits by card without a key: `keylessCheckout(...)` gives the two
 * steps any page can build on (the gate's own /stripe/buy, or a consent page
 * that creates an account):
 *
 * 1. `start(env, { package, returnUrl })` makes a claim (stripe/claim-seal) and a
 *    Checkout Session whose metadata carries the package and the claim's public
 *    key; it answers Stripe's payment page `url`, the `sessionId`, and the
 *    `claimSecret`, which the caller keeps in the buyer's browser only (an HttpOnly
 *    cookie: see stripe/buy-routes) and never logs. Stripe sends the buyer back to
 *    `returnUrl` with `session_id=<id>` added.
 * 2. Stripe's webhook issues the key once (stripe/issue-purchase). Then
 *    `claim(env, sessionId, claimSecret)` answers the key, exactly once: to the
 *    first caller holding the secret. The session id alone opens nothing.
 *
 * Only one-off packages: a subscription's renewals credit the key named in its
 * metadata, and a keyless session names none.
 */
import { hashApiKey, holderView } from '../credits'
import type { Env } from '../env'
import { GateError } from '../errors'
import type { StripePackage, StripeSettings } from '../pricing'
import { claimStub } from './claim-object'
import { newClaim, openWith } from './claim-seal'
import type { SessionCreateParams, StripeFetch } from './api'
import { openSession, packageLineItem } from './session'
import type { StripeSettingsSource } from './webhook'

export interface KeylessStart {
  /** The operator's package name (routes.json `stripe.packages`). */
  package: string
  /** Where Stripe sends the buyer after paying (absolute URL); `session_id={CHECKOUT_SESSION_ID}` is added. */
  returnUrl: string
  /** Where Stripe sends a buyer who gives up (default: the package block's cancelUrl, else returnUrl). */
  cancelUrl?: string
}

export interface StartedCheckout {
  /** Stripe's payment page: send the buyer there. */
  url: string
  sessionId: string
  /** Keep it in the buyer's browser only; it is what shows the key once. */
  claimSecret: string
}

export type ClaimOutcome =
  /** The key, shown now and never again. `credits`: micro-dollars available. */
  | { kind: 'revealed'; key: string; keyId: string; credits: number | null }
  /** Stripe has not confirmed the payment yet (or the session was never paid): ask again shortly. */
  | { kind: 'pending' }
  | { kind: 'already_revealed'; keyId: string }
  /** The secret does not open this session's key (another browser, or no such session). */
  | { kind: 'not_yours' }

export interface KeylessCheckout {
  /** @throws GateError: not_found (not enabled), invalid_request (no such package, a subscription), upstream_unreachable (Stripe said no) */
  start(env: Env, request: KeylessStart): Promise<StartedCheckout>
  /** @throws GateError ledger_unavailable when the claim cannot be reached */
  claim(env: Env, sessionId: string, claimSecret: string): Promise<ClaimOutcome>
}

/** What a Checkout Session id looks like. */
export const SESSION_ID_PATTERN = /^cs_(test|live)_[A-Za-z0-9]{10,200}$/

/** The one-off packages (all but the subscription package): what a buyer without a key, or the portal, offers. */
export function oneOffPackages(settings: StripeSettings): StripePackage[] {
  return [...settings.packages.values()].filter((pkg) => pkg.name !== settings.subscriptionPackage)
}

/** Stripe puts the session's id wherever the URL says {CHECKOUT_SESSION_ID} (https://docs.stripe.com/payments/checkout/custom-success-page). */
function withSessionId(returnUrl: string): string {
  if (returnUrl.includes('{CHECKOUT_SESSION_ID}')) return returnUrl
  return `${returnUrl}${returnUrl.includes('?') ? '&' : '?'}session_id={CHECKOUT_SESSION_ID}`
}

function absoluteUrl(text: string, what: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new GateError('invalid_request', `The ${what} must be an absolute URL.`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new GateError('invalid_request', `The ${what} must be http or https.`)
  return text
}

/** The Checkout Session's parameters (https://docs.stripe.com/api/checkout/sessions/create), without a key. */
export function keylessSessionParams(
  pkg: StripePackage,
  claimKey: string,
  successUrl: string,
  cancelUrl: string
): SessionCreateParams {
  const lineItem = packageLineItem(pkg)
  return {
    mode: 'payment',
    line_items: [lineItem],
    metadata: { package: pkg.name, claim_key: claimKey },
    payment_intent_data: { metadata: { package: pkg.name } },
    success_url: successUrl,
    cancel_url: cancelUrl,
  }
}

/** The two steps of buying without a key, reading packages from `settingsOf` and reaching Stripe with `fetchFn`. */
export function keylessCheckout(
  settingsOf: StripeSettingsSource,
  fetchFn?: StripeFetch
): KeylessCheckout {
  return {
    async start(env, request) {
      const secret = env.STRIPE_SECRET_KEY
      const settings = await settingsOf(env)
      if (!secret || !settings || !env.STRIPE_CLAIMS)
        throw new GateError(
          'not_found',
          'Buying credits by card without a key is not enabled on this gate.'
        )
      const pkg = oneOffPackages(settings).find((candidate) => candidate.name === request.package)
      if (!pkg) {
        const packages = oneOffPackages(settings).map((candidate) => candidate.name)
        throw new GateError('invalid_request', `No one-off package named "${request.package}".`, {
          details: { packages },
        })
      }
      const successUrl = withSessionId(absoluteUrl(request.returnUrl, 'return URL'))
      const cancelUrl = absoluteUrl(
        request.cancelUrl ?? settings.cancelUrl ?? request.returnUrl,
        'cancel URL'
      )
      const claim = await newClaim()
      const session = await openSession(
        secret,
        keylessSessionParams(pkg, claim.publicKey, successUrl, cancelUrl),
        fetchFn,
        `without a key (${pkg.name})`
      )
      return { url: session.url, sessionId: session.id, claimSecret: claim.secret }
    },

    async claim(env, sessionId, claimSecret) {
      if (!env.STRIPE_CLAIMS || !SESSION_ID_PATTERN.test(sessionId)) return { kind: 'not_yours' }
      const stub = claimStub(env.STRIPE_CLAIMS, sessionId)
      let found
      try {
        found = await stub.sealed()
      } catch {
        throw new GateError(
          'ledger_unavailable',
          'The purchase cannot be looked up right now; reload this page in a moment.'
        )
      }
      if (!found || found.state === 'issuing') return { kind: 'pending' }
      if (found.state === 'revealed' || found.sealed === null)
        return { kind: 'already_revealed', keyId: found.keyId }
      const key = await openWith(claimSecret, found.sealed, sessionId)
      if (key === null) return { kind: 'not_yours' }
      let first
      try {
        first = await stub.reveal()
      } catch {
        throw new GateError(
          'ledger_unavailable',
          'The purchase cannot be looked up right now; reload this page in a moment.'
        )
      }
      if (!first) return { kind: 'already_revealed', keyId: found.keyId }
      const view = await holderView(env.CREDITS, await hashApiKey(key)).catch(() => null)
      return {
        kind: 'revealed',
        key,
        keyId: found.keyId,
        credits: view ? view.account.available : null,
      }
    },
  }
}
