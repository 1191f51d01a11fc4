/**
 * The key holder's portal (/account) as a browser speaks to it, inside workerd:
 * sign in with the key in a form body, a session cookie that is never the key,
 * CSRF on every change, paged ledger and usage, rotation that shows the new key
 * once, a low-balance alert delivered to the holder's own receiver signed with the
 * holder's secret, and a top-up through Stripe's test-mode wire format. Bad input
 * gets a clear page and changes nothing; no page but a reveal shows a key.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createGate } from '../../src/app'
import { admin, createKey, gate, keyState, settledState } from '../helpers'
import { fakeStripe, putStripeRoutes } from '../stripe-helpers'
import { verifySignature, type ReceivedDelivery } from '../webhook-receiver'

const ORIGIN = 'https://gate.test'
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

interface Visit {
  status: number
  headers: Headers
  text: string
}

/** A browser on the portal: one cookie jar, same-origin form posts. */
function browser(stripe = fakeStripe(), bindings: Record<string, unknown> = {}) {
  const app = createGate({ stripe: { fetch: stripe.fetch } })
  let cookie = ''
  const visit = async (path: string, init: RequestInit = {}): Promise<Visit> => {
    const headers = new Headers(init.headers)
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie)
    const ctx = createExecutionContext()
    const response = await app.fetch(
      new Request(`${ORIGIN}${path}`, { ...init, headers, redirect: 'manual' }),
      { ...env, ...bindings },
      ctx
    )
    const text = await response.text()
    await waitOnExecutionContext(ctx)
    const set = response.headers.get('set-cookie')
    if (set?.startsWith('pg_account_session='))
      cookie = set.split(';')[0]!.endsWith('=') ? '' : set.split(';')[0]!
    return { status: response.status, headers: response.headers, text }
  }
  const post = (
    path: string,
    fields: Record<string, string>,
    headers: Record<string, string> = { origin: ORIGIN }
  ) =>
    visit(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    })
  return {
    visit,
    post,
    stripe,
    cookie: () => cookie,
    setCookie: (value: string) => void (cookie = value),
  }
}

const csrfOf = (page: Visit) => /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? ''

async function signIn(key: string, b = browser()) {
  const answer = await b.post('/account/login', { key })
  expect(answer.status).toBe(303)
  const page = await b.visit('/account')
  expect(page.status).toBe(200)
  return { b, page, csrf: csrfOf(page) }
}

const balanceOf = async (key: string) => {
  const response = await gate('/balance', { headers: { authorization: `Bearer ${key}` } })
  return { status: response.status, body: (await response.json()) as { credits?: string } }
}

describe('signing in', () => {
  it('takes the key from the form body, sets a session cookie that is not the key, and shows the account', async () => {
    const key = await createKey('5', { name: 'Ada <b>Lovelace</b>' })
    const b = browser()
    const signInForm = await b.visit('/account')
    expect(signInForm.status).toBe(200)
    expect(signInForm.text).toContain('<form method="post" action="/account/login">')
    expect(signInForm.headers.get('content-security-policy')).toContain("default-src 'none'")

    const login = await b.post('/account/login', { key: key.key })
    expect(login.status).toBe(303)
    expect(login.headers.get('location')).toBe('/account')
    const setCookie = login.headers.get('set-cookie')!
    expect(setCookie).toMatch(
      /^pg_account_session=v1\.\d+\.[0-9a-f]{64}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/account; HttpOnly; Secure; SameSite=Strict$/
    )
    expect(setCookie).not.toContain(key.key)

    const page = await b.visit('/account')
    expect(page.status).toBe(200)
    expect(page.text).toContain('$5')
    expect(page.text).toContain(key.id)
    expect(page.text).toContain('Ada &lt;b&gt;Lovelace&lt;/b&gt;')
    expect(page.text).toContain('id="oauth-grants"')
    expect(page.text).not.toContain(key.key)
    expect(logs.join('\n')).not.toContain(key.key)
  })

  it('bad keys get a clear page, never echoed, and no session', async () => {
    const b = browser()
    const malformed = await b.post('/account/login', { key: 'pg_short<script>' })
    expect(malformed.status).toBe(400)
    expect(malformed.text).toContain('That is not an API key')
    expect(malformed.text).not.toContain('pg_short')
    const unknown = `pg_${'A'.repeat(43)}`
    const wrong = await b.post('/account/login', { key: unknown })
    expect(wrong.status).toBe(401)
    expect(wrong.text).not.toContain(unknown)
    expect((await b.post('/account/login', {})).status).toBe(400)
    const key = await createKey('1')
    expect(
      (await b.post('/account/login', { key: key.key }, { origin: 'https://evil.example' })).status
    ).toBe(403)
    expect(b.cookie()).toBe('')
    // A forged or tampered cookie is no session.
    b.setCookie(
      `pg_account_session=v1.9999999999.${'0'.repeat(64)}.${'A'.repeat(22)}.${'B'.repeat(43)}`
    )
    const forged = await b.visit('/account')
    expect(forged.status).toBe(401)
    expect(forged.text).toContain('Your session has ended')
  })

  it('signs out with the CSRF token only, and unknown portal paths are never forwarded', async () => {
    const key = await createKey('1')
    const { b, csrf } = await signIn(key.key)
    expect((await b.post('/account/logout', { csrf: 'nope' })).status).toBe(403)
    expect((await b.visit('/account')).text).toContain('Sign out')
    const out = await b.post('/account/logout', { csrf })
    expect(out.status).toBe(303)
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0')
    expect((await b.visit('/account')).text).toContain('Sign in with your API key')
    expect((await b.visit('/account/anything')).status).toBe(404)
  })
})

