/**
 * The OAuth grants of an account in the key holder's portal (/account): the apps
 * a holder connected are listed with their name and redirect host, and revoking
 * one there stops its tokens at once; the consent page's way to buy a key by
 * card. Inside workerd, with the real provider.
 */
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, it } from 'vitest'
import { createKey, GATE, gate, mcpHeaders, newTag, putRoutes } from '../helpers'
import {
  authorizeUrl,
  authorizeWithKey,
  openConsent,
  pkce,
  REDIRECT_URI,
  register,
} from '../oauth-flow'
import { putStripeRoutes, STRIPE_BLOCK } from '../stripe-helpers'

const SEARCH = {
  jsonrpc: '2.0',
  id: 2,
  method: 'tools/call',
  params: { name: 'search', arguments: { query: 'oauth' } },
}

const ROUTE = {
  path: '/mcp-json',
  origin: env.MCP_ORIGIN,
  mcp: { price: '0.001', tools: { search: '0.01' }, oauth: true },
}

beforeEach(async () => {
  await putRoutes([ROUTE])
})

const call = (token: string) =>
  gate('/mcp-json', {
    method: 'POST',
    headers: mcpHeaders(token, newTag()),
    body: JSON.stringify(SEARCH),
  })

/** The portal as one browser: its session cookie, same-origin form posts. */
async function portal(key: string) {
  const form = { 'content-type': 'application/x-www-form-urlencoded', origin: GATE }
  const login = await gate('/account/login', {
    method: 'POST',
    headers: form,
    body: new URLSearchParams({ key }).toString(),
    redirect: 'manual',
  })
  expect(login.status).toBe(303)
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
  const page = async () => (await gate('/account', { headers: { cookie } })).text()
  const post = (path: string, fields: Record<string, string>) =>
    gate(path, {
      method: 'POST',
      headers: { ...form, cookie },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    })
  return { page, post }
}

describe('OAuth grants in the portal', () => {
  it('lists the connected app with its name and redirect host, and revoking it there stops its token at once', async () => {
    const { key } = await createKey('1')
    const tokens = await authorizeWithKey(key)
    expect((await call(tokens.access_token)).status).toBe(200)

    const holder = await portal(key)
    const before = await holder.page()
    const section = before.slice(before.indexOf('id="oauth-grants"'))
    expect(section).toContain('Test &lt;b&gt;Client&lt;/b&gt;')
    expect(section).toContain(new URL(REDIRECT_URI).host)
    const grant = /name="grant" value="([^"]+)"/.exec(section)?.[1] ?? ''
    const csrf = /name="csrf" value="([^"]+)"/.exec(before)?.[1] ?? ''
    expect(grant).not.toBe('')
    // No page shows a token or the key.
    for (const secret of [tokens.access_token, tokens.refresh_token, key])
      expect(before).not.toContain(secret)

    // Without the session's CSRF token nothing is revoked.
    expect(
      (await holder.post('/account/grants/revoke', { csrf: 'forged', grant })).status
    ).not.toBe(303)
    expect((await call(tokens.access_token)).status).toBe(200)

    const revoked = await holder.post('/account/grants/revoke', { csrf, grant })
    expect(revoked.status).toBe(303)
    const refused = await call(tokens.access_token)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token')
    const after = await holder.page()
    expect(after).not.toContain(`value="${grant}"`)
    // A grant of another account, or one already gone, is not this holder's to revoke.
    expect((await holder.post('/account/grants/revoke', { csrf, grant })).status).toBe(404)
  })
})

describe('buying a key by card from the consent page', () => {
  it('links to Stripe Checkout without a key when the gate sells keys by card, and not otherwise', async () => {
    const consent = async () => {
      const clientId = await register()
      const { challenge } = await pkce()
      return (await openConsent(authorizeUrl({ clientId, challenge, method: 'S256' }))).html
    }
    expect(await consent()).not.toContain('href="/stripe/buy"')
    await putStripeRoutes(STRIPE_BLOCK, [ROUTE])
    const page = await consent()
    expect(page).toContain('href="/stripe/buy"')
    // The page it links to sells the one-off packages.
    const buy = await gate('/stripe/buy')
    expect(buy.status).toBe(200)
  })
})
