/**
 * @module oauth/consent
 * GET and POST /oauth/authorize. The provider validates the request (client,
 * exact redirect URI, PKCE S256, resource) and keeps it server-side between the
 * page and the answer, behind a one-use handle bound to this browser
 * (beginConsent / approveConsent: CSRF and framing are the provider's). Errors
 * follow its rule: redirect to the client only with a validated redirect URI
 * (RFC 6749 §4.1.2.1), else render here. The authorization is completed only
 * after the account is known and bound (oauth/grants), so a refusal leaves nothing.
 */
import {
  AuthorizationError,
  CimdFetchError,
  type OAuthHelpers,
} from '@cloudflare/workers-oauth-provider'
import type { Context } from 'hono'
import { clientOf } from '../admin'
import type { AppEnv } from '../env'
import { formatDollars } from '../money'
import type { CompiledRoute, PriceTable } from '../pricing'
import { boughtKeyPage, confirmPage, consentPage, payPage, problemPage } from './consent-page'
import { amountOf, buyAccount, offerOf, paymentRequiredFor } from './purchase'
import { completeGrant, type SignedIn } from './grants'
import type { OAuthServers } from './server'
import { keepSignIn, takeSignIn } from './sign-in-record'
import { abandonAccount, signInWithKey, startTrial, type SignInResult } from './sign-in'

/**
 * A page of ours. No `form-action` in the policy: the consent form's answer is a
 * redirect to the client's own redirect URI, which browsers hold to it.
 */
function html(body: string, status: number, headers?: Headers): Response {
  const answer = new Headers(headers)
  answer.set('content-type', 'text/html; charset=utf-8')
  answer.set('cache-control', 'no-store')
  answer.set('x-frame-options', 'DENY')
  answer.set(
    'content-security-policy',
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
  )
  return new Response(body, { status, headers: answer })
}

/** The OAuth route a (provider-validated) resource names. */
function routeOf(servers: OAuthServers, resource: string | undefined): CompiledRoute | undefined {
  for (const entry of servers.resources.values())
    if (entry.resource === resource) return entry.route
  return undefined
}

/** A refused authorization request: back to the client only when the provider vouches for the redirect. */
function refused(error: unknown): Response {
  if (error instanceof AuthorizationError && error.redirectTo)
    return Response.redirect(error.redirectTo, 302)
  if (error instanceof AuthorizationError)
    return html(problemPage('This sign-in cannot go on', error.description), 400)
  if (error instanceof CimdFetchError)
    return html(
      problemPage(
        'This app could not be verified',
        'Its client metadata document could not be read.'
      ),
      400
    )
  throw error
}

export async function showConsent(
  c: Context<AppEnv>,
  servers: OAuthServers,
  table: PriceTable
): Promise<Response> {
  const oauth = servers.authorization.getOAuthApi(c.env)
  try {
    const request = await oauth.parseAuthRequest(c.req.raw)
    const route = routeOf(servers, request.resource)
    if (!route || route.pricing.kind !== 'mcp')
      return html(problemPage('Unknown resource', 'This server does not offer that resource.'), 400)
    const details = await oauth.describeConsent(request) // before beginConsent: a failed lookup stores nothing
    const consent = await oauth.beginConsent(request)
    const url = new URL(c.req.url)
    const offer = offerOf(table)
    const buy = offer ? { minMicros: offer.minMicros, maxMicros: offer.maxMicros } : undefined
    const view = {
      details,
      handle: consent.handle,
      again: `${url.pathname}${url.search}`,
      path: route.path,
      book: route.pricing.book,
      trial: route.oauth?.trial,
      buy,
      card: sellsKeysByCard(c.env, table),
    }
    return html(consentPage(view), 200, consent.headers)
  } catch (error) {
    return refused(error)
  }
}

/** Whether /stripe/buy sells keys here: Stripe configured, with a one-off package, and the claims binding. */
function sellsKeysByCard(env: AppEnv['Bindings'], table: PriceTable): boolean {
  const stripe = table.stripe
  if (!stripe || !env.STRIPE_SECRET_KEY || !env.STRIPE_CLAIMS) return false
  return [...stripe.packages.values()].some((pkg) => pkg.name !== stripe.subscriptionPackage)
}

const MESSAGES: Record<Exclude<SignInResult, { ok: true }>['reason'], string> = {
  invalid_key: 'That API key was not accepted: it is unknown, revoked, suspended or expired.',
  trial_used: 'No free trial is left for you today.',
  account_unavailable:
    'The account could not be reached; nothing was changed. Try again in a moment.',
}

/** Where "start again" may lead: this endpoint only. */
function againOf(form: FormData): string | undefined {
  const again = form.get('again')
  return typeof again === 'string' && again.startsWith('/oauth/authorize?') ? again : undefined
}

