import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import Stripe from 'stripe'
import { beforeEach, describe, expect, it } from 'vitest'
import { createGate } from '../../src/app'
import { admin, createKey, gate, keyState, type KeyState } from '../helpers'
import {
  checkoutSession,
  putStripeRoutes,
  stripeEvent,
  stripeId,
  stripeSignature,
  subscriptionInvoice,
} from '../stripe-helpers'

const SECRET = env.STRIPE_WEBHOOK_SECRET

beforeEach(async () => {
  await putStripeRoutes()
})

interface WebhookAnswer {
  status: number
  body: {
    received?: boolean
    credited?: boolean
    reason?: string
    credits?: string
    error?: { code: string }
  }
}

/** Deliver an event as Stripe does: the exact bytes, signed. */
async function deliver(
  event: Record<string, unknown> | string,
  signature?: string
): Promise<WebhookAnswer> {
  const body = typeof event === 'string' ? event : JSON.stringify(event, null, 2)
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
  }
  headers['stripe-signature'] = signature ?? (await stripeSignature(body, SECRET))
  const response = await gate('/stripe/webhook', { method: 'POST', headers, body })
  return { status: response.status, body: (await response.json()) as WebhookAnswer['body'] }
}

/** The key's top-up rows (newest first). */
const topUps = (state: KeyState) => state.ledger.filter((row) => row.kind === 'topup')

