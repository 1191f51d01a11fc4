/**
 * @module stripe/buy-pages
 * The HTML of buying by card without a key: the package list (/stripe/buy) and
 * the success page (/stripe/claim) that shows the new key once. Every value is
 * escaped; the key appears only in the one reveal.
 */
import { formatDollars } from '../money'
import { escapeHtml, formatPrice, noticeHtml, pageHtml } from '../page'
import type { StripePackage } from '../pricing'

export const BUY_STYLESHEET = '/stripe/page.css'

const page = (title: string, body: string, refreshSeconds?: number) =>
  pageHtml(
    title,
    `<header><h1>Buy credits</h1></header>\n<main class="narrow">\n${body}\n</main>`,
    { stylesheet: BUY_STYLESHEET, refreshSeconds }
  )

/** The packages a buyer without a key can pay for, one form each. */
export function buyPage(
  packages: StripePackage[],
  notice?: { kind: 'error' | 'ok'; text: string }
): string {
  const items = packages
    .map(
      (
        pkg
      ) => `<li><span><strong>$${escapeHtml(formatDollars(pkg.micros))} of credits</strong><br><span class="hint">${escapeHtml(pkg.productName)}</span></span>
<form method="post" action="/stripe/buy" class="inline"><input type="hidden" name="package" value="${escapeHtml(pkg.name)}">
<button type="submit" aria-label="Pay ${escapeHtml(formatPrice(pkg.amount, pkg.currency))} for $${escapeHtml(formatDollars(pkg.micros))} of credits">Pay ${escapeHtml(formatPrice(pkg.amount, pkg.currency))}</button></form></li>`
    )
    .join('\n')
  return page(
    'Buy credits',
    `${noticeHtml(notice)}<section><h2>Pay by card, get an API key</h2>
<p>Choose a package. You pay on Stripe’s page; when Stripe confirms the payment, this browser is shown a new API key holding the credits, <strong>once</strong>.</p>
${packages.length ? `<ul class="packages">${items}</ul>` : '<p class="empty">No packages are on sale.</p>'}
<p class="hint">Have a key already? Top it up from <a href="/account">your account</a>.</p></section>`
  )
}

/** A page with one message (disabled, errors, not this browser). */
export function messagePage(title: string, text: string, kind: 'error' | 'ok' = 'error'): string {
  return page(
    title,
    `${noticeHtml({ kind, text })}<p><a href="/stripe/buy">Back to the packages</a></p>`
  )
}

/** Stripe has not confirmed the payment yet: the page reloads itself. */
export function pendingPage(): string {
  return page(
    'Waiting for your payment',
    `<section><h2>Waiting for Stripe to confirm your payment</h2>
<p role="status">This page reloads every few seconds and shows your key as soon as the payment is confirmed. Keep it open.</p>
<p class="hint">If you cancelled on Stripe’s page, nothing was charged.</p></section>`,
    3
  )
}

/** The one time the key is shown. */
export function revealPage(key: string, keyId: string, credits: number | null): string {
  const balance =
    credits === null
      ? ''
      : `<p>It holds <strong>$${escapeHtml(formatDollars(credits))}</strong> of credits.</p>`
  return page(
    'Your API key',
    `<section class="reveal" aria-labelledby="key-title"><h2 id="key-title">Your new API key</h2>
${balance}<p><strong>Copy it now: it is shown only this once.</strong> Store it like a password.</p>
<code id="api-key">${escapeHtml(key)}</code>
<p class="hint">Key id (not secret, for support): <span class="mono">${escapeHtml(keyId)}</span></p></section>
<section><h2>Next</h2><p>Send it as <code>Authorization: Bearer &lt;key&gt;</code>, and see its balance and usage in <a href="/account">your account</a>.</p></section>`
  )
}
