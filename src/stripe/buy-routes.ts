/**
 * @module stripe/buy-routes
 * Buying by card without a key, as pages: `GET /stripe/buy` lists the one-off
 * packages; its form (`POST /stripe/buy`) starts a keyless Checkout Session
 * (stripe/keyless), keeps the claim secret in this browser and sends it to
 * Stripe; Stripe sends it back to `GET /stripe/claim?session_id=…`, which shows
 * the key once, when the webhook has issued it.
 *
 * The claim cookie is `pg_claim_<session id>`: HttpOnly, Secure, Path=/stripe/claim,
 * and SameSite=Lax, not Strict, because the buyer comes back from Stripe by a
 * cross-site navigation, which Strict cookies do not ride. It is cleared when the
 * key is shown. Only this browser has it; the session id in the URL opens nothing.
 */
import type { Context, Hono } from 'hono'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { PAGE_CSS, PAGE_HEADERS } from '../page'
import { buyPage, messagePage, pendingPage, revealPage } from './buy-pages'
import { oneOffPackages, SESSION_ID_PATTERN, type KeylessCheckout } from './keyless'
import type { StripeSettingsSource } from './webhook'

/** A week: long enough for a delayed payment method (a bank debit) to be confirmed. */
const CLAIM_COOKIE_SECONDS = 7 * 24 * 60 * 60
const CLAIM_PATH = '/stripe/claim'

const cookieName = (sessionId: string) => `pg_claim_${sessionId}`

function claimCookie(sessionId: string, secret: string | null): string {
  const age = secret === null ? 0 : CLAIM_COOKIE_SECONDS
  return `${cookieName(sessionId)}=${secret ?? ''}; Max-Age=${age}; Path=${CLAIM_PATH}; HttpOnly; Secure; SameSite=Lax`
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === name) return rest.join('=')
  }
  return undefined
}

type Status = 200 | 400 | 403 | 404 | 502 | 503

function html(c: Context<AppEnv>, body: string, status: Status = 200): Response {
  return c.html(body, status, PAGE_HEADERS)
}

/** A GateError as a page: its own message (never a secret), its status. */
function errorPage(c: Context<AppEnv>, error: unknown): Response {
  if (!(error instanceof GateError)) throw error
  const status = ([400, 403, 404, 502, 503] as const).find((code) => code === error.status) ?? 400
  return html(c, messagePage('Buy credits', error.message), status)
}

/** Mount the pages on the /stripe sub-app. */
export function mountBuyRoutes(
  stripe: Hono<AppEnv>,
  settingsOf: StripeSettingsSource,
  keyless: KeylessCheckout
): void {
  stripe.get('/page.css', (c) =>
    c.body(PAGE_CSS, 200, {
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'max-age=300',
    })
  )

  stripe.get('/buy', async (c) => {
    const settings = await settingsOf(c.env)
    if (!settings || !c.env.STRIPE_SECRET_KEY || !c.env.STRIPE_CLAIMS) {
      return html(
        c,
        messagePage('Buy credits', 'Buying credits by card is not enabled on this gate.'),
        404
      )
    }
    const notice =
      c.req.query('cancelled') !== undefined
        ? { kind: 'ok' as const, text: 'Payment cancelled; nothing was charged.' }
        : undefined
    return html(c, buyPage(oneOffPackages(settings), notice))
  })

  stripe.post('/buy', async (c) => {
    const own = new URL(c.req.url).origin
    const origin = c.req.header('origin')
    if (
      (origin !== undefined && origin !== own) ||
      c.req.header('sec-fetch-site') === 'cross-site'
    ) {
      return html(
        c,
        messagePage('Buy credits', 'Start the purchase from this gate’s own page.'),
        403
      )
    }
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>)
    const name = typeof form.package === 'string' ? form.package : ''
    try {
      const started = await keyless.start(c.env, {
        package: name,
        returnUrl: `${own}${CLAIM_PATH}`,
        cancelUrl: `${own}/stripe/buy?cancelled`,
      })
      c.header('set-cookie', claimCookie(started.sessionId, started.claimSecret))
      for (const [header, value] of Object.entries(PAGE_HEADERS)) c.header(header, value)
      return c.redirect(started.url, 303)
    } catch (error) {
      return errorPage(c, error)
    }
  })

  stripe.get('/claim', async (c) => {
    const sessionId = c.req.query('session_id') ?? ''
    if (!SESSION_ID_PATTERN.test(sessionId))
      return html(c, messagePage('Your API key', 'This link does not name a purchase.'), 400)
    const secret = cookieValue(c.req.header('cookie'), cookieName(sessionId))
    if (!secret) {
      return html(
        c,
        messagePage(
          'Your API key',
          'This browser did not start this purchase, or has shown its key already. The key is shown only in the browser that paid; if that is lost, ask the operator (they can issue you a new key for the same credits).'
        ),
        403
      )
    }
    try {
      const outcome = await keyless.claim(c.env, sessionId, secret)
      switch (outcome.kind) {
        case 'pending':
          return html(c, pendingPage())
        case 'revealed':
          c.header('set-cookie', claimCookie(sessionId, null))
          return html(c, revealPage(outcome.key, outcome.keyId, outcome.credits))
        case 'already_revealed':
          c.header('set-cookie', claimCookie(sessionId, null))
          return html(
            c,
            messagePage(
              'Your API key',
              'This purchase’s key was shown already, and is never shown twice. If you did not copy it, ask the operator for a new key.'
            ),
            403
          )
        case 'not_yours':
          return html(
            c,
            messagePage(
              'Your API key',
              'This browser did not start this purchase; its key is shown only in the browser that paid.'
            ),
            403
          )
      }
    } catch (error) {
      return errorPage(c, error)
    }
  })
}
