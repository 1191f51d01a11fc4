/**
 * @module oauth/consent-page
 * The consent page, server-rendered: which client asks (its name, and its domain
 * when a Client ID Metadata Document vouches for it), where access goes (the
 * redirect host, with a warning for an app on this computer: MCP security best
 * practices), what it costs (the route's prices), what it may use, and the ways to
 * authorize. No script; every value from the client is escaped. Nothing on it is
 * secret: the form carries the provider's one-use handle, never a key or a token.
 */
import type { ConsentDescription } from '@cloudflare/workers-oauth-provider'
import { formatDollars } from '../money'
import type { McpPriceBook, OAuthTrial } from '../pricing'
import type { AccountSummary } from './sign-in'

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left}
fieldset{border:1px solid #bbb;border-radius:6px;margin:1rem 0;padding:.8rem 1rem}label{display:block;margin:.3rem 0}
input[type=password]{width:100%;max-width:28rem;padding:.4rem;font:inherit}button{font:inherit;padding:.4rem 1rem;margin-top:.4rem}
.warn{background:#fff4d6;border-left:4px solid #c98a00;padding:.5rem .8rem}.error{color:#a00000}`

/** A whole page: headers say no framing and no caching; `body` is already escaped. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
<main>
${body}
</main>
</html>`
}

export interface ConsentView {
  details: ConsentDescription
  handle: string
  /** This page's own address (path and query), to start again from after a refusal. */
  again: string
  /** The route's path (the resource), for the heading. */
  path: string
  book: McpPriceBook
  trial?: OAuthTrial
  /** Buying credits with one x402 payment, when the gate sells them (oauth/purchase). */
  buy?: { minMicros: number; maxMicros: number }
  /** Buying a key by card (Stripe Checkout without a key, /stripe/buy), when the gate sells them. */
  card?: boolean
  /** A message to show above the forms (our own fixed text). */
  notice?: string
}

function priceRows(book: McpPriceBook): string {
  const price = (micros: number) => (micros === 0 ? 'free' : `$${formatDollars(micros)}`)
  const rows = [...book.tools].map(
    ([name, tool]) => `<tr><td>${escapeHtml(name)}</td><td>${price(tool.micros)}</td></tr>`
  )
  rows.push(`<tr><td>any other tool or priced call</td><td>${price(book.defaultMicros)}</td></tr>`)
  return `<table><thead><tr><th scope="col">Tool</th><th scope="col">Price per call</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
}

function trialForm(trial: OAuthTrial, hidden: string): string {
  const tools = trial.allowTools ? trial.allowTools.map(escapeHtml).join(', ') : 'every tool above'
  return `<form method="post"><fieldset><legend>Start a free trial</legend>
<p>A new account with $${formatDollars(trial.micros)} of credits for ${trial.days} day${trial.days === 1 ? '' : 's'}; it may call ${tools}.</p>
${hidden}
<button name="decision" value="trial">Start the trial and allow</button>
</fieldset></form>`
}

/**
 * Buying a key by card, then signing in with it: Stripe Checkout shows the new key once,
 * in its own tab (/stripe/buy), and this page stays open with its handle for the sign-in.
 */
const CARD_SECTION = `<section aria-labelledby="card-title"><h3 id="card-title">Buy a key by card</h3>
<p><a href="/stripe/buy" target="_blank" rel="noopener">Buy credits by card</a> (Stripe, in a new tab): the new key is shown there once.
Then come back and sign in with it above.</p></section>`

function buyForm(buy: { minMicros: number; maxMicros: number }, hidden: string): string {
  return `<form method="post"><fieldset><legend>Buy credits with one x402 payment (USDC)</legend>
${hidden}
<label for="amount">Dollars of credits, $${formatDollars(buy.minMicros)} to $${formatDollars(buy.maxMicros)}</label>
<input id="amount" name="amount" inputmode="decimal" required>
<button name="decision" value="buy">See what to pay</button>
</fieldset></form>`
}

export function consentPage(view: ConsentView): string {
  const { details, handle } = view
  const name = escapeHtml(details.clientName)
  const origin = details.clientDomain
    ? `Published by <strong>${escapeHtml(details.clientDomain)}</strong>.`
    : 'This app registered itself: its name is not verified.'
  const local = details.redirectIsLoopback
    ? '<p class="warn" role="note"><strong>Access goes to an app on this computer.</strong> Continue only if you just started signing in from it.</p>'
    : ''
  const notice = view.notice ? `<p class="error" role="alert">${escapeHtml(view.notice)}</p>` : ''
  const hidden = `<input type="hidden" name="handle" value="${escapeHtml(handle)}"><input type="hidden" name="again" value="${escapeHtml(view.again)}"><input type="hidden" name="client" value="${name}">`
  return page(
    `Allow ${details.clientName}?`,
    `<h1>Allow ${name} to use ${escapeHtml(view.path)}?</h1>
<p>${origin} Access will be sent to <strong>${escapeHtml(details.redirectHost)}</strong>.</p>
${local}${notice}
<h2>What it may use</h2>
<p>Scope <code>mcp</code>: calls to this MCP server, paid from the account you choose below, within that account's own tool lists
(a key limited to some tools lets the app call only those). You can revoke this access at any time.</p>
<h2>Prices</h2>
${priceRows(view.book)}
<h2>Pay with</h2>
<form method="post"><fieldset><legend>An API key you have</legend>
${hidden}
<label for="key">API key (starts with <code>pg_</code>)</label>
<input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required>
<button name="decision" value="key">Sign in</button>
</fieldset></form>
${view.trial ? trialForm(view.trial, hidden) : ''}
${view.buy ? buyForm(view.buy, hidden) : ''}
${view.card ? CARD_SECTION : ''}
<form method="post">${hidden}<button name="decision" value="deny">Deny</button></form>`
  )
}

/** A page for a request that cannot go on (expired, used, or refused). */
export function problemPage(title: string, message: string, again?: string): string {
  const retry = again ? `<p><a href="${escapeHtml(again)}">Start again</a></p>` : ''
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1><p role="alert">${escapeHtml(message)}</p>${retry}`
  )
}

