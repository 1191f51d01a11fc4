/**
 * @module stripe/webhook
 * `POST /stripe/webhook`: Stripe tells the gate a payment arrived.
 *
 * The signature is checked as Stripe's SDK checks it (stripe/signature):
 * HMAC-SHA256 of `${t}.${rawBody}` under the endpoint's secret, compared in
 * constant time against every `v1` in `Stripe-Signature`, and `t` no older than
 * 300 s (https://docs.stripe.com/webhooks#verify-events). Nothing is read from an
 * event before that passes.
 *
 * How the answer steers Stripe's retries (https://docs.stripe.com/webhooks#retries):
 * 2xx for everything decided, credited or deliberately ignored; 5xx when the
 * ledger could not be reached, so Stripe delivers again later — safe, as the
 * top-up is idempotent per payment (see stripe/events `Credit.reference`).
 */
import { emitOperatorEvent } from '../notify'
import type { Context } from 'hono'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { formatDollars } from '../money'
import type { StripeSettings } from '../pricing'
import { readBytesWithin } from '../request-body'
import { accountOfKeyId } from './accounts'
import { interpretEvent, type Credit, type Purchase } from './events'
import { issuePurchase } from './issue-purchase'
import { checkStripeSignature } from './signature'

/** Stripe's events are a few kB; anything this large is not one. */
const MAX_EVENT_BYTES = 512 * 1024

/** Seconds a signature's timestamp may be old: Stripe's default, written out. */
export const SIGNATURE_TOLERANCE_SECONDS = 300

/** Where the routes.json `stripe` block comes from (the gate's route-table cache). */
export type StripeSettingsSource = (env: AppEnv['Bindings']) => Promise<StripeSettings | undefined>

/** The webhook handler. */
export function webhookHandler(settingsOf: StripeSettingsSource) {
  return async function stripeWebhook(c: Context<AppEnv>): Promise<Response> {
    const secret = c.env.STRIPE_WEBHOOK_SECRET
    if (!secret) throw new GateError('not_found', 'Stripe top-ups are not enabled on this gate.')
    const signature = c.req.header('stripe-signature')
    if (!signature)
      throw new GateError('invalid_request', 'The Stripe-Signature header is missing.')
    const body = await readBytesWithin(c.req.raw, MAX_EVENT_BYTES)
    if (!body) throw new GateError('body_too_large', 'The event is larger than any Stripe event.')

    const invalid = () =>
      new GateError(
        'invalid_request',
        'The Stripe signature is not valid for this endpoint, or its timestamp is too old.'
      )
    // Which check failed (no signature for this secret, too old, unparsable header) is
    // not secret, but the caller may be anyone, so it gets one answer.
    const checked = await checkStripeSignature(
      body,
      signature,
      secret,
      SIGNATURE_TOLERANCE_SECONDS,
      Math.floor(Date.now() / 1000)
    )
    if (!checked.ok) throw invalid()
    let event: { id: string; type: string; data: { object: unknown } }
    try {
      event = JSON.parse(new TextDecoder().decode(body)) as typeof event
      if (typeof event !== 'object' || event === null) throw new TypeError('not an event')
    } catch {
      throw invalid() // signed, yet not JSON: as the SDK, one answer for an event that cannot be read
    }

    const settings = await settingsOf(c.env)
    // A signed event with no packages configured: say so with a 404, so Stripe
    // keeps retrying until the operator pushes the `stripe` block.
    if (!settings) throw new GateError('not_found', 'No "stripe" block in the route table.')
    const verdict = interpretEvent(event, settings)
    if (verdict.kind === 'ignore') {
      if (
        verdict.reason !== 'event_type_not_handled' &&
        verdict.reason !== 'not_paid' &&
        verdict.reason !== 'not_a_renewal'
      ) {
        // These are paid sessions or invoices (a changed package amount or price, a renamed package, a
        // session made elsewhere): money the operator received and must credit by hand, so it is said as loudly
        // as a ledger failure. Stripe is not asked to retry: the same event would be refused again.
        const paid = verdict.reason !== 'malformed_object' ? 'PAID BUT NOT CREDITED: ' : ''
        console.error(
          `pay-gate: ${paid}stripe event ${event.id} (${event.type}) not credited: ${verdict.reason}${verdict.detail ? ` (${verdict.detail})` : ''}`
        )
      }
      return c.json({ received: true, credited: false, reason: verdict.reason })
    }
    if (verdict.kind === 'issue') return issue(c, event.id, verdict.purchase)
    return credit(c, event.id, verdict.credit)
  }
}

