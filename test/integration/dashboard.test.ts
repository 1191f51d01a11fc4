/**
 * The dashboard's login, session cookie and CSRF rules, through the real gate in
 * workerd. (The page itself runs in Chromium: test/ui/dashboard.ui.ts.)
 */
import { describe, expect, it } from 'vitest'
import {
  createSession,
  csrfToken,
  SESSION_SECONDS,
  verifySession,
} from '../../src/admin/ui/session'
import { gate, TEST_ADMIN_TOKEN } from '../helpers'

async function login(
  token = TEST_ADMIN_TOKEN,
  headers: Record<string, string> = {}
): Promise<Response> {
  return gate('/admin/ui/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  })
}

async function session(): Promise<{ cookie: string; csrf: string }> {
  const response = await login()
  expect(response.status).toBe(303)
  const value = /pg_admin_session=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')![1]!
  const page = await (
    await gate('/admin/ui', { headers: { cookie: `pg_admin_session=${value}` } })
  ).text()
  const csrf = /<meta name="pay-gate-csrf" content="([^"]+)">/.exec(page)![1]!
  return { cookie: `pg_admin_session=${value}`, csrf }
}

describe('dashboard login', () => {
  it('without a session, /admin/ui is a login form under a strict CSP with no inline script', async () => {
    const response = await gate('/admin/ui')
    expect(response.status).toBe(200)
    const csp = response.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    const html = await response.text()
    expect(html).toContain('name="token"')
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/) // every script has a src
    expect(html).not.toContain('pay-gate-csrf')
  })

  it('a wrong token is refused and sets no cookie', async () => {
    const response = await login('wrong-token-wrong-token-wrong')
    expect(response.status).toBe(401)
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  it('a login from another origin is refused', async () => {
    const response = await login(TEST_ADMIN_TOKEN, { origin: 'https://evil.example' })
    expect(response.status).toBe(403)
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  it('the right token sets an HttpOnly, Secure, SameSite=Strict cookie scoped to /admin that is not the token', async () => {
    const response = await login()
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/admin/ui')
    const cookie = response.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(
      /^pg_admin_session=v1\.\d+\.[\w-]+\.[\w-]+; Max-Age=28800; Path=\/admin; HttpOnly; Secure; SameSite=Strict$/
    )
    expect(cookie).not.toContain(TEST_ADMIN_TOKEN)
  })
})

describe('the session on the admin API', () => {
  it('reads with the cookie alone; changes state only with the CSRF header of that session', async () => {
    const { cookie, csrf } = await session()
    expect((await gate('/admin/keys', { headers: { cookie } })).status).toBe(200)
    const create = (headers: Record<string, string>) =>
      gate('/admin/keys', {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: 'from the page', credits: '1' }),
      })
    expect((await create({})).status).toBe(401)
    expect((await create({ 'x-pay-gate-csrf': 'not-the-token' })).status).toBe(401)
    const other = await session()
    expect((await create({ 'x-pay-gate-csrf': other.csrf })).status).toBe(401) // another session's token
    expect((await create({ 'x-pay-gate-csrf': csrf, origin: 'https://evil.example' })).status).toBe(
      401
    )
    expect((await create({ 'x-pay-gate-csrf': csrf, 'sec-fetch-site': 'cross-site' })).status).toBe(
      401
    )
    expect((await create({ 'x-pay-gate-csrf': csrf, origin: 'https://gate.test' })).status).toBe(
      201
    )
  })

  it('a forged, tampered or expired session is no session', async () => {
    const { cookie } = await session()
    const tampered = cookie.replace(
      /\.(\d+)\./,
      (_, expires: string) => `.${Number(expires) + 1000}.`
    )
    expect((await gate('/admin/keys', { headers: { cookie: tampered } })).status).toBe(401)
    const forged = await createSession('some-other-admin-token-0123456789')
    expect(
      (await gate('/admin/keys', { headers: { cookie: `pg_admin_session=${forged}` } })).status
    ).toBe(401)
    const old = await createSession(TEST_ADMIN_TOKEN, Date.now() - (SESSION_SECONDS + 1) * 1000)
    expect(await verifySession(TEST_ADMIN_TOKEN, old)).toBe(false)
    expect(
      (await gate('/admin/keys', { headers: { cookie: `pg_admin_session=${old}` } })).status
    ).toBe(401)
    const page = await (
      await gate('/admin/ui', { headers: { cookie: `pg_admin_session=${old}` } })
    ).text()
    expect(page).toContain('Your session has ended')
  })

  it('logout clears the cookie', async () => {
    const { cookie, csrf } = await session()
    expect((await gate('/admin/ui/logout', { method: 'POST', headers: { cookie } })).status).toBe(
      401
    )
    const response = await gate('/admin/ui/logout', {
      method: 'POST',
      headers: { cookie, 'x-pay-gate-csrf': csrf },
    })
    expect(response.status).toBe(204)
    expect(response.headers.get('set-cookie')).toMatch(/^pg_admin_session=; Max-Age=0;/)
    expect(await csrfToken(TEST_ADMIN_TOKEN, 'x')).not.toBe(csrf)
  })

  it('serves its script and styles as files that never use innerHTML', async () => {
    const script = await gate('/admin/ui/app.js')
    expect(script.headers.get('content-type')).toContain('javascript')
    const code = await script.text()
    expect(code).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/)
    expect((await gate('/admin/ui/app.css')).headers.get('content-type')).toContain('text/css')
  })
})
