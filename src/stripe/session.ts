/**
 * @module stripe/session
 * What every Checkout Session the gate opens has in common: a package's line
 * item (its Stripe price, or the amount and product name routes.json gives), and
 * opening the session, where a refusal by Stripe is logged by its type and code
 * (never a secret) and the caller only learns that Stripe said no.
 */
import { GateError } from '../errors'
import type { StripePackage } from '../pricing'
import { createCheckoutSession, type SessionCreateParams, type StripeFetch } from './api'

/** A package as the one line item of a session. */
export function packageLineItem(pkg: StripePackage): SessionCreateParams['line_items'][number] {
  if (pkg.price) return { price: pkg.price, quantity: 1 }
  return {
    price_data: {
      currency: pkg.currency,
      unit_amount: pkg.amount,
      product_data: { name: pkg.productName },
    },
    quantity: 1,
  }
}

/**
 * Open a Checkout Session: its payment page's URL and its id.
 * @param what what the session is for, in the log line when Stripe refuses it
 * @throws GateError upstream_unreachable when Stripe said no or gave no payment page
 */
export async function openSession(
  secret: string,
  params: SessionCreateParams,
  fetchFn: StripeFetch | undefined,
  what: string
): Promise<{ url: string; id: string }> {
  let session
  try {
    session = await createCheckoutSession(secret, params, fetchFn)
  } catch (error) {
    const { type, code, statusCode } = error as {
      type?: string
      code?: string
      statusCode?: number
    }
    console.error(
      `pay-gate: stripe checkout ${what} failed: ${type ?? 'error'} ${code ?? ''} ${statusCode ?? ''}`
    )
    throw new GateError(
      'upstream_unreachable',
      'Stripe did not create the checkout session; try again later.'
    )
  }
  if (!session.url)
    throw new GateError('upstream_unreachable', 'Stripe created a session without a payment page.')
  return { url: session.url, id: session.id }
}
