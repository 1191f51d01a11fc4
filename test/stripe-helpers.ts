/**
 * Stand-ins for Stripe in tests, speaking its real wire format: events in the
 * shape Stripe delivers them (https://docs.stripe.com/api/events/object), signed
 * the way Stripe signs them (HMAC-SHA256 of `${t}.${body}`, hex, in
 * `Stripe-Signature: t=…,v1=…`), and a fake api.stripe.com for the gate's injected
 * fetch that reads Stripe's form encoding and answers Stripe's Checkout Session JSON.
 */
import { env } from 'cloudflare:workers'
import { ROUTES_KV_KEY } from '../src/pricing'

export const STRIPE_BLOCK = {
  packages: {
    starter: { credits: '10', price: 'price_1QStarterTest00001', amount: 1000, currency: 'usd' },
    small: { credits: '2.5', amount: 500, currency: 'eur', name: 'Small top-up' },
    pro: { credits: '25', price: 'price_1QProMonthlyTest001', amount: 2000, currency: 'usd' },
  },
  subscriptionPackage: 'pro',
  successUrl: 'https://buyer.example/thanks?session={CHECKOUT_SESSION_ID}',
  cancelUrl: 'https://buyer.example/cancelled',
}

/** A route table with the `stripe` block (and one priced route, as every table has). */
export async function putStripeRoutes(
  stripe: unknown = STRIPE_BLOCK,
  routes: unknown[] = [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.01' }]
): Promise<void> {
  await env.ROUTES.put(
    ROUTES_KV_KEY,
    JSON.stringify({ version: 1, routes, ...(stripe ? { stripe } : {}) })
  )
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
/** An id the way Stripe writes them: a prefix and random alphanumerics. */
export function stripeId(prefix: string, length = 24): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length))
  return prefix + Array.from(bytes, (byte) => ALNUM[byte % ALNUM.length]).join('')
}

const now = () => Math.floor(Date.now() / 1000)

/** A Checkout Session as Stripe sends it in checkout.session.* events (API 2026-10-28). */
export function checkoutSession(fields: {
  keyId?: string
  package?: string
  amount?: number
  currency?: string
  paymentStatus?: 'paid' | 'unpaid' | 'no_payment_required'
  mode?: 'payment' | 'subscription'
  id?: string
  /** More metadata, as the gate wrote it (a keyless session's `claim_key`). */
  metadata?: Record<string, string>
}): Record<string, unknown> {
  const amount = fields.amount ?? 1000
  const metadata: Record<string, string> = { ...fields.metadata }
  if (fields.keyId) metadata.key_id = fields.keyId
  if (fields.package) metadata.package = fields.package
  return {
    id: fields.id ?? stripeId('cs_test_a1', 56),
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: amount,
    amount_total: amount,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: STRIPE_BLOCK.cancelUrl,
    client_reference_id: fields.keyId ?? null,
    client_secret: null,
    consent: null,
    consent_collection: null,
    created: now() - 120,
    currency: fields.currency ?? 'usd',
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer: null,
    customer_creation: 'if_required',
    customer_details: {
      address: {
        city: null,
        country: 'US',
        line1: null,
        line2: null,
        postal_code: '94103',
        state: null,
      },
      email: 'buyer@example.com',
      name: 'Jenny Rosen',
      phone: null,
      tax_exempt: 'none',
      tax_ids: [],
    },
    customer_email: null,
    expires_at: now() + 86_280,
    invoice: null,
    invoice_creation: {
      enabled: false,
      invoice_data: {
        account_tax_ids: null,
        custom_fields: null,
        description: null,
        footer: null,
        issuer: null,
        metadata: {},
        rendering_options: null,
      },
    },
    livemode: false,
    locale: null,
    metadata,
    mode: fields.mode ?? 'payment',
    payment_intent: stripeId('pi_3'),
    payment_link: null,
    payment_method_collection: 'if_required',
    payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    payment_method_types: ['card'],
    payment_status: fields.paymentStatus ?? 'paid',
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'complete',
    submit_type: null,
    subscription: null,
    success_url: STRIPE_BLOCK.successUrl,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    url: null,
  }
}

/**
 * A subscription invoice as Stripe sends it in invoice.paid. `shape: 'basil'` (API
 * 2025-03-31 and later) carries the subscription's metadata at
 * `parent.subscription_details.metadata`; `'legacy'` at `subscription_details.metadata`.
 */
