/**
 * @module account/actions
 * What a signed-in holder can change, each a form POST checked against the
 * session's CSRF token first (account/session): top up by card, rotate the key
 * (the new key shown once, the session moved to it), set or remove the
 * low-balance alert (the URL checked as operator webhooks are, a new signing
 * secret shown once), and revoke an OAuth grant. Bad input gets the page back
 * with a clear error and changes nothing.
 */
import type { Context, Hono } from 'hono'
import { hashApiKey, rotateKey, setHolderAlert } from '../credits'
import type { AppEnv } from '../env'
import { GateError } from '../errors'
import { parseDollars } from '../money'
import { checkHolderWebhookUrl, emitOperatorEvent, newHolderWebhookSecret } from '../notify'
import type { TopUpCheckout } from '../stripe'
import {
  renderAccount,
  signedIn,
  htmlPage,
  type Holder,
  type PageStatus,
  type PortalDeps,
} from './holder'
import { revealPage } from './pages'
import { createSession, csrfAllows, csrfToken, sessionCookie } from './session'

type Form = Record<string, unknown>
const MAX_URL_CHARS = 2048

/** Run `act` for a signed-in holder whose form carries the session's CSRF token. */
function action(
  deps: PortalDeps,
  act: (c: Context<AppEnv>, holder: Holder, form: Form) => Promise<Response>
) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    const holder = await signedIn(c)
    if (holder instanceof Response) return holder
    const form = (await c.req.parseBody().catch(() => ({}))) as Form
    if (!(await csrfAllows(holder.secret, holder.session, c.req.raw, form.csrf))) {
      return renderAccount(c, deps, holder, {
        notice: {
          kind: 'error',
          text: 'That form is out of date or came from another site; nothing was changed. Try again from this page.',
        },
        status: 403,
      })
    }
    try {
      return await act(c, holder, form)
    } catch (error) {
      if (!(error instanceof GateError)) throw error
      const status =
        ([400, 403, 404, 502, 503] as const).find((code) => code === error.status) ?? 400
      return renderAccount(c, deps, holder, {
        notice: { kind: 'error', text: error.message },
        status,
      })
    }
  }
}

const refuse = (
  c: Context<AppEnv>,
  deps: PortalDeps,
  holder: Holder,
  text: string,
  status: PageStatus = 400
) => renderAccount(c, deps, holder, { notice: { kind: 'error', text }, status })

export function mountActions(portal: Hono<AppEnv>, deps: PortalDeps, topUps: TopUpCheckout): void {
  portal.post(
    '/topup',
    action(deps, async (c, holder, form) => {
      if (holder.view.account.status === 'revoked')
        return refuse(c, deps, holder, 'A revoked key cannot be topped up.', 403)
      const own = new URL(c.req.url).origin
      const name = typeof form.package === 'string' ? form.package : ''
      const session = await topUps.start(c.env, {
        keyId: holder.view.account.id,
        package: name,
        returnUrl: `${own}/account?done=topped_up`,
        cancelUrl: `${own}/account`,
      })
      return c.redirect(session.url, 303)
    })
  )

  portal.post(
    '/rotate',
    action(deps, async (c, holder, form) => {
      if (form.confirm !== 'yes')
        return refuse(
          c,
          deps,
          holder,
          'Tick the box to confirm: rotating stops the current key at once. Nothing was changed.'
        )
      const rotated = await rotateKey(c.env.CREDITS, holder.view.name).catch(() => null)
      if (rotated === null)
        throw new GateError(
          'ledger_unavailable',
          'Your key could not be rotated right now; nothing was changed.'
        )
      if (!rotated.ok)
        return refuse(
          c,
          deps,
          holder,
          rotated.reason === 'key_revoked'
            ? 'A revoked key cannot be rotated.'
            : 'The key cannot be rotated in its current state.',
          403
        )
      emitOperatorEvent(
        c.env,
        'key.rotated',
        { key: { id: rotated.view.id, name: rotated.view.name }, source: 'holder' },
        (promise) => c.executionCtx.waitUntil(promise)
      )
      // The session moves to the new key: the old one opens nothing any more.
      const session = await createSession(holder.secret, await hashApiKey(rotated.key))
      const html = revealPage(
        'Your new API key',
        'Your old key has stopped working. Use this one from now on, in every client.',
        rotated.key,
        await csrfToken(holder.secret, session)
      )
      return htmlPage(c, html, 200, sessionCookie(session))
    })
  )

  portal.post(
    '/alert',
    action(deps, async (c, holder, form) => {
      if (holder.view.account.status === 'revoked')
        return refuse(c, deps, holder, 'A revoked key has no alerts.', 403)
      if (form.remove === '1') {
        const removed = await setHolderAlert(c.env.CREDITS, holder.credential, null).catch(
          () => undefined
        )
        if (removed === undefined)
          throw new GateError(
            'ledger_unavailable',
            'The alert could not be removed right now; nothing was changed.'
          )
        return c.redirect('/account?done=alert_removed#alert-title', 303)
      }
      const url = typeof form.url === 'string' ? form.url.trim() : ''
      const threshold = parseDollars(
        typeof form.threshold === 'string' ? form.threshold.trim() : ''
      )
      if (url.length > MAX_URL_CHARS)
        return refuse(
          c,
          deps,
          holder,
          `The webhook URL is longer than ${MAX_URL_CHARS} characters. Nothing was changed.`
        )
      const checked = checkHolderWebhookUrl(c.env, url)
      if (!checked.ok)
        return refuse(
          c,
          deps,
          holder,
          `That webhook URL is refused: ${checked.reason}. Nothing was changed.`
        )
      if (!threshold.ok || threshold.micros <= 0)
        return refuse(
          c,
          deps,
          holder,
          'Say the threshold in dollars, above 0, such as 1.00. Nothing was changed.'
        )
      const secret = newHolderWebhookSecret()
      const saved = await setHolderAlert(c.env.CREDITS, holder.credential, {
        url: checked.url.href,
        secret,
        threshold: threshold.micros,
      }).catch(() => undefined)
      if (saved === undefined)
        throw new GateError(
          'ledger_unavailable',
          'The alert could not be saved right now; nothing was changed.'
        )
      const intro = `Deliveries to ${checked.url.host} are signed with this secret (X-Pay-Gate-Signature: t=…,v1=HMAC-SHA256 of "t.body"). Saving the alert again makes a new one.`
      return htmlPage(
        c,
        revealPage(
          'Your alert’s signing secret',
          intro,
          secret,
          await csrfToken(holder.secret, holder.session)
        )
      )
    })
  )

  // ─── OAuth grants (account/grants): listed on the page, revoked here, when the OAuth provider is wired in. ───
  portal.post(
    '/grants/revoke',
    action(deps, async (c, holder, form) => {
      if (!deps.grants)
        return refuse(c, deps, holder, 'No app can connect to this gate by OAuth yet.', 404)
      const grant = typeof form.grant === 'string' ? form.grant : ''
      if (grant === '' || grant.length > 200)
        return refuse(c, deps, holder, 'Say which app to disconnect. Nothing was changed.')
      if (
        !(await deps.grants.revoke(c.env, new URL(c.req.url).origin, holder.view.account.id, grant))
      )
        return refuse(c, deps, holder, 'That app is not connected to this account.', 404)
      return c.redirect('/account?done=grant_revoked#oauth-grants', 303)
    })
  )
}