describe('ledger and usage', () => {
  it('pages the ledger, 20 rows at a time, and bad page numbers get the first page with a notice', async () => {
    const key = await createKey('1')
    for (let topUp = 1; topUp <= 24; topUp++) {
      expect(
        (
          await admin(`/keys/${key.id}/topup`, {
            method: 'POST',
            body: JSON.stringify({ credits: '0.01', note: `top-up number ${topUp}` }),
          })
        ).status
      ).toBe(200)
    }
    const { b, page } = await signIn(key.key)
    const rowsOf = (visit: Visit) =>
      [...visit.text.matchAll(/top-up number (\d+)/g)].map((match) => Number(match[1]))
    expect(rowsOf(page)).toEqual(Array.from({ length: 20 }, (_, index) => 24 - index))
    const older = /href="\/account\?ledger_before=(\d+)#ledger-title"/.exec(page.text)?.[1]
    expect(older).toBeDefined()
    const second = await b.visit(`/account?ledger_before=${older}`)
    expect(rowsOf(second)).toEqual([4, 3, 2, 1])
    expect(second.text).toContain('initial credits')
    expect(second.text).not.toContain('ledger_before=')
    for (const bad of [
      '/account?ledger_before=abc',
      '/account?usage_page=0',
      '/account?usage_page=99999',
    ]) {
      const answer = await b.visit(bad)
      expect(answer.status).toBe(400)
      expect(answer.text).toContain('That page does not exist')
    }
  })

  it('shows the key’s own paid calls, and no one else’s', async () => {
    await env.ROUTES.put(
      'pay-gate/routes',
      JSON.stringify({
        version: 1,
        routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.01' }],
      })
    )
    const mine = await createKey('1')
    const theirs = await createKey('1')
    for (const [key, path] of [
      [mine, '/api/mine-1'],
      [mine, '/api/mine-2'],
      [theirs, '/api/theirs'],
    ] as const) {
      const response = await gate(path, { headers: { authorization: `Bearer ${key.key}` } })
      await response.text()
    }
    await settledState(mine.id)
    const { b } = await signIn(mine.key)
    let page = await b.visit('/account')
    for (
      let tries = 0;
      tries < 300 && !(page.text.match(/<td class="mono">\/api\/\*<\/td>/g)?.length === 2);
      tries++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      page = await b.visit('/account')
    }
    expect(page.text.match(/<td class="mono">\/api\/\*<\/td>/g)).toHaveLength(2)
    expect(page.text).toContain('charged')
  })
})

describe('rotating the key', () => {
  it('needs the CSRF token and the confirmation; then shows the new key once, and the old one stops', async () => {
    const key = await createKey('3')
    const { b, csrf } = await signIn(key.key)
    const noCsrf = await b.post('/account/rotate', { confirm: 'yes' })
    expect(noCsrf.status).toBe(403)
    const foreign = await b.post(
      '/account/rotate',
      { confirm: 'yes', csrf },
      { origin: 'https://evil.example' }
    )
    expect(foreign.status).toBe(403)
    const unconfirmed = await b.post('/account/rotate', { csrf })
    expect(unconfirmed.status).toBe(400)
    expect(unconfirmed.text).toContain('Tick the box')
    expect((await balanceOf(key.key)).status).toBe(200)

    const oldCookie = b.cookie()
    const rotated = await b.post('/account/rotate', { csrf, confirm: 'yes' })
    expect(rotated.status).toBe(200)
    const fresh = /<code id="secret">(pg_[A-Za-z0-9_-]{43})<\/code>/.exec(rotated.text)?.[1]
    expect(fresh).toBeDefined()
    expect(rotated.text).not.toContain(key.key)
    expect((await balanceOf(key.key)).status).toBe(401)
    expect(await balanceOf(fresh!)).toMatchObject({ status: 200, body: { credits: '3' } })

    // The session moved to the new key; the new key is not on the page any more.
    const after = await b.visit('/account')
    expect(after.status).toBe(200)
    expect(after.text).not.toContain(fresh)
    expect(after.text).toContain('rotate')
    // The old session (the old key's) is signed out.
    const stale = browser()
    stale.setCookie(oldCookie)
    expect((await stale.visit('/account')).status).toBe(401)
    expect(logs.join('\n')).not.toContain(fresh)
  })
})

