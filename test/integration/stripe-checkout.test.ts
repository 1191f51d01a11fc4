import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { createGate } from '../../src/app'
import { admin, createKey, gate, keyState } from '../helpers'
import {
  fakeStripe,
  putStripeRoutes,
  STRIPE_BLOCK,
  stripeEvent,
  stripeSignature,
} from '../stripe-helpers'

beforeEach(async () => {
  await putStripeRoutes()
})

/** A gate whose calls to api.stripe.com go to `stripe` instead. */
function gateWithStripe(
  stripe: ReturnType<typeof fakeStripe>,
  bindings: Record<string, unknown> = {}
) {
  const app = createGate({ stripe: { fetch: stripe.fetch } })
  return async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext()
    const response = await app.fetch(
      new Request(`https://gate.test${path}`, init),
      { ...env, ...bindings },
      ctx
    )
    const body = (await response.json()) as Record<string, unknown> & {
      error?: { code: string; message: string; packages?: string[] }
    }
    await waitOnExecutionContext(ctx)
    return { status: response.status, body }
  }
}

const buy = (
  key: string | undefined,
  body: unknown,
  header: 'authorization' | 'x-api-key' = 'authorization'
): RequestInit => {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (key) headers[header] = header === 'authorization' ? `Bearer ${key}` : key
  return { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) }
}

