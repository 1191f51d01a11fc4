/**
 * @module account/routes
 * The key holder's portal at /account: sign in with an API key (POSTed, never in
 * a URL; the session cookie is never the key: account/session), then one page
 * with the balance, paged usage and ledger, top-up, rotation, the low-balance
 * alert and the OAuth grants (account/actions for what changes things).
 * Server-rendered, no script; every answer carries the pages' security headers.
 */
import { Hono } from 'hono'
import { hashApiKey, holderView, looksLikeApiKey } from '../credits'
import type { AppEnv } from '../env'
import { PAGE_CSS } from '../page'
import type { StripeSettingsSource, TopUpCheckout } from '../stripe'
import { mountActions } from './actions'
import type { OAuthGrants } from './grants'
import { htmlPage, renderAccount, signedIn } from './holder'
import { signInPage, type Notice } from './pages'
import { createSession, csrfAllows, sessionCookie, sessionSecret } from './session'

export interface AccountOptions {
  /** The routes.json `stripe` block, for the top-up packages. */
  stripeSettings: StripeSettingsSource
  /** Starting a card top-up of the holder's key (stripe `topUpCheckout`). */
  topUps: TopUpCheckout
  /** The OAuth provider's grants (account/grants); without it the grants section says none can connect. */
  grants?: OAuthGrants
}

/** What a redirect back to the page says; only these fixed texts. */
const DONE: Record<string, Notice> = {
  topped_up: {
    kind: 'ok',
    text: 'Thank you: the credits are added as soon as Stripe confirms the payment.',
  },
  alert_removed: { kind: 'ok', text: 'The low-balance alert is removed.' },
  grant_revoked: { kind: 'ok', text: 'The app is disconnected: its access stopped at once.' },
}

/** A whole number from 1 to `max` in a query parameter; null when absent; 'bad' when malformed. */
function pageNumber(text: string | undefined, max: number): number | null | 'bad' {
  if (text === undefined) return null
  return /^[1-9]\d{0,15}$/.test(text) && Number(text) <= max ? Number(text) : 'bad'
}

export function accountRoutes(options: AccountOptions): Hono<AppEnv> {
  const portal = new Hono<AppEnv>()
  const deps = { stripeSettings: options.stripeSettings, grants: options.grants }

  portal.get('/app.css', (c) =>
    c.body(PAGE_CSS, 200, {
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'max-age=300',
    })
  )

  portal.get('/', async (c) => {
    const holder = await signedIn(c)
    if (holder instanceof Response) return holder
    const before = pageNumber(c.req.query('ledger_before'), Number.MAX_SAFE_INTEGER)
    const usagePage = pageNumber(c.req.query('usage_page'), 500)
    if (before === 'bad' || usagePage === 'bad') {
      return renderAccount(c, deps, holder, {
        notice: { kind: 'error', text: 'That page does not exist; here is the first one.' },
        status: 400,
      })
    }
    const done = c.req.query('done')
    return renderAccount(c, deps, holder, {
      before,
      usagePage: usagePage ?? 1,
      notice: done === undefined ? undefined : DONE[done],
    })
  })

  portal.post('/login', async (c) => {
    const secret = sessionSecret(c.env)
    if (!secret) return signedIn(c) as Promise<Response>
    const origin = c.req.header('origin')
    if (
      (origin !== undefined && origin !== new URL(c.req.url).origin) ||
      c.req.header('sec-fetch-site') === 'cross-site'
    ) {
      return htmlPage(
        c,
        signInPage({ kind: 'error', text: 'Sign in from this gate’s own page.' }),
        403
      )
    }
    const form = (await c.req.parseBody().catch(() => ({}))) as Record<string, unknown>
    const key = typeof form.key === 'string' ? form.key.trim() : ''
    if (!looksLikeApiKey(key)) {
      return htmlPage(
        c,
        signInPage({
          kind: 'error',
          text: 'That is not an API key: a key is pg_ followed by 43 letters, digits, - or _.',
        }),
        400
      )
    }
    const credential = await hashApiKey(key)
    let view
    try {
      view = await holderView(c.env.CREDITS, credential)
    } catch {
      return htmlPage(
        c,
        signInPage({
          kind: 'error',
          text: 'Keys cannot be checked right now; try again in a moment.',
        }),
        503
      )
    }
    if (!view)
      return htmlPage(
        c,
        signInPage({ kind: 'error', text: 'That key does not open an account here.' }),
        401
      )
    return new Response(null, {
      status: 303,
      headers: {
        location: '/account',
        'set-cookie': sessionCookie(await createSession(secret, credential)),
        'cache-control': 'no-store',
      },
    })
  })

  portal.post('/logout', async (c) => {
    const holder = await signedIn(c)
    if (holder instanceof Response) return holder
    const form = (await c.req.parseBody().catch(() => ({}))) as Record<string, unknown>
    if (!(await csrfAllows(holder.secret, holder.session, c.req.raw, form.csrf))) {
      return renderAccount(c, deps, holder, {
        notice: {
          kind: 'error',
          text: 'That form is out of date or came from another site; you are still signed in.',
        },
        status: 403,
      })
    }
    return new Response(null, {
      status: 303,
      headers: {
        location: '/account',
        'set-cookie': sessionCookie(null),
        'cache-control': 'no-store',
      },
    })
  })

  mountActions(portal, deps, options.topUps)
  // The gate owns /account/*: nothing under it is ever forwarded, even to a "/*" route.
  portal.all('*', (c) =>
    htmlPage(
      c,
      signInPage({ kind: 'error', text: 'There is no such page; this is the account portal.' }),
      404
    )
  )
  return portal
}
