/**
 * @module admin/ui/routes
 * GET /admin/ui: the operator dashboard. Without a valid session it is a login
 * form; POST /admin/ui/login checks the admin token and sets the session cookie
 * (admin/ui/session), never the token itself. The page's script and stylesheet
 * have their own routes so the Content-Security-Policy can forbid inline code.
 * Mounted before the admin API's bearer check: these routes do their own.
 */
import { Hono, type Context } from 'hono'
import type { AppEnv } from '../../env'
import { secretsEqual } from '../../secret-compare'
import { clientOf, recordFailure } from '../auth'
import { dashboardPage, loginPage } from './html'
import { DASHBOARD_JS } from './script'
import { createSession, csrfAllows, csrfToken, requestSession, sessionCookie } from './session'
import { DASHBOARD_CSS, FAVICON_SVG } from './styles'

/** Only our own script, styles and API; no inline code, no framing, no foreign origin. */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the
  // login form's POST, and the Origin check could not tell it from a foreign page.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
}

function adminToken(c: Context<AppEnv>): string | null {
  const token = c.env.ADMIN_TOKEN
  return typeof token === 'string' && token.length >= 16 ? token : null
}

function page(
  c: Context<AppEnv>,
  html: string,
  status: 200 | 401 | 403 | 429 | 503 = 200,
  headers: Record<string, string> = {}
): Response {
  return c.html(html, status, headers)
}

/** The /admin/ui sub-app. */
export function adminUi(): Hono<AppEnv> {
  const ui = new Hono<AppEnv>()
  ui.use('*', async (c, next) => {
    await next()
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value)
  })

  ui.get('/', async (c) => {
    const token = adminToken(c)
    if (!token)
      return page(
        c,
        loginPage('The admin API is disabled: set the ADMIN_TOKEN secret (16 characters or more).'),
        503
      )
    const session = await requestSession(token, c.req.raw.headers)
    if (session.kind !== 'valid')
      return page(
        c,
        loginPage(session.kind === 'invalid' ? 'Your session has ended; sign in again.' : undefined)
      )
    return page(c, dashboardPage(await csrfToken(token, session.session)))
  })

  ui.post('/login', async (c) => {
    const token = adminToken(c)
    if (!token)
      return page(
        c,
        loginPage('The admin API is disabled: set the ADMIN_TOKEN secret (16 characters or more).'),
        503
      )
    const origin = c.req.header('origin')
    if (origin !== undefined && origin !== new URL(c.req.url).origin)
      return page(c, loginPage('Sign in from this gate’s own page.'), 403)
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
    const given = typeof form.token === 'string' ? form.token.trim() : ''
    if (!given || !(await secretsEqual(given, token))) {
      const wait = recordFailure(clientOf(c.req.raw.headers, c.env.CLIENT_IP_HEADER), Date.now())
      if (wait !== undefined)
        return page(c, loginPage(`Too many wrong tokens; try again in ${wait} s.`), 429, {
          'retry-after': String(wait),
        })
      return page(c, loginPage('That is not the admin token.'), 401)
    }
    c.header('set-cookie', sessionCookie(await createSession(token)))
    return c.redirect('/admin/ui', 303)
  })

  ui.post('/logout', async (c) => {
    const token = adminToken(c)
    const session = token
      ? await requestSession(token, c.req.raw.headers)
      : { kind: 'none' as const }
    if (
      token &&
      session.kind === 'valid' &&
      !(await csrfAllows(token, session.session, c.req.raw))
    ) {
      return c.json(
        {
          error: {
            code: 'unauthorized',
            message: 'Signing out needs the X-Pay-Gate-CSRF header of the session.',
          },
        },
        401
      )
    }
    c.header('set-cookie', sessionCookie(null))
    return c.body(null, 204)
  })

  ui.get('/app.js', (c) =>
    c.body(DASHBOARD_JS, 200, { 'content-type': 'text/javascript; charset=utf-8' })
  )
  ui.get('/app.css', (c) =>
    c.body(DASHBOARD_CSS, 200, { 'content-type': 'text/css; charset=utf-8' })
  )
  ui.get('/favicon.svg', (c) => c.body(FAVICON_SVG, 200, { 'content-type': 'image/svg+xml' }))
  return ui
}