describe('POST /stripe/checkout', () => {
  it('creates a Checkout Session with Stripe’s real request shape and answers its url and id', async () => {
    const stripe = fakeStripe()
    const call = gateWithStripe(stripe)
    const key = await createKey('0')
    const answer = await call('/stripe/checkout', buy(key.key, { package: 'starter' }))
    expect(answer.status).toBe(200)
    const session = stripe.sessions[0] as { id: string; url: string }
    expect(answer.body).toEqual({ url: session.url, id: session.id })
    expect(answer.body.url).toMatch(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/)

    expect(stripe.requests).toHaveLength(1)
    const request = stripe.requests[0]!
    expect(request.method).toBe('POST')
    expect(request.url).toBe('https://api.stripe.com/v1/checkout/sessions')
    expect(request.headers.get('authorization')).toBe(`Bearer ${env.STRIPE_SECRET_KEY}`)
    expect(request.headers.get('content-type')).toBe('application/x-www-form-urlencoded')
    expect(request.headers.get('stripe-version')).toBe('2026-10-28.endive')
    expect(request.headers.get('idempotency-key')).toBeTruthy()
    expect(Object.fromEntries(request.form)).toEqual({
      mode: 'payment',
      'line_items[0][price]': 'price_1QStarterTest00001',
      'line_items[0][quantity]': '1',
      client_reference_id: key.id,
      'metadata[key_id]': key.id,
      'metadata[package]': 'starter',
      'payment_intent_data[metadata][key_id]': key.id,
      'payment_intent_data[metadata][package]': 'starter',
      success_url: STRIPE_BLOCK.successUrl,
      cancel_url: STRIPE_BLOCK.cancelUrl,
    })
    // The key itself never goes to Stripe, only its admin id.
    expect(request.form.toString()).not.toContain(key.key)
    // Starting a session credits nothing.
    expect((await keyState(key.id)).credits).toBe('0')
  })

  it('a package without a Stripe Price is sent as price_data, with X-API-Key too', async () => {
    const stripe = fakeStripe()
    const key = await createKey('0')
    const answer = await gateWithStripe(stripe)(
      '/stripe/checkout',
      buy(key.key, { package: 'small' }, 'x-api-key')
    )
    expect(answer.status).toBe(200)
    const form = stripe.requests[0]!.form
    expect(form.get('line_items[0][price_data][currency]')).toBe('eur')
    expect(form.get('line_items[0][price_data][unit_amount]')).toBe('500')
    expect(form.get('line_items[0][price_data][product_data][name]')).toBe('Small top-up')
    expect(form.get('line_items[0][price]')).toBeNull()
  })

  it('the subscription package starts a subscription whose metadata names the key, for its renewal invoices', async () => {
    const stripe = fakeStripe()
    const key = await createKey('0')
    expect(
      (await gateWithStripe(stripe)('/stripe/checkout', buy(key.key, { package: 'pro' }))).status
    ).toBe(200)
    const form = stripe.requests[0]!.form
    expect(form.get('mode')).toBe('subscription')
    expect(form.get('line_items[0][price]')).toBe('price_1QProMonthlyTest001')
    expect(form.get('subscription_data[metadata][key_id]')).toBe(key.id)
    expect(form.get('subscription_data[metadata][package]')).toBe('pro')
    expect(form.get('payment_intent_data[metadata][key_id]')).toBeNull()
  })

  it('end to end: checkout, then Stripe’s webhook for that session credits the key', async () => {
    const stripe = fakeStripe()
    const key = await createKey('1')
    const started = await gateWithStripe(stripe)(
      '/stripe/checkout',
      buy(key.key, { package: 'starter' })
    )
    // Stripe completes the session it created, with the metadata the gate gave it.
    const completed: Record<string, unknown> = {
      ...stripe.sessions[0],
      status: 'complete',
      payment_status: 'paid',
      url: null,
    }
    expect(completed.id).toBe(started.body.id)
    const body = JSON.stringify(stripeEvent('checkout.session.completed', completed))
    const response = await gate('/stripe/webhook', {
      method: 'POST',
      headers: { 'stripe-signature': await stripeSignature(body, env.STRIPE_WEBHOOK_SECRET) },
      body,
    })
    expect(response.status).toBe(200)
    const state = await keyState(key.id)
    expect(state.credits).toBe('11')
    expect(state.ledger[0]).toMatchObject({
      kind: 'topup',
      amount: '10',
      label: `stripe checkout ${started.body.id} (starter)`,
    })
  })

  it('refuses without a usable key, before calling Stripe', async () => {
    const stripe = fakeStripe()
    const call = gateWithStripe(stripe)
    const revoked = await createKey('0')
    expect((await admin(`/keys/${revoked.id}/revoke`, { method: 'POST' })).status).toBe(200)
    const cases: Array<[string | undefined, number, string]> = [
      [undefined, 401, 'missing_api_key'],
      ['pg_short', 401, 'invalid_api_key'],
      [`pg_${'A'.repeat(43)}`, 401, 'invalid_api_key'],
      [revoked.key, 403, 'key_revoked'],
    ]
    for (const [key, status, code] of cases) {
      const answer = await call('/stripe/checkout', buy(key, { package: 'starter' }))
      expect([answer.status, answer.body.error?.code]).toEqual([status, code])
    }
    expect(stripe.requests).toHaveLength(0)
  })

  it('after a rotation, the new key can buy and the retired one cannot', async () => {
    const stripe = fakeStripe()
    const call = gateWithStripe(stripe)
    const { id, key: retired } = await createKey('0')
    const rotated = (await (await admin(`/keys/${id}/rotate`, { method: 'POST' })).json()) as {
      key: string
    }
    expect(await call('/stripe/checkout', buy(retired, { package: 'starter' }))).toMatchObject({
      status: 401,
      body: { error: { code: 'invalid_api_key' } },
    })
    expect(stripe.requests).toHaveLength(0)
    expect((await call('/stripe/checkout', buy(rotated.key, { package: 'starter' }))).status).toBe(
      200
    )
    expect(stripe.requests).toHaveLength(1)
    expect(stripe.requests[0]?.form.get('metadata[key_id]')).toBe(id)
  })

  it('refuses an unknown package or a bad body with 400, before calling Stripe', async () => {
    const stripe = fakeStripe()
    const call = gateWithStripe(stripe)
    const key = await createKey('0')
    const unknown = await call('/stripe/checkout', buy(key.key, { package: 'platinum' }))
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toMatchObject({
      code: 'invalid_request',
      packages: ['starter', 'small', 'pro'],
    })
    for (const body of [
      'not json',
      {},
      { package: 7 },
      { package: 'starter', credits: '1000' },
      { package: 'starter', amount: 1 },
    ]) {
      expect((await call('/stripe/checkout', buy(key.key, body))).body.error?.code).toBe(
        'invalid_request'
      )
    }
    expect(stripe.requests).toHaveLength(0)
  })

  it('when Stripe refuses (an unknown price), answers 502 and shows nothing of Stripe’s error', async () => {
    await putStripeRoutes({
      ...STRIPE_BLOCK,
      packages: {
        ...STRIPE_BLOCK.packages,
        starter: { ...STRIPE_BLOCK.packages.starter, price: 'price_1QDeletedPrice0001' },
      },
    })
    const stripe = fakeStripe()
    const key = await createKey('0')
    const answer = await gateWithStripe(stripe)(
      '/stripe/checkout',
      buy(key.key, { package: 'starter' })
    )
    expect(answer.status).toBe(502)
    expect(answer.body.error?.code).toBe('upstream_unreachable')
    expect(JSON.stringify(answer.body)).not.toContain('price_1QDeletedPrice0001')
    // A 400 from Stripe is final: the SDK does not retry it.
    expect(stripe.requests).toHaveLength(1)
  })

  it('when Stripe cannot be reached, answers 502', async () => {
    const key = await createKey('0')
    const down = {
      ...fakeStripe(),
      fetch: async () => {
        throw new TypeError('Network connection lost.')
      },
    }
    const answer = await gateWithStripe(down)(
      '/stripe/checkout',
      buy(key.key, { package: 'starter' })
    )
    expect(answer.status).toBe(502)
    expect(answer.body.error?.code).toBe('upstream_unreachable')
  })

  it('retries once, with the same Idempotency-Key, when Stripe answers 500 or drops the connection: one session', async () => {
    for (const failure of [
      () => new Response('{"error":{"type":"api_error"}}', { status: 500 }),
      () => Promise.reject(new TypeError('Network connection lost.')),
    ]) {
      const stripe = fakeStripe()
      let first = true
      const flaky = {
        ...stripe,
        fetch: async (input: string | URL | Request, init?: RequestInit) => {
          if (!first) return stripe.fetch(input, init)
          first = false
          // Recorded like the fake's own requests, then failed before Stripe makes a session.
          const headers = new Headers({
            'idempotency-key': new Headers(init?.headers).get('idempotency-key') ?? '',
          })
          stripe.requests.push({
            url: String(input),
            method: 'POST',
            headers,
            form: new URLSearchParams(),
          })
          return failure()
        },
      }
      const key = await createKey('0')
      const answer = await gateWithStripe(flaky)(
        '/stripe/checkout',
        buy(key.key, { package: 'starter' })
      )
      expect(answer.status).toBe(200)
      expect(stripe.sessions).toHaveLength(1)
      expect(stripe.requests).toHaveLength(2)
      expect(stripe.requests[1]!.headers.get('idempotency-key')).toBe(
        stripe.requests[0]!.headers.get('idempotency-key')
      )
    }
  })

  it('without STRIPE_SECRET_KEY, or without a "stripe" block, the endpoint answers 404 not_found', async () => {
    const stripe = fakeStripe()
    const key = await createKey('0')
    const unset = await gateWithStripe(stripe, { STRIPE_SECRET_KEY: undefined })(
      '/stripe/checkout',
      buy(key.key, { package: 'starter' })
    )
    expect([unset.status, unset.body.error?.code]).toEqual([404, 'not_found'])
    await putStripeRoutes(null)
    const unconfigured = await gateWithStripe(stripe)(
      '/stripe/checkout',
      buy(key.key, { package: 'starter' })
    )
    expect([unconfigured.status, unconfigured.body.error?.code]).toEqual([404, 'not_found'])
    expect(stripe.requests).toHaveLength(0)
  })
})