describe('POST /stripe/webhook: checkout.session.completed', () => {
  it('credits the key named in the metadata with the package, once, with a ledger row', async () => {
    const key = await createKey('1')
    const session = checkoutSession({ keyId: key.id, package: 'starter' })
    const answer = await deliver(stripeEvent('checkout.session.completed', session))
    expect(answer).toEqual({
      status: 200,
      body: { received: true, credited: true, key: key.id, credits: '10' },
    })
    const state = await keyState(key.id)
    expect(state.credits).toBe('11')
    expect(topUps(state)).toEqual([
      expect.objectContaining({
        amount: '10',
        balanceAfter: '11',
        label: `stripe checkout ${session.id} (starter)`,
      }),
    ])
  })

  it('accepts a header made by Stripe’s own SDK (generateTestHeaderStringAsync)', async () => {
    const key = await createKey('0')
    const body = JSON.stringify(
      stripeEvent(
        'checkout.session.completed',
        checkoutSession({ keyId: key.id, package: 'small', amount: 500, currency: 'eur' })
      )
    )
    const header = await Stripe.webhooks.generateTestHeaderStringAsync({
      payload: body,
      secret: SECRET,
      cryptoProvider: Stripe.createSubtleCryptoProvider(),
    })
    expect((await deliver(body, header)).body.credited).toBe(true)
    expect((await keyState(key.id)).credits).toBe('2.5')
  })

  it('a replayed event credits once', async () => {
    const key = await createKey('0')
    const event = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ keyId: key.id, package: 'starter' })
    )
    for (let delivery = 0; delivery < 3; delivery++) expect((await deliver(event)).status).toBe(200)
    const state = await keyState(key.id)
    expect(state.credits).toBe('10')
    expect(topUps(state)).toHaveLength(1)
  })

  it('a second, distinct event for the same session credits once', async () => {
    const key = await createKey('0')
    const session = checkoutSession({ keyId: key.id, package: 'starter' })
    expect((await deliver(stripeEvent('checkout.session.completed', session))).body.credited).toBe(
      true
    )
    expect(
      (await deliver(stripeEvent('checkout.session.async_payment_succeeded', session))).status
    ).toBe(200)
    const state = await keyState(key.id)
    expect(state.credits).toBe('10')
    expect(topUps(state)).toHaveLength(1)
  })

  it('an unpaid session (a delayed payment method) credits nothing; its async_payment_succeeded does', async () => {
    const key = await createKey('0')
    const session = checkoutSession({ keyId: key.id, package: 'starter', paymentStatus: 'unpaid' })
    expect(await deliver(stripeEvent('checkout.session.completed', session))).toEqual({
      status: 200,
      body: { received: true, credited: false, reason: 'not_paid' },
    })
    expect((await keyState(key.id)).credits).toBe('0')
    expect(
      (await deliver(stripeEvent('checkout.session.async_payment_failed', session))).body.reason
    ).toBe('event_type_not_handled')
    const succeeded = stripeEvent('checkout.session.async_payment_succeeded', {
      ...session,
      payment_status: 'paid',
    })
    expect((await deliver(succeeded)).body.credited).toBe(true)
    expect((await keyState(key.id)).credits).toBe('10')
  })

  it('a session with no payment required (a 100% discount) buys nothing', async () => {
    const key = await createKey('0')
    const session = checkoutSession({
      keyId: key.id,
      package: 'starter',
      paymentStatus: 'no_payment_required',
      amount: 0,
    })
    expect((await deliver(stripeEvent('checkout.session.completed', session))).body).toMatchObject({
      credited: false,
      reason: 'not_paid',
    })
    expect((await keyState(key.id)).credits).toBe('0')
  })

  it('an unknown key, a session without a key, an unknown package: acknowledged, nothing credited', async () => {
    const key = await createKey('0')
    const cases: Array<[Record<string, unknown>, string]> = [
      [checkoutSession({ keyId: 'key_aaaaaaaaaaaaaaaaaaaa', package: 'starter' }), 'unknown_key'],
      [checkoutSession({ package: 'starter' }), 'no_key_in_metadata'],
      [checkoutSession({ keyId: 'pg_not-a-key-id', package: 'starter' }), 'no_key_in_metadata'],
      [checkoutSession({ keyId: key.id, package: 'platinum' }), 'unknown_package'],
      [checkoutSession({ keyId: key.id }), 'unknown_package'],
    ]
    for (const [session, reason] of cases) {
      expect(await deliver(stripeEvent('checkout.session.completed', session))).toEqual({
        status: 200,
        body: { received: true, credited: false, reason },
      })
    }
    expect(topUps(await keyState(key.id))).toHaveLength(0)
  })

  it('credits come from the package: a session whose amount or currency differs from it credits nothing', async () => {
    const key = await createKey('0')
    for (const session of [
      checkoutSession({ keyId: key.id, package: 'starter', amount: 100 }),
      checkoutSession({ keyId: key.id, package: 'starter', amount: 100_000 }),
      checkoutSession({ keyId: key.id, package: 'starter', currency: 'eur' }),
    ]) {
      expect(
        (await deliver(stripeEvent('checkout.session.completed', session))).body
      ).toMatchObject({ credited: false, reason: 'amount_mismatch' })
    }
    expect((await keyState(key.id)).credits).toBe('0')
  })

  it('a revoked key is not credited, and the answer says why', async () => {
    const key = await createKey('0')
    expect((await admin(`/keys/${key.id}/revoke`, { method: 'POST' })).status).toBe(200)
    const answer = await deliver(
      stripeEvent(
        'checkout.session.completed',
        checkoutSession({ keyId: key.id, package: 'starter' })
      )
    )
    expect(answer).toEqual({
      status: 200,
      body: { received: true, credited: false, reason: 'key_revoked' },
    })
    expect((await keyState(key.id)).balance).toBe('0')
  })
})