/** A session paid without a key: its key, issued once (stripe/issue-purchase); the buyer's success page shows it. */
async function issue(c: Context<AppEnv>, eventId: string, purchase: Purchase): Promise<Response> {
  let outcome
  try {
    outcome = await issuePurchase(c.env, purchase)
  } catch (error) {
    console.error(
      `pay-gate: stripe event ${eventId}: key for ${purchase.sessionId} not issued yet (${(error as Error).message}); Stripe will retry`
    )
    throw new GateError(
      'ledger_unavailable',
      'The ledger could not be reached; deliver the event again.'
    )
  }
  if (outcome.kind === 'not_enabled') {
    // Paid, and this gate cannot issue the key: a 404 keeps Stripe retrying until STRIPE_CLAIMS is bound again.
    console.error(
      `pay-gate: PAID BUT NOT CREDITED (yet): stripe event ${eventId} for ${purchase.sessionId}: no STRIPE_CLAIMS binding`
    )
    throw new GateError(
      'not_found',
      'Buying without a key is not enabled on this gate (no STRIPE_CLAIMS binding).'
    )
  }
  if (outcome.kind === 'refused') {
    console.error(
      `pay-gate: PAID BUT NOT CREDITED: stripe event ${eventId} for ${purchase.sessionId}: ${outcome.reason}`
    )
    return c.json({ received: true, credited: false, reason: outcome.reason })
  }
  const credits = formatDollars(purchase.pkg.micros)
  if (outcome.duplicate)
    return c.json({ received: true, credited: true, duplicate: true, key: outcome.keyId, credits })
  const key = {
    id: outcome.keyId,
    name: outcome.view.name,
    credits: formatDollars(outcome.view.available),
  }
  emitOperatorEvent(
    c.env,
    'key.created',
    { key, amount: credits, source: 'stripe', reference: purchase.reference },
    (promise) => c.executionCtx.waitUntil(promise)
  )
  return c.json({ received: true, credited: true, key: outcome.keyId, credits })
}

async function credit(c: Context<AppEnv>, eventId: string, credit: Credit): Promise<Response> {
  let result
  try {
    const account = await accountOfKeyId(c.env, credit.keyId)
    if (!account) {
      console.error(
        `pay-gate: stripe event ${eventId} paid for unknown key ${credit.keyId}; not credited`
      )
      return c.json({ received: true, credited: false, reason: 'unknown_key' })
    }
    result = await account.topUp(credit.pkg.micros, credit.label, credit.reference)
  } catch (error) {
    console.error(
      `pay-gate: stripe event ${eventId}: ledger unreachable (${(error as Error).message}); Stripe will retry`
    )
    throw new GateError(
      'ledger_unavailable',
      'The ledger could not be reached; deliver the event again.'
    )
  }
  if (!result.ok) {
    console.error(
      `pay-gate: PAID BUT NOT CREDITED: stripe event ${eventId} for key ${credit.keyId}: ${result.reason}`
    )
    const reason = result.reason === 'invalid_api_key' ? 'unknown_key' : result.reason
    return c.json({ received: true, credited: false, reason })
  }
  // A redelivered event (or a second one for the same payment) credits nothing new, and is not announced again.
  if (result.duplicate)
    return c.json({
      received: true,
      credited: true,
      duplicate: true,
      key: credit.keyId,
      credits: formatDollars(credit.pkg.micros),
    })
  const data = {
    key: { id: credit.keyId, credits: formatDollars(result.view.available) },
    amount: formatDollars(credit.pkg.micros),
    source: 'stripe',
    reference: credit.reference,
  }
  emitOperatorEvent(c.env, 'key.topped_up', data, (promise) => c.executionCtx.waitUntil(promise))
  return c.json({
    received: true,
    credited: true,
    key: credit.keyId,
    credits: formatDollars(credit.pkg.micros),
  })
}
