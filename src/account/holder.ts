/**
 * @module account/holder
 * Who is signed in, for each portal request: the session checked (account/session),
 * then the account read as its key holder with the session's credential, so a
 * key rotated or revoked elsewhere is signed out at once. And the main page,
 * rendered for that holder with its usage and ledger pages.
 */
import type { Context } from 'hono'
import { holderView, type HolderView } from '../credits'
import type { AppEnv } from '../env'
import { PAGE_HEADERS } from '../page'
import { oneOffPackages, type StripeSettingsSource } from '../stripe'
import { recentEvents, type UsageEvent } from '../usage'
import { accountPage } from './account-page'
import type { OAuthGrant, OAuthGrants } from './grants'
import { portalPage, signInPage, type Notice } from './pages'
import { csrfToken, requestSession, sessionCookie, sessionSecret } from './session'

export type HolderAccount = Extract<HolderView, { ok: true }> & { name: string }

export interface Holder {
  secret: string
  session: string
  credential: string
  view: HolderAccount
}

export interface PortalDeps {
  stripeSettings: StripeSettingsSource
  grants?: OAuthGrants
}

export type PageStatus = 200 | 400 | 401 | 403 | 404 | 502 | 503

export const LEDGER_PAGE = 20
export const USAGE_PAGE = 20
const USAGE_DAYS = 90

export function htmlPage(
  c: Context<AppEnv>,
  html: string,
  status: PageStatus = 200,
  cookie?: string
): Response {
  const headers: Record<string, string> = { ...PAGE_HEADERS }
  if (cookie !== undefined) headers['set-cookie'] = cookie
  return c.html(html, status, headers)
}

/** The signed-in holder, or the page to answer instead (sign in, or the portal is off). */
export async function signedIn(c: Context<AppEnv>): Promise<Holder | Response> {
  const secret = sessionSecret(c.env)
  if (!secret) {
    return htmlPage(
      c,
      portalPage(
        'Account portal unavailable',
        '<p class="error" role="alert">The account portal is off on this gate: the operator sets ACCOUNT_SESSION_SECRET (or ADMIN_TOKEN) to turn it on.</p>'
      ),
      503
    )
  }
  const session = await requestSession(secret, c.req.raw.headers)
  if (session.kind === 'none') return htmlPage(c, signInPage())
  if (session.kind === 'invalid')
    return htmlPage(
      c,
      signInPage({ kind: 'error', text: 'Your session has ended; sign in again.' }),
      401,
      sessionCookie(null)
    )
  let view: HolderAccount | null
  try {
    view = await holderView(c.env.CREDITS, session.credential)
  } catch {
    return htmlPage(
      c,
      portalPage(
        'Account unavailable',
        '<p class="error" role="alert">Your account cannot be read right now; reload this page in a moment.</p>'
      ),
      503
    )
  }
  if (!view) {
    const text =
      'This key no longer opens the account (it was rotated or revoked); sign in with the current key.'
    return htmlPage(c, signInPage({ kind: 'error', text }), 401, sessionCookie(null))
  }
  return { secret, session: session.value, credential: session.credential, view }
}

async function usagePage(
  c: Context<AppEnv>,
  keyId: string,
  page: number
): Promise<{ rows: UsageEvent[]; page: number; more: boolean } | null> {
  const db = c.env.USAGE_DB
  if (!db) return null
  const now = Date.now()
  const rows = await recentEvents(db, {
    from: now - USAGE_DAYS * 86_400_000,
    to: now + 1,
    limit: USAGE_PAGE + 1,
    offset: (page - 1) * USAGE_PAGE,
    keyId,
  })
  return { rows: rows.slice(0, USAGE_PAGE), page, more: rows.length > USAGE_PAGE }
}

/** The main page for a holder, its ledger read a page at a time (one row more, to know whether older ones exist). */
export async function renderAccount(
  c: Context<AppEnv>,
  deps: PortalDeps,
  holder: Holder,
  options: {
    notice?: Notice
    status?: PageStatus
    before?: number | null
    usagePage?: number
    cookie?: string
  } = {}
): Promise<Response> {
  const before = options.before ?? null
  let notice = options.notice
  let view = holder.view
  try {
    view =
      (await holderView(c.env.CREDITS, holder.credential, LEDGER_PAGE + 1, before ?? undefined)) ??
      view
  } catch {
    notice ??= { kind: 'error', text: 'Your ledger cannot be read right now.' }
  }
  const rows = view.ledger.slice(0, LEDGER_PAGE)
  const older = view.ledger.length > LEDGER_PAGE ? (rows.at(-1)?.seq ?? null) : null
  const usage = await usagePage(c, view.account.id, options.usagePage ?? 1).catch(() => {
    notice ??= { kind: 'error', text: 'Your usage cannot be read right now.' }
    return { rows: [], page: options.usagePage ?? 1, more: false }
  })
  const settings = await deps.stripeSettings(c.env).catch(() => undefined)
  const packages = settings && c.env.STRIPE_SECRET_KEY ? oneOffPackages(settings) : null
  let grants: OAuthGrant[] | null = null
  if (deps.grants) {
    grants = await deps.grants.list(c.env, new URL(c.req.url).origin, view.account.id).catch(() => {
      notice ??= { kind: 'error', text: 'Your connected apps cannot be read right now.' }
      return []
    })
  }
  const csrf = await csrfToken(holder.secret, options.cookie ?? holder.session)
  const html = accountPage({
    csrf,
    account: view.account,
    alert: view.alert,
    ledger: { rows, before, older },
    usage,
    packages,
    grants,
    notice,
  })
  return htmlPage(
    c,
    html,
    options.status ?? 200,
    options.cookie === undefined ? undefined : sessionCookie(options.cookie)
  )
}