describe('POST /stripe/webhook: signatures', () => {
  const paidEvent = async () => {
    const key = await createKey('1')
    return {
      key,
      body: JSON.stringify(
        stripeEvent(
          'checkout.session.completed',
          checkoutSession({ keyId: key.id, package: 'starter' })
        )
      ),
    }
  }
  const expectUnchanged = async (id: string) => {
    const state = await keyState(id)
    expect(state.credits).toBe('1')
    expect(topUps(state)).toHaveLength(0)
  }

  it('refuses a payload signed with another secret: 400, nothing changes', async () => {
    const { key, body } = await paidEvent()
    const answer = await deliver(body, await stripeSignature(body, 'whsec_someone_elses_secret'))
    expect(answer.status).toBe(400)
    expect(answer.body.error?.code).toBe('invalid_request')
    await expectUnchanged(key.id)
  })

  it('refuses a body changed after signing (a bigger package, another key)', async () => {
    const { key, body } = await paidEvent()
    const signature = await stripeSignature(body, SECRET)
    expect((await deliver(body.replace('"starter"', '"pro"'), signature)).status).toBe(400)
    const other = await createKey('1')
    expect((await deliver(body.replace(key.id, other.id), signature)).status).toBe(400)
    await expectUnchanged(key.id)
    await expectUnchanged(other.id)
  })

  it('refuses a stale timestamp (older than 300 s), even correctly signed', async () => {
    const { key, body } = await paidEvent()
    const stale = Math.floor(Date.now() / 1000) - 301
    expect((await deliver(body, await stripeSignature(body, SECRET, stale))).status).toBe(400)
    await expectUnchanged(key.id)
    const recent = Math.floor(Date.now() / 1000) - 200
    expect((await deliver(body, await stripeSignature(body, SECRET, recent))).body.credited).toBe(
      true
    )
  })

  it('refuses a missing, empty or malformed Stripe-Signature header', async () => {
    const { key, body } = await paidEvent()
    const good = await stripeSignature(body, SECRET)
    const v1 = good.split(',v1=')[1] as string
    for (const header of [
      '',
      'garbage',
      `v1=${v1}`,
      `t=${Math.floor(Date.now() / 1000)}`,
      `t=${Math.floor(Date.now() / 1000)},v0=${v1}`,
    ]) {
      expect((await deliver(body, header)).status).toBe(400)
    }
    const response = await gate('/stripe/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(response.status).toBe(400)
    await expectUnchanged(key.id)
  })

  it('accepts a header with several v1 signatures when one matches (secret rolling)', async () => {
    const { key, body } = await paidEvent()
    const good = await stripeSignature(body, SECRET)
    const old = (await stripeSignature(body, 'whsec_the_previous_secret')).split(',')[1]
    expect((await deliver(body, `${good},${old}`)).body.credited).toBe(true)
    expect((await keyState(key.id)).credits).toBe('11')
  })
})

describe('POST /stripe/webhook: subscription renewals', () => {
  it('a paid renewal invoice tops up the subscription package, once per invoice', async () => {
    const key = await createKey('0')
    const invoice = subscriptionInvoice({ keyId: key.id })
    const event = stripeEvent('invoice.paid', invoice)
    expect(await deliver(event)).toEqual({
      status: 200,
      body: { received: true, credited: true, key: key.id, credits: '25' },
    })
    expect((await deliver(event)).status).toBe(200)
    expect((await deliver(stripeEvent('invoice.paid', invoice))).status).toBe(200)
    const state = await keyState(key.id)
    expect(state.credits).toBe('25')
    expect(topUps(state)).toEqual([
      expect.objectContaining({ amount: '25', label: `stripe renewal ${invoice.id} (pro)` }),
    ])
    // The next period's invoice is another payment.
    expect(
      (await deliver(stripeEvent('invoice.paid', subscriptionInvoice({ keyId: key.id })))).body
        .credited
    ).toBe(true)
    expect((await keyState(key.id)).credits).toBe('50')
  })

  it('reads the key from the legacy shape too (subscription_details.metadata, API versions before 2025-03-31)', async () => {
    const key = await createKey('0')
    expect(
      (
        await deliver(
          stripeEvent('invoice.paid', subscriptionInvoice({ keyId: key.id, shape: 'legacy' }))
        )
      ).body.credited
    ).toBe(true)
    expect((await keyState(key.id)).credits).toBe('25')
  })

  it('the first invoice of a subscription (paid through Checkout, credited there) and other invoices are not renewals', async () => {
    const key = await createKey('0')
    for (const billingReason of ['subscription_create', 'manual', 'subscription_update']) {
      const answer = await deliver(
        stripeEvent('invoice.paid', subscriptionInvoice({ keyId: key.id, billingReason }))
      )
      expect(answer.body).toMatchObject({ credited: false, reason: 'not_a_renewal' })
    }
    const other = await deliver(
      stripeEvent('invoice.paid', subscriptionInvoice({ keyId: key.id, total: 1999 }))
    )
    expect(other.body).toMatchObject({ credited: false, reason: 'amount_mismatch' })
    expect((await keyState(key.id)).credits).toBe('0')
  })
})

describe('POST /stripe/webhook: everything else', () => {
  it('acknowledges and ignores event types it does not handle', async () => {
    const key = await createKey('1')
    const session = checkoutSession({ keyId: key.id, package: 'starter' })
    const events = [
      stripeEvent('payment_intent.succeeded', {
        id: stripeId('pi_3'),
        object: 'payment_intent',
        amount: 1000,
        currency: 'usd',
        metadata: { key_id: key.id, package: 'starter' },
      }),
      stripeEvent('checkout.session.expired', {
        ...session,
        status: 'expired',
        payment_status: 'unpaid',
      }),
      stripeEvent('invoice.payment_failed', subscriptionInvoice({ keyId: key.id })),
      stripeEvent('customer.created', {
        id: stripeId('cus_', 14),
        object: 'customer',
        email: 'buyer@example.com',
      }),
    ]
    for (const event of events) {
      expect(await deliver(event)).toEqual({
        status: 200,
        body: { received: true, credited: false, reason: 'event_type_not_handled' },
      })
    }
    expect((await keyState(key.id)).credits).toBe('1')
  })

  it('owns every path under /stripe: other methods get 405, other paths 404, never an origin', async () => {
    await putStripeRoutes(undefined, [{ path: '/*', origin: env.API_ORIGIN, free: true }])
    const get = await gate('/stripe/webhook')
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST'])
    expect((await gate('/stripe/checkout', { method: 'PUT' })).status).toBe(405)
    const other = await gate('/stripe/portal', { method: 'POST' })
    expect(other.status).toBe(404)
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found')
  })

  it('a body that is not an event, correctly signed: 400', async () => {
    expect((await deliver('not json at all')).status).toBe(400)
  })

  it('without STRIPE_WEBHOOK_SECRET the endpoint does not exist: 404 not_found', async () => {
    const key = await createKey('1')
    const body = JSON.stringify(
      stripeEvent(
        'checkout.session.completed',
        checkoutSession({ keyId: key.id, package: 'starter' })
      )
    )
    const ctx = createExecutionContext()
    const request = new Request('https://gate.test/stripe/webhook', {
      method: 'POST',
      headers: { 'stripe-signature': await stripeSignature(body, SECRET) },
      body,
    })
    const response = await createGate().fetch(
      request,
      { ...env, STRIPE_WEBHOOK_SECRET: undefined },
      ctx
    )
    await waitOnExecutionContext(ctx)
    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found')
    expect((await keyState(key.id)).credits).toBe('1')
  })

  it('when the ledger cannot be reached, answers 503 so Stripe delivers again; the redelivery credits once', async () => {
    const key = await createKey('1')
    const body = JSON.stringify(
      stripeEvent(
        'checkout.session.completed',
        checkoutSession({ keyId: key.id, package: 'starter' })
      )
    )
    const unreachable = {
      getByName: () => {
        throw new Error('Durable Object is overloaded')
      },
    }
    const ctx = createExecutionContext()
    const request = new Request('https://gate.test/stripe/webhook', {
      method: 'POST',
      headers: { 'stripe-signature': await stripeSignature(body, SECRET) },
      body,
    })
    const response = await createGate().fetch(request, { ...env, KEY_INDEX: unreachable }, ctx)
    await waitOnExecutionContext(ctx)
    expect(response.status).toBe(503)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'ledger_unavailable'
    )
    expect((await keyState(key.id)).credits).toBe('1')
    expect((await deliver(body)).body.credited).toBe(true)
    expect((await deliver(body)).status).toBe(200)
    expect((await keyState(key.id)).credits).toBe('11')
  })

  it('without a "stripe" block in the route table a signed event gets 404, so Stripe retries until there is one', async () => {
    await putStripeRoutes(null)
    const key = await createKey('1')
    const event = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ keyId: key.id, package: 'starter' })
    )
    expect((await deliver(event)).status).toBe(404)
    await putStripeRoutes()
    expect((await deliver(event)).body.credited).toBe(true)
    expect((await keyState(key.id)).credits).toBe('11')
  })
})
