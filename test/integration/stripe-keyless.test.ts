/**
 * Buying by card without a key, through Stripe's test-mode wire format: the buy
 * form starts a keyless Checkout Session (fake api.stripe.com), Stripe's signed
 * webhook issues the key once however often it is delivered, and the success
 * page shows it once, only to the browser holding the claim cookie.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createGate } from '../../src/app'
import type { Env } from '../../src/env'
import { routeTables } from '../../src/gate'
import { keylessCheckout } from '../../src/stripe'
import { admin, gate } from '../helpers'
import { fakeStripe, putStripeRoutes, stripeEvent, stripeSignature } from '../stripe-helpers'

const SECRET = env.STRIPE_WEBHOOK_SECRET
const logs: string[] = []

beforeEach(async () => {
  await putStripeRoutes()
  logs.length = 0
  for (const level of ['log', 'warn', 'error', 'info'] as const) {
    vi.spyOn(console, level).mockImplementation(
      (...args: unknown[]) => void logs.push(args.map(String).join(' '))
    )
  }
})
afterEach(() => vi.restoreAllMocks())

/** A browser's visit: the gate with a fake Stripe, the answer read in full. */
function browser(stripe: ReturnType<typeof fakeStripe>) {
  const app = createGate({ stripe: { fetch: stripe.fetch } })
  return async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext()
    const response = await app.fetch(new Request(`https://gate.test${path}`, init), env, ctx)
    const text = await response.text()
    await waitOnExecutionContext(ctx)
    return { status: response.status, headers: response.headers, text }
  }
}

const buyForm = (pkg: string, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    origin: 'https://gate.test',
    ...headers,
  },
  body: new URLSearchParams({ package: pkg }).toString(),
})

/** Buy: the form's answer, the session Stripe made, and the claim cookie (name=value). */
async function startPurchase(stripe: ReturnType<typeof fakeStripe>, pkg = 'starter') {
  const answer = await browser(stripe)('/stripe/buy', buyForm(pkg))
  expect(answer.status).toBe(303)
  const session = stripe.sessions.at(-1) as Record<string, unknown> & {
    id: string
    url: string
    metadata: Record<string, string>
  }
  const setCookie = answer.headers.get('set-cookie') ?? ''
  return { answer, session, setCookie, cookie: setCookie.split(';')[0] as string }
}