describe('the low-balance alert', () => {
  const receiver = () => env.OPERATOR_WEBHOOK_URL.replace(/\/hook$/, '')

  it('refuses bad URLs and thresholds, changing nothing', async () => {
    const key = await createKey('1')
    const guarded = browser(fakeStripe(), { HOLDER_WEBHOOK_ALLOW_PRIVATE: '' })
    const { csrf } = await signIn(key.key, guarded)
    for (const [url, threshold, says] of [
      ['http://example.com/hook', '1', 'must be https'],
      ['https://127.0.0.1/hook', '1', 'loopback'],
      ['https://169.254.169.254/latest', '1', 'link-local'],
      ['https://localhost/hook', '1', 'local'],
      ['not a url', '1', 'not a valid URL'],
      ['https://hooks.example.com/x', '0', 'above 0'],
      ['https://hooks.example.com/x', 'lots', 'above 0'],
      ['https://hooks.example.com/x', '1.0000001', 'above 0'],
    ]) {
      const answer = await guarded.post('/account/alert', {
        csrf,
        url: url!,
        threshold: threshold!,
      })
      expect(answer.status, url).toBe(400)
      expect(answer.text).toContain(says)
      expect(answer.text).not.toContain('pgwh_')
    }
    expect((await guarded.visit('/account')).text).toContain('No alert is set.')
  })

  it('a hold that takes the balance below the threshold tells the holder once, signed with their secret', async () => {
    await env.ROUTES.put(
      'pay-gate/routes',
      JSON.stringify({
        version: 1,
        routes: [{ path: '/api/*', origin: env.API_ORIGIN, price: '0.01' }],
      })
    )
    const key = await createKey('0.05')
    const { b, csrf } = await signIn(key.key)
    const url = `${receiver()}/hook?holder=${key.id}`
    const saved = await b.post('/account/alert', { csrf, url, threshold: '0.03' })
    expect(saved.status).toBe(200)
    const secret = /<code id="secret">(pgwh_[A-Za-z0-9_-]{43})<\/code>/.exec(saved.text)?.[1]
    expect(secret).toBeDefined()
    const page = await b.visit('/account')
    expect(page.text).toContain('$0.03')
    expect(page.text).not.toContain(secret)

    for (let call = 1; call <= 4; call++) {
      const response = await gate(`/api/alert-${call}`, {
        headers: { authorization: `Bearer ${key.key}` },
      })
      expect(response.status).toBe(200)
      await response.text()
    }
    await settledState(key.id)
    const mine = async () =>
      (
        (await (await fetch(`${receiver()}/deliveries?key=${key.id}`)).json()) as ReceivedDelivery[]
      ).filter((delivery) => delivery.path.includes('holder='))
    let received = await mine()
    for (let tries = 0; tries < 200 && received.length === 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      received = await mine()
    }
    expect(received).toHaveLength(1)
    const delivery = received[0]!
    expect(delivery.eventType).toBe('key.low_balance')
    expect(delivery.event.data).toEqual({
      key: { id: key.id },
      credits: '0.02',
      previousCredits: '0.03',
      threshold: '0.03',
    })
    expect(verifySignature(secret!, delivery.signature, delivery.body)).toBe(true)
    expect(delivery.body).not.toContain(key.key)

    // Removing it: no more alerts, and the page says so.
    const removed = await b.post('/account/alert', { csrf, remove: '1' })
    expect(removed.status).toBe(303)
    expect((await b.visit(removed.headers.get('location')!)).text).toContain('No alert is set.')
  })
})

describe('topping up from the portal', () => {
  it('starts a Checkout Session for the signed-in key, with Stripe’s real request shape', async () => {
    const key = await createKey('0')
    const stripe = fakeStripe()
    const { b, csrf } = await signIn(key.key, browser(stripe))
    const answer = await b.post('/account/topup', { csrf, package: 'starter' })
    expect(answer.status).toBe(303)
    expect(answer.headers.get('location')).toBe((stripe.sessions[0] as { url: string }).url)
    const form = stripe.requests[0]!.form
    expect(form.get('metadata[key_id]')).toBe(key.id)
    expect(form.get('success_url')).toBe(`${ORIGIN}/account?done=topped_up`)
    expect(form.toString()).not.toContain(key.key)
    const unknown = await b.post('/account/topup', { csrf, package: 'gold' })
    expect(unknown.status).toBe(400)
    expect(unknown.text).toContain('No package named')
    expect(stripe.requests).toHaveLength(1)
    expect((await keyState(key.id)).credits).toBe('0')
  })
})
