/**
 * @module stripe/checkout
 * `POST /stripe/checkout {"package":"starter"}`: a key holder starts a Stripe
 * Checkout Session for one of the operator's credit packages and is answered
 * `{ url, id }`; the buyer pays on Stripe's page at `url`, and the webhook credits
 * the key. The session's metadata names the key (by its admin id, never the key
 * itself) and the package; the price is the operator's, never the caller's.
 */
import type { Context } from 'hono'
import * as z from 'zod'
import { hashApiKey, holderView, looksLikeApiKey, presentedKey } from '../credits'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import type { StripePackage, StripeSettings } from '../pricing'
import type { SessionCreateParams, StripeFetch } from './api'
import { openSession, packageLineItem } from './session'
import type { StripeSettingsSource } from './webhook'

const Body = z.strictObject({ package: z.string().min(1).max(64) })

async function readBody(c: Context<AppEnv>): Promise<z.infer<typeof Body>> {
  const parsed = Body.safeParse(await c.req.json().catch(() => undefined))
  if (!parsed.success)
    throw new GateError(
      'invalid_request',
      'Send the package to buy as JSON: {"package":"starter"}.'
    )
  return parsed.data
}

/** The key holder's admin key id; refuses keys that cannot be topped up. */
async function buyerKeyId(c: Context<AppEnv>): Promise<string> {
  const presented = presentedKey(c.req.raw.headers)
  if (presented.kind === 'none')
    throw new GateError(
      'missing_api_key',
      'Send the API key to top up (Authorization: Bearer or X-API-Key).'
    )
  if (!looksLikeApiKey(presented.key))
    throw new GateError('invalid_api_key', 'The API key is not valid.')
  let view
  try {
    // As the key holder sees it: only the key that opens the account now (after a rotation, the new one).
    view = await holderView(c.env.CREDITS, await hashApiKey(presented.key))
  } catch {
    throw new GateError('ledger_unavailable', 'The key cannot be checked right now.')
  }
  if (!view) throw new GateError('invalid_api_key', 'The API key is not valid.')
  const { status, id } = view.account
  if (status === 'revoked') throw new GateError('key_revoked', 'The API key has been revoked.')
  if (status === 'expired') throw new GateError('key_expired', 'The API key has expired.')
  return id
}

/** The Checkout Session's parameters (https://docs.stripe.com/api/checkout/sessions/create). */
export function sessionParams(
  settings: StripeSettings,
  pkg: StripePackage,
  keyId: string
): SessionCreateParams {
  const metadata = { key_id: keyId, package: pkg.name }
  const subscription = pkg.name === settings.subscriptionPackage
  const lineItem = packageLineItem(pkg)
  return {
    mode: subscription ? 'subscription' : 'payment',
    line_items: [lineItem],
    client_reference_id: keyId,
    metadata,
    // Copied onto the subscription, so each renewal invoice names the key too
    // (invoice.parent.subscription_details.metadata).
    ...(subscription ? { subscription_data: { metadata } } : { payment_intent_data: { metadata } }),
    success_url: settings.successUrl,
    ...(settings.cancelUrl ? { cancel_url: settings.cancelUrl } : {}),
  }
}

export interface TopUpStart {
  /** The admin id of the key to top up (checked by the caller: it exists, and its holder is asking). */
  keyId: string
  package: string
  /** Where Stripe sends the buyer after paying (default: the stripe block's successUrl). */
  returnUrl?: string
  cancelUrl?: string
}

/** Starting a card top-up of a key, for any caller that has checked the key (this endpoint, the portal). */
export interface TopUpCheckout {
  /** @throws GateError: not_found (not enabled), invalid_request (no such package), upstream_unreachable (Stripe said no) */
  start(env: AppEnv['Bindings'], request: TopUpStart): Promise<{ url: string; id: string }>
}

export function topUpCheckout(
  settingsOf: StripeSettingsSource,
  fetchFn?: StripeFetch
): TopUpCheckout {
  return {
    async start(env, request) {
      const secret = env.STRIPE_SECRET_KEY
      const settings = await settingsOf(env)
      if (!secret || !settings)
        throw new GateError('not_found', 'Stripe top-ups are not enabled on this gate.')
      const pkg = settings.packages.get(request.package)
      if (!pkg) {
        throw new GateError('invalid_request', `No package named "${request.package}".`, {
          details: { packages: [...settings.packages.keys()] },
        })
      }
      const urls = {
        ...settings,
        successUrl: request.returnUrl ?? settings.successUrl,
        cancelUrl: request.cancelUrl ?? settings.cancelUrl,
      }
      return openSession(
        secret,
        sessionParams(urls, pkg, request.keyId),
        fetchFn,
        `for ${request.keyId} (${pkg.name})`
      )
    },
  }
}

/** The checkout handler. */
export function checkoutHandler(topUps: TopUpCheckout) {
  return async function stripeCheckout(c: Context<AppEnv>): Promise<Response> {
    if (!c.env.STRIPE_SECRET_KEY)
      throw new GateError('not_found', 'Stripe top-ups are not enabled on this gate.')
    const keyId = await buyerKeyId(c)
    const { package: name } = await readBody(c)
    const session = await topUps.start(c.env, { keyId, package: name })
    return c.json(session, 200, { 'cache-control': 'no-store' })
  }
}
