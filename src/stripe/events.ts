/**
 * @module stripe/events
 * What a verified Stripe event means for the gate: credit a key with a configured
 * package, issue a new key for a session paid without one, or nothing. Pure: no
 * I/O, no bindings.
 *
 * Only the fields read here are parsed, leniently (Stripe adds fields in every API
 * version), so events from an endpoint pinned to an older API version work too.
 * The credits always come from the operator's package, never from the payload's
 * amounts; the payload's amount and currency are only checked against the package.
 */
import * as z from 'zod'
import { KEY_ID_PATTERN } from '../credits'
import type { StripePackage, StripeSettings } from '../pricing'
import { CLAIM_PUBLIC_KEY_PATTERN } from './claim-seal'

/** The key a payment is for, as the gate writes it into Stripe metadata. */

const Metadata = z.record(z.string(), z.string()).nullish()

/** https://docs.stripe.com/api/checkout/sessions/object (the fields the gate reads). */
const CheckoutSession = z.object({
  id: z.string().startsWith('cs_'),
  object: z.literal('checkout.session'),
  mode: z.string(),
  payment_status: z.string(),
  amount_total: z.number().int().nullable(),
  currency: z.string().nullable(),
  metadata: Metadata,
})

/**
 * https://docs.stripe.com/api/invoices/object (the fields the gate reads). Since
 * API version 2025-03-31.basil the subscription's metadata snapshot is at
 * `parent.subscription_details.metadata`; before it, at `subscription_details.metadata`.
 */
const Invoice = z.object({
  id: z.string().startsWith('in_'),
  object: z.literal('invoice'),
  billing_reason: z.string().nullable(),
  total: z.number().int(),
  currency: z.string(),
  parent: z.object({ subscription_details: z.object({ metadata: Metadata }).nullish() }).nullish(),
  subscription_details: z.object({ metadata: Metadata }).nullish(),
})

/** What to credit for one event. */
export interface Credit {
  keyId: string
  pkg: StripePackage
  /**
   * The top-up's idempotency reference: the Checkout Session's or the invoice's
   * id, not the event's. A replayed event carries the same object, and so does a
   * second, distinct event for the same payment (`checkout.session.completed`
   * then `checkout.session.async_payment_succeeded`, or the same session's events
   * resent from the dashboard): either way, one payment credits once.
   */
  reference: string
  /** The ledger row's label. */
  label: string
}

/** A key to issue for a session paid without one (stripe/keyless): its package and the buyer's claim. */
export interface Purchase {
  sessionId: string
  pkg: StripePackage
  /** The public key of the buyer's claim (stripe/claim-seal), from the session's metadata. */
  claimKey: string
  /** As `Credit.reference`: the session's id, so its two possible events issue one key. */
  reference: string
  label: string
}

/** Why an event changes nothing. Answered 200: Stripe must not retry these. */
export type IgnoreReason =
  | 'event_type_not_handled'
  | 'not_paid'
  | 'not_a_renewal'
  | 'malformed_object'
  | 'no_key_in_metadata'
  | 'unknown_package'
  | 'no_subscription_package'
  | 'amount_mismatch'

export type EventVerdict =
  | { kind: 'credit'; credit: Credit }
  | { kind: 'issue'; purchase: Purchase }
  | { kind: 'ignore'; reason: IgnoreReason; detail?: string }

/** The event types the gate acts on; enable these on the Stripe webhook endpoint. */
export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'invoice.paid',
] as const

/** Decide what a verified event means. `settings` is the routes.json `stripe` block. */
export function interpretEvent(
  event: { type: string; data: { object: unknown } },
  settings: StripeSettings
): EventVerdict {
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      return checkoutVerdict(event.data.object, settings)
    case 'invoice.paid':
      return renewalVerdict(event.data.object, settings)
    default:
      return { kind: 'ignore', reason: 'event_type_not_handled' }
  }
}

function checkoutVerdict(object: unknown, settings: StripeSettings): EventVerdict {
  const parsed = CheckoutSession.safeParse(object)
  if (!parsed.success) return { kind: 'ignore', reason: 'malformed_object' }
  const session = parsed.data
  // `unpaid` on completion means a delayed method (bank debit): the money comes,
  // or not, with checkout.session.async_payment_succeeded. `no_payment_required`
  // (a 100% discount) brought no money and buys no credits.
  if (session.payment_status !== 'paid')
    return { kind: 'ignore', reason: 'not_paid', detail: session.payment_status }
  const keyId = session.metadata?.key_id
  // A session started without a key carries the buyer's claim instead (stripe/keyless).
  const claimKey = keyId === undefined ? session.metadata?.claim_key : undefined
  if (claimKey === undefined && (!keyId || !KEY_ID_PATTERN.test(keyId)))
    return { kind: 'ignore', reason: 'no_key_in_metadata' }
  if (claimKey !== undefined && !CLAIM_PUBLIC_KEY_PATTERN.test(claimKey))
    return { kind: 'ignore', reason: 'no_key_in_metadata' }
  const name = session.metadata?.package ?? ''
  const pkg = settings.packages.get(name)
  if (!pkg) return { kind: 'ignore', reason: 'unknown_package', detail: name }
  if (session.amount_total !== pkg.amount || session.currency !== pkg.currency) {
    return {
      kind: 'ignore',
      reason: 'amount_mismatch',
      detail: `${session.amount_total} ${session.currency}, package ${pkg.amount} ${pkg.currency}`,
    }
  }
  const reference = `stripe:${session.id}`
  const label = `stripe checkout ${session.id} (${pkg.name})`
  if (claimKey !== undefined)
    return { kind: 'issue', purchase: { sessionId: session.id, pkg, claimKey, reference, label } }
  return { kind: 'credit', credit: { keyId: keyId as string, pkg, reference, label } }
}

function renewalVerdict(object: unknown, settings: StripeSettings): EventVerdict {
  const parsed = Invoice.safeParse(object)
  if (!parsed.success) return { kind: 'ignore', reason: 'malformed_object' }
  const invoice = parsed.data
  // The first period is paid through Checkout and credited on its session; only
  // renewals are credited here, so that first payment is never credited twice.
  if (invoice.billing_reason !== 'subscription_cycle') {
    return { kind: 'ignore', reason: 'not_a_renewal', detail: invoice.billing_reason ?? 'none' }
  }
  const metadata =
    invoice.parent?.subscription_details?.metadata ?? invoice.subscription_details?.metadata
  const keyId = metadata?.key_id
  if (!keyId || !KEY_ID_PATTERN.test(keyId)) return { kind: 'ignore', reason: 'no_key_in_metadata' }
  const name = settings.subscriptionPackage
  const pkg = name === undefined ? undefined : settings.packages.get(name)
  if (!pkg) return { kind: 'ignore', reason: 'no_subscription_package' }
  if (invoice.total !== pkg.amount || invoice.currency !== pkg.currency) {
    return {
      kind: 'ignore',
      reason: 'amount_mismatch',
      detail: `${invoice.total} ${invoice.currency}, package ${pkg.amount} ${pkg.currency}`,
    }
  }
  return {
    kind: 'credit',
    credit: {
      keyId,
      pkg,
      reference: `stripe:${invoice.id}`,
      label: `stripe renewal ${invoice.id} (${pkg.name})`,
    },
  }
}