async function deliver(event: Record<string, unknown>, signature?: string) {
  const body = JSON.stringify(event, null, 2)
  const response = await gate('/stripe/webhook', {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'stripe-signature': signature ?? (await stripeSignature(body, SECRET)),
    },
    body,
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

const paid = (session: Record<string, unknown>) => ({
  ...session,
  status: 'complete',
  payment_status: 'paid',
  url: null,
})

/** Keys in the index named after this session. */
async function keysOf(
  sessionId: string
): Promise<Array<{ id: string; name: string; credits: string }>> {
  const listed = (await (await admin('/keys?limit=100')).json()) as {
    keys: Array<{ id: string; name: string; credits: string }>
  }
  return listed.keys.filter((key) => key.name.includes(sessionId))
}

describe('buying by card without a key', () => {
  it('the buy form starts a Checkout Session without a key, carrying only a public claim, and sets the claim cookie', async () => {
    const stripe = fakeStripe()
    const { answer, session, setCookie } = await startPurchase(stripe)
    expect(answer.headers.get('location')).toBe(session.url)
    const form = Object.fromEntries(stripe.requests[0]!.form)
    expect(form).toEqual({
      mode: 'payment',
      'line_items[0][price]': 'price_1QStarterTest00001',
      'line_items[0][quantity]': '1',
      'metadata[package]': 'starter',
      'metadata[claim_key]': expect.stringMatching(/^[A-Za-z0-9_-]{87}$/),
      'payment_intent_data[metadata][package]': 'starter',
      success_url: 'https://gate.test/stripe/claim?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://gate.test/stripe/buy?cancelled',
    })
    expect(setCookie).toMatch(
      new RegExp(
        `^pg_claim_${session.id}=[A-Za-z0-9_-]{100,}; Max-Age=604800; Path=/stripe/claim; HttpOnly; Secure; SameSite=Lax$`
      )
    )
    // The secret in the cookie is not what went to Stripe.
    expect(stripe.requests[0]!.form.toString()).not.toContain(
      setCookie.split(';')[0]!.split('=')[1]
    )
  })

  it('the webhook issues one key, whatever its retries; the success page shows it once, to the claim cookie only', async () => {
    const stripe = fakeStripe()
    const visit = browser(stripe)
    const { session, cookie } = await startPurchase(stripe)
    const claimPath = `/stripe/claim?session_id=${session.id}`

    // Back from Stripe before the webhook: waiting, and the page reloads itself.
    const early = await visit(claimPath, { headers: { cookie } })
    expect(early.status).toBe(200)
    expect(early.text).toContain('Waiting for Stripe to confirm')
    expect(early.text).toContain('http-equiv="refresh"')

    const completed = stripeEvent('checkout.session.completed', paid(session))
    const first = await deliver(completed)
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ received: true, credited: true, credits: '10' })
    // Retried, concurrently, and as the session's other event: nothing new.
    const again = await Promise.all([
      deliver(completed),
      deliver(completed),
      deliver(stripeEvent('checkout.session.async_payment_succeeded', paid(session))),
    ])
    for (const answer of again)
      expect(answer.body).toMatchObject({ credited: true, duplicate: true, key: first.body.key })
    const keys = await keysOf(session.id)
    expect(keys).toEqual([expect.objectContaining({ id: first.body.key, credits: '10' })])

    // Someone with the session id but without this browser's cookie sees nothing.
    const stranger = await visit(claimPath)
    expect(stranger.status).toBe(403)
    const otherBrowser = await startPurchase(stripe)
    const wrongCookie = await visit(claimPath, {
      headers: { cookie: `pg_claim_${session.id}=${otherBrowser.cookie.split('=')[1]}` },
    })
    expect(wrongCookie.status).toBe(403)
    expect(wrongCookie.text).toContain('did not start this purchase')

    // The buyer's browser: the key, once, and the cookie cleared.
    const shown = await visit(claimPath, { headers: { cookie } })
    expect(shown.status).toBe(200)
    const key = /<code id="api-key">(pg_[A-Za-z0-9_-]{43})<\/code>/.exec(shown.text)?.[1]
    expect(key).toBeDefined()
    expect(shown.text).toContain('$10')
    expect(shown.headers.get('set-cookie')).toBe(
      `pg_claim_${session.id}=; Max-Age=0; Path=/stripe/claim; HttpOnly; Secure; SameSite=Lax`
    )
    expect(shown.headers.get('cache-control')).toBe('no-store')
    const balance = (await (
      await gate('/balance', { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { credits: string }
    expect(balance.credits).toBe('10')

    // Never twice, not even to the same cookie.
    const twice = await visit(claimPath, { headers: { cookie } })
    expect(twice.status).toBe(403)
    expect(twice.text).not.toContain('pg_')
    expect(twice.text).toContain('shown already')
    for (const page of [early, stranger, wrongCookie, twice]) expect(page.text).not.toContain(key)
    expect(logs.join('\n')).not.toContain(key)
  })

  it('a bad signature changes nothing: no key, no claim', async () => {
    const stripe = fakeStripe()
    const { session, cookie } = await startPurchase(stripe)
    const event = stripeEvent('checkout.session.completed', paid(session))
    const forged = await deliver(
      event,
      await stripeSignature(JSON.stringify(event, null, 2), 'whsec_someone_else')
    )
    expect(forged.status).toBe(400)
    expect(await keysOf(session.id)).toEqual([])
    const page = await browser(stripe)(`/stripe/claim?session_id=${session.id}`, {
      headers: { cookie },
    })
    expect(page.text).toContain('Waiting for Stripe')
  })

  it('an unpaid completion issues nothing; its async success does', async () => {
    const stripe = fakeStripe()
    const { session } = await startPurchase(stripe)
    const unpaid = await deliver(
      stripeEvent('checkout.session.completed', {
        ...session,
        status: 'complete',
        payment_status: 'unpaid',
      })
    )
    expect(unpaid.body).toMatchObject({ credited: false, reason: 'not_paid' })
    expect(await keysOf(session.id)).toEqual([])
    expect(
      (await deliver(stripeEvent('checkout.session.async_payment_succeeded', paid(session)))).body
    ).toMatchObject({ credited: true })
    expect(await keysOf(session.id)).toHaveLength(1)
  })

  it('bad input: an unknown or subscription package, a foreign form, a bad session id: clear pages, no 5xx, nothing at Stripe', async () => {
    const stripe = fakeStripe()
    const visit = browser(stripe)
    const unknown = await visit('/stripe/buy', buyForm('gold'))
    expect(unknown.status).toBe(400)
    expect(unknown.text).toContain('No one-off package named &quot;gold&quot;')
    const subscription = await visit('/stripe/buy', buyForm('pro'))
    expect(subscription.status).toBe(400)
    const foreign = await visit(
      '/stripe/buy',
      buyForm('starter', { origin: 'https://evil.example' })
    )
    expect(foreign.status).toBe(403)
    expect(stripe.requests).toHaveLength(0)
    expect((await visit('/stripe/claim?session_id=<script>')).status).toBe(400)
    expect((await visit('/stripe/claim')).status).toBe(400)
    const list = await visit('/stripe/buy')
    expect(list.status).toBe(200)
    expect(list.text).toContain('name="package" value="starter"')
    expect(list.text).not.toContain('value="pro"')
    expect(list.headers.get('content-security-policy')).toContain("default-src 'none'")
  })

  it('as a function: a return URL with a query gets the session id appended, and claim() answers the key once', async () => {
    const stripe = fakeStripe()
    const tables = routeTables()
    const gateEnv = env as unknown as Env
    const keyless = keylessCheckout(
      async (bindings) => (await tables(bindings)).stripe,
      stripe.fetch
    )
    const started = await keyless.start(gateEnv, {
      package: 'small',
      returnUrl: 'https://gate.test/oauth/consent?request=abc',
    })
    expect(stripe.requests[0]!.form.get('success_url')).toBe(
      'https://gate.test/oauth/consent?request=abc&session_id={CHECKOUT_SESSION_ID}'
    )
    expect(await keyless.claim(gateEnv, started.sessionId, started.claimSecret)).toEqual({
      kind: 'pending',
    })
    const session = stripe.sessions[0]!
    await deliver(stripeEvent('checkout.session.completed', paid(session)))
    const claimed = await keyless.claim(gateEnv, started.sessionId, started.claimSecret)
    expect(claimed).toMatchObject({
      kind: 'revealed',
      key: expect.stringMatching(/^pg_/),
      credits: 2_500_000,
    })
    expect(await keyless.claim(gateEnv, started.sessionId, started.claimSecret)).toMatchObject({
      kind: 'already_revealed',
    })
  })
})