export function subscriptionInvoice(fields: {
  keyId?: string
  billingReason?: string
  total?: number
  currency?: string
  shape?: 'basil' | 'legacy'
  id?: string
}): Record<string, unknown> {
  const total = fields.total ?? 2000
  const subscription = stripeId('sub_1')
  const metadata: Record<string, string> = fields.keyId
    ? { key_id: fields.keyId, package: 'pro' }
    : {}
  const start = now() - 60
  const common = {
    id: fields.id ?? stripeId('in_1'),
    object: 'invoice',
    account_country: 'US',
    account_name: 'Pay Gate Demo',
    amount_due: total,
    amount_overpaid: 0,
    amount_paid: total,
    amount_remaining: 0,
    attempt_count: 1,
    attempted: true,
    billing_reason: fields.billingReason ?? 'subscription_cycle',
    collection_method: 'charge_automatically',
    created: start,
    currency: fields.currency ?? 'usd',
    customer: stripeId('cus_', 14),
    customer_email: 'buyer@example.com',
    lines: {
      object: 'list',
      data: [
        {
          id: stripeId('il_1'),
          object: 'line_item',
          amount: total,
          currency: fields.currency ?? 'usd',
          description: '1 × Pro (at $20.00 / month)',
          quantity: 1,
        },
      ],
      has_more: false,
      total_count: 1,
      url: '/v1/invoices/in_x/lines',
    },
    livemode: false,
    metadata: {},
    number: 'PAYG-0002',
    period_end: start,
    period_start: start - 30 * 86_400,
    status: 'paid',
    status_transitions: {
      finalized_at: start,
      marked_uncollectible_at: null,
      paid_at: start + 5,
      voided_at: null,
    },
    subtotal: total,
    total,
  }
  if (fields.shape === 'legacy') {
    return { ...common, paid: true, subscription, subscription_details: { metadata } }
  }
  return {
    ...common,
    parent: {
      quote_details: null,
      subscription_details: { metadata, subscription },
      type: 'subscription_details',
    },
  }
}

/** An event envelope around `object`. */
export function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  id = stripeId('evt_1')
): Record<string, unknown> {
  return {
    id,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: now(),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  }
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** `Stripe-Signature` for `body`, computed by hand as Stripe's docs describe (not with the SDK). */
export async function stripeSignature(
  body: string,
  secret: string,
  timestamp = now()
): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign']
  )
  const mac = await crypto.subtle.sign(
    'HMAC',
    key,
    new TextEncoder().encode(`${timestamp}.${body}`)
  )
  return `t=${timestamp},v1=${hex(mac)}`
}

export interface RecordedStripeRequest {
  url: string
  method: string
  headers: Headers
  form: URLSearchParams
}

/** Prices the fake Stripe account knows. */
const PRICES: Record<string, { unit_amount: number; currency: string; recurring: boolean }> = {
  price_1QStarterTest00001: { unit_amount: 1000, currency: 'usd', recurring: false },
  price_1QProMonthlyTest001: { unit_amount: 2000, currency: 'usd', recurring: true },
}

function stripeError(status: number, error: Record<string, unknown>): Response {
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { 'content-type': 'application/json', 'request-id': stripeId('req_', 14) },
  })
}

/** The session's `metadata[…]` fields from Stripe's form encoding. */
function formMetadata(form: URLSearchParams): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (const [name, value] of form) {
    const match = /^metadata\[([^\]]+)\]$/.exec(name)
    if (match) metadata[match[1] as string] = value
  }
  return metadata
}

/**
 * A stand-in for api.stripe.com's `POST /v1/checkout/sessions`: records each
 * request and answers what Stripe answers — the new session's JSON, or Stripe's
 * error body for an unknown price.
 */
export function fakeStripe() {
  const requests: RecordedStripeRequest[] = []
  const sessions: Array<Record<string, unknown>> = []
  async function fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init)
    // Stripe's API takes application/x-www-form-urlencoded bodies.
    const form = new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer()))
    requests.push({ url: request.url, method: request.method, headers: request.headers, form })
    const url = new URL(request.url)
    if (request.method !== 'POST' || url.pathname !== '/v1/checkout/sessions') {
      return stripeError(404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${request.method}: ${url.pathname}).`,
      })
    }
    const priceId = form.get('line_items[0][price]')
    let amount: number
    let currency: string
    if (priceId) {
      const price = PRICES[priceId]
      if (!price) {
        return stripeError(400, {
          code: 'resource_missing',
          doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
          message: `No such price: '${priceId}'`,
          param: 'line_items[0][price]',
          request_log_url: 'https://dashboard.stripe.com/test/logs/req_x',
          type: 'invalid_request_error',
        })
      }
      amount = price.unit_amount
      currency = price.currency
    } else {
      amount = Number(form.get('line_items[0][price_data][unit_amount]'))
      currency = form.get('line_items[0][price_data][currency]') ?? ''
    }
    const id = stripeId('cs_test_a1', 56)
    const session = {
      ...checkoutSession({
        id,
        metadata: formMetadata(form),
        amount,
        currency,
        paymentStatus: 'unpaid',
        mode: form.get('mode') as 'payment',
      }),
      status: 'open',
      payment_intent: null,
      customer_details: null,
      client_reference_id: form.get('client_reference_id'),
      success_url: form.get('success_url'),
      cancel_url: form.get('cancel_url'),
      url: `https://checkout.stripe.com/c/pay/${id}#fidkdWxOYHwnPyd1blpxYHZxWjA0`,
    }
    sessions.push(session)
    return new Response(JSON.stringify(session), {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'request-id': stripeId('req_', 14),
        'stripe-version': '2026-10-28.endive',
      },
    })
  }
  return { fetch, requests, sessions }
}