export interface ConfirmView {
  clientName: string
  handle: string
  again: string
  signIn: string
  account: AccountSummary
}

/** The key's tool lists, as what the client may use. */
function toolScopes(account: AccountSummary): string {
  const list = (tools: string[]) =>
    tools.map((tool) => `<code>${escapeHtml(tool)}</code>`).join(', ')
  const allowed =
    account.allowTools === null
      ? 'every tool of this server'
      : account.allowTools.length === 0
        ? 'no tool'
        : `only ${list(account.allowTools)}`
  const denied = account.denyTools.length > 0 ? `, never ${list(account.denyTools)}` : ''
  return `${allowed}${denied}`
}

/** After a key signed in: the account, what the client may use with it, Allow or Deny. */
export function confirmPage(view: ConfirmView): string {
  const name = escapeHtml(view.clientName)
  const hidden = `<input type="hidden" name="handle" value="${escapeHtml(view.handle)}"><input type="hidden" name="again" value="${escapeHtml(view.again)}">`
  return page(
    `Allow ${view.clientName}?`,
    `<h1>Allow ${name} to use this account?</h1>
<p>Signed in to <strong>${escapeHtml(view.account.name)}</strong>, with $${formatDollars(view.account.available)} available.</p>
<h2>What it may use</h2>
<ul><li>Scope <code>mcp</code>: calls paid from this account, to ${toolScopes(view.account)}.</li></ul>
<form method="post">${hidden}<input type="hidden" name="signin" value="${escapeHtml(view.signIn)}">
<button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button></form>`
  )
}

export interface PayView {
  clientName: string
  handle: string
  again: string
  micros: number
  /** The PAYMENT-REQUIRED value to sign (base64 JSON, x402 v2). */
  required: string
}

/** Step two of buying: the requirements to sign, and where to put the signed payment. */
export function payPage(view: PayView): string {
  const hidden = `<input type="hidden" name="handle" value="${escapeHtml(view.handle)}"><input type="hidden" name="again" value="${escapeHtml(view.again)}"><input type="hidden" name="amount" value="${formatDollars(view.micros)}">`
  return page(
    'Pay with x402',
    `<h1>Buy $${formatDollars(view.micros)} of credits for ${escapeHtml(view.clientName)}</h1>
<p>Sign these payment requirements with your x402 wallet (they are the <code>PAYMENT-REQUIRED</code> value), then paste its
<code>PAYMENT-SIGNATURE</code> value below. The payment is settled on chain; the new account holds exactly what settled.</p>
<form method="post">${hidden}
<label for="required">Payment requirements</label>
<textarea id="required" readonly rows="6" cols="60">${escapeHtml(view.required)}</textarea>
<label for="payment">Your signed payment</label>
<textarea id="payment" name="payment" rows="6" cols="60" required spellcheck="false"></textarea>
<p><button name="decision" value="pay">Pay and allow</button> <button name="decision" value="deny" formnovalidate>Deny</button></p>
</form>`
  )
}

/** After a purchase whose authorization could not be completed: the key, shown once, so the credits are not lost. */
export function boughtKeyPage(key: string, transaction: string): string {
  return page(
    'Credits bought',
    `<h1>Your payment settled, but the sign-in could not finish</h1>
<p role="alert">Transaction ${escapeHtml(transaction)}. Your credits are on this key, shown only this once: keep it, then sign in with it.</p>
<p><code>${escapeHtml(key)}</code></p>`
  )
}
