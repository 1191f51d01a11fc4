/**
 * @module account/pages
 * The portal's small pages: signing in, and the one-time reveals (a rotated key,
 * a webhook's signing secret). Every value is escaped; a key appears only in the
 * reveal right after a rotation.
 */
import { escapeHtml, noticeHtml, pageHtml } from '../page'

export const STYLESHEET = '/account/app.css'

export type Notice = { kind: 'error' | 'ok'; text: string }

/** A page of the portal, with the header (and a sign-out button when signed in). */
export function portalPage(title: string, body: string, signOutCsrf?: string): string {
  const signOut = signOutCsrf
    ? `<form method="post" action="/account/logout" class="inline"><input type="hidden" name="csrf" value="${escapeHtml(signOutCsrf)}"><button type="submit" class="secondary">Sign out</button></form>`
    : ''
  return pageHtml(
    title,
    `<header><h1>Your pay-gate account</h1>${signOut}</header>\n<main>\n${body}\n</main>`,
    { stylesheet: STYLESHEET }
  )
}

/** Sign in with an API key: posted in the body, never in a URL. */
export function signInPage(notice?: Notice): string {
  return portalPage(
    'Sign in: your pay-gate account',
    `<section class="narrow" aria-labelledby="signin-title"><h2 id="signin-title">Sign in with your API key</h2>
${noticeHtml(notice)}<form method="post" action="/account/login">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required aria-describedby="key-hint">
<p id="key-hint" class="hint">The key starts with <code>pg_</code>. It is sent to this gate only, and is not kept in your browser: you stay signed in with a cookie for 8 hours.</p>
<button type="submit">Sign in</button>
</form>
<p class="hint">No key yet? <a href="/stripe/buy">Buy credits by card</a>.</p></section>`
  )
}

/** A secret shown once, with what it is for. */
export function revealPage(title: string, intro: string, secret: string, csrf: string): string {
  return portalPage(
    title,
    `<section class="reveal" aria-labelledby="reveal-title"><h2 id="reveal-title">${escapeHtml(title)}</h2>
<p>${escapeHtml(intro)}</p>
<p><strong>Copy it now: it is shown only this once.</strong></p>
<code id="secret">${escapeHtml(secret)}</code></section>
<p><a href="/account">Back to your account</a></p>`,
    csrf
  )
}