export async function answerConsent(
  c: Context<AppEnv>,
  servers: OAuthServers,
  table: PriceTable
): Promise<Response> {
  const oauth = servers.authorization.getOAuthApi(c.env)
  let form: FormData
  try {
    form = await c.req.raw.formData()
  } catch {
    return html(problemPage('Bad request', 'The form could not be read.'), 400)
  }
  const handle = String(form.get('handle') ?? '')
  const decision = form.get('decision')
  const again = againOf(form)
  try {
    const clientName = String(form.get('client') ?? 'This app').slice(0, 200)
    if (decision === 'buy' || decision === 'pay')
      return await purchase(c, oauth, table, form, { decision, handle, clientName, again })
    if (decision !== 'key' && decision !== 'trial' && decision !== 'allow') {
      const denied = await oauth.denyConsent(c.req.raw, handle) // access_denied, state and iss, to the client
      denied.headers.set('location', denied.redirectTo)
      return new Response(null, { status: 302, headers: denied.headers })
    }
    const kv = c.env.OAUTH_KV as KVNamespace
    if (decision === 'key') {
      // A wrong key is refused before the handle is used, so the person can go back and retry.
      const key = await signInWithKey(c.env, String(form.get('key') ?? ''))
      if (!key.ok || !key.account)
        return html(
          problemPage(
            'Not signed in',
            MESSAGES[key.ok ? 'account_unavailable' : key.reason],
            again
          ),
          !key.ok && key.reason === 'invalid_key' ? 400 : 503
        )
      const signIn = await keepSignIn(kv, handle, key.who)
      return html(
        confirmPage({ clientName, handle, again: again ?? '', signIn, account: key.account }),
        200
      )
    }
    const kept =
      decision === 'allow' ? await takeSignIn(kv, String(form.get('signin') ?? ''), handle) : null
    if (decision === 'allow' && !kept)
      return html(problemPage('This page has expired', 'Sign in again.', again), 400)
    const approved = await oauth.approveConsent(c.req.raw, handle)
    const trial = routeOf(servers, approved.request.resource)?.oauth?.trial
    let signedIn: SignInResult
    if (kept) signedIn = { ok: true, who: kept }
    else if (trial)
      signedIn = await startTrial(c.env, trial, clientOf(c.req.raw.headers, c.env.CLIENT_IP_HEADER))
    else
      return html(
        problemPage('No free trial here', 'This server offers no free trial.', again),
        400
      )
    if (!signedIn.ok)
      return html(
        problemPage('Not signed in', MESSAGES[signedIn.reason], again),
        signedIn.reason === 'trial_used' ? 429 : 503
      )
    return await finish(c, oauth, approved, signedIn.who, decision === 'trial', again)
  } catch (error) {
    if (error instanceof AuthorizationError && !error.redirectTo) {
      return html(
        problemPage(
          'This page has expired',
          'It was used already, or opened in another browser.',
          again
        ),
        400
      )
    }
    return refused(error)
  }
}

/** (b) with x402: show what to pay, then take the payment (oauth/purchase), which makes the account. */
async function purchase(
  c: Context<AppEnv>,
  oauth: OAuthHelpers,
  table: PriceTable,
  form: FormData,
  step: { decision: 'buy' | 'pay'; handle: string; clientName: string; again: string | undefined }
): Promise<Response> {
  const { handle, clientName, again } = step
  const offer = offerOf(table)
  const micros = offer ? amountOf(offer, form.get('amount')) : undefined
  if (!offer) return html(problemPage('Not for sale', 'Credits are not sold here.', again), 400)
  if (micros === undefined) {
    const range = `$${formatDollars(offer.minMicros)} to $${formatDollars(offer.maxMicros)}`
    return html(problemPage('Not bought', `Choose an amount from ${range}.`, again), 400)
  }
  const origin = new URL(c.req.url).origin
  if (step.decision === 'buy')
    return html(
      payPage({
        clientName,
        handle,
        again: again ?? '',
        micros,
        required: paymentRequiredFor(offer, origin, micros),
      }),
      200
    )
  // The handle first: money is taken only for an authorization that can complete.
  const approved = await oauth.approveConsent(c.req.raw, handle)
  const bought = await buyAccount(c.env, offer, origin, micros, String(form.get('payment') ?? ''))
  if (!bought.ok) return html(problemPage('Not bought', bought.message, again), 402)
  const completed = await completeGrant(c.env, oauth, approved.request, bought.who)
  if (!completed.ok) return html(boughtKeyPage(bought.key, bought.transaction), 200)
  approved.headers.set('location', completed.redirectTo)
  approved.headers.set('cache-control', 'no-store')
  return new Response(null, { status: 302, headers: approved.headers })
}

async function finish(
  c: Context<AppEnv>,
  oauth: OAuthHelpers,
  approved: Awaited<ReturnType<OAuthHelpers['approveConsent']>>,
  who: SignedIn,
  isNew: boolean,
  again: string | undefined
): Promise<Response> {
  const completed = await completeGrant(c.env, oauth, approved.request, who)
  if (!completed.ok) {
    if (isNew) await abandonAccount(c.env, who)
    return html(problemPage('Not signed in', MESSAGES.account_unavailable, again), 503)
  }
  approved.headers.set('location', completed.redirectTo)
  approved.headers.set('cache-control', 'no-store')
  return new Response(null, { status: 302, headers: approved.headers })
}
