/**
 * @module account/account-page
 * The portal's main page: the balance, top-up, paged usage and ledger, the
 * low-balance alert, rotating the key, and the OAuth grants. Every form posts
 * with the session's CSRF token; every value is escaped. Never the key, never its
 * hash, never the alert's signing secret.
 */
import type { AccountView, HolderAlertView, LedgerEntry } from '../credits'
import { formatDollars } from '../money'
import { escapeHtml, formatPrice, noticeHtml } from '../page'
import type { StripePackage } from '../pricing'
import { capText } from '../text-cap'
import type { UsageEvent } from '../usage'
import { grantsSection, type OAuthGrant } from './grants'
import { portalPage, type Notice } from './pages'

export interface AccountPage {
  csrf: string
  account: AccountView
  alert: HolderAlertView | null
  ledger: { rows: LedgerEntry[]; before: number | null; older: number | null }
  /** null: usage is not recorded on this gate. */
  usage: { rows: UsageEvent[]; page: number; more: boolean } | null
  /** null: card top-ups are not enabled. */
  packages: StripePackage[] | null
  grants: OAuthGrant[] | null
  notice?: Notice
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
/** A time cell: to the second, in UTC, breaking between the date and the time when narrow. */
const when = (ms: number) =>
  `<td class="when"><time datetime="${iso(ms)}">${iso(ms).replace('T', ' ').replace('Z', '')}</time></td>`
const dollars = (micros: number) =>
  micros < 0 ? `−$${formatDollars(-micros)}` : `$${formatDollars(micros)}`
const csrfInput = (csrf: string) => `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`

function figures(account: AccountView): string {
  const figure = (label: string, value: string) =>
    `<div><dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd></div>`
  const expiry = account.expiresAt === null ? '' : figure('Key expires', iso(account.expiresAt))
  return `<section aria-labelledby="balance-title"><h2 id="balance-title">Balance</h2>
<dl class="figures">${figure('Available', dollars(account.available))}${figure('Held for calls in flight', dollars(account.held))}${figure('Spent, all time', dollars(account.spent))}
${figure('Calls today', String(account.usage.day.calls))}${figure('Status', account.status)}${expiry}</dl>
<p class="hint">Key id <span class="mono">${escapeHtml(account.id)}</span> · ${escapeHtml(account.name)}</p></section>`
}

function topUpSection(packages: StripePackage[] | null, csrf: string, revoked: boolean): string {
  const title = '<h2 id="topup-title">Top up</h2>'
  if (revoked)
    return `<section aria-labelledby="topup-title">${title}<p class="empty">A revoked key cannot be topped up.</p></section>`
  if (packages === null || packages.length === 0)
    return `<section aria-labelledby="topup-title">${title}<p class="empty">Card top-ups are not enabled on this gate.</p></section>`
  const options = packages
    .map(
      (pkg) =>
        `<option value="${escapeHtml(pkg.name)}">${escapeHtml(`${dollars(pkg.micros)} of credits for ${formatPrice(pkg.amount, pkg.currency)}`)}</option>`
    )
    .join('')
  return `<section aria-labelledby="topup-title">${title}<form method="post" action="/account/topup">${csrfInput(csrf)}
<label for="package">Package</label><select id="package" name="package" required>${options}</select>
<button type="submit">Pay by card</button></form><p class="hint">You pay on Stripe’s page; the credits arrive when Stripe confirms the payment.</p></section>`
}

function usageSection(usage: AccountPage['usage']): string {
  const title = '<h2 id="usage-title">Usage</h2>'
  if (usage === null)
    return `<section aria-labelledby="usage-title">${title}<p class="empty">Usage is not recorded on this gate.</p></section>`
  const rows = usage.rows
    .map(
      (event) => `<tr>${when(event.at)}<td class="num">${dollars(event.amount)}</td>
<td>${escapeHtml(event.outcome)}${event.reason ? ` <span class="hint">(${escapeHtml(event.reason)})</span>` : ''}</td><td>${escapeHtml(event.tool ?? event.method)}</td><td class="mono">${escapeHtml(event.route)}</td></tr>`
    )
    .join('\n')
  const table = usage.rows.length
    ? `<div class="table"><table><caption>Your paid calls, newest first (last 90 days)</caption><thead><tr><th scope="col">At (UTC)</th><th scope="col" class="num">Charged</th><th scope="col">Outcome</th><th scope="col">Tool or method</th><th scope="col">Route</th></tr></thead><tbody>${rows}</tbody></table></div>`
    : '<p class="empty">No paid calls on this page.</p>'
  const newer =
    usage.page > 1
      ? `<a href="/account?usage_page=${usage.page - 1}#usage-title">Newer calls</a>`
      : ''
  const older = usage.more
    ? `<a href="/account?usage_page=${usage.page + 1}#usage-title">Older calls</a>`
    : ''
  return `<section aria-labelledby="usage-title">${title}${table}<nav class="pager" aria-label="Usage pages">${newer}${older}</nav></section>`
}

function ledgerSection(ledger: AccountPage['ledger']): string {
  const rows = ledger.rows
    .map(
      (
        entry
      ) => `<tr>${when(entry.at)}<td class="num">${dollars(entry.amount)}</td><td class="num">${dollars(entry.balanceAfter)}</td><td>${escapeHtml(entry.kind)}</td>
<td>${escapeHtml(entry.label === null ? '' : capText(entry.label, 200))}</td></tr>`
    )
    .join('\n')
  const table = ledger.rows.length
    ? `<div class="table"><table><caption>Every change to your balance, newest first</caption><thead><tr><th scope="col">At (UTC)</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Balance after</th><th scope="col">Kind</th><th scope="col">Note</th></tr></thead><tbody>${rows}</tbody></table></div>`
    : '<p class="empty">No ledger rows on this page.</p>'
  const newest = ledger.before !== null ? '<a href="/account#ledger-title">Newest</a>' : ''
  const older =
    ledger.older !== null
      ? `<a href="/account?ledger_before=${ledger.older}#ledger-title">Older rows</a>`
      : ''
  return `<section aria-labelledby="ledger-title"><h2 id="ledger-title">Ledger</h2>${table}<nav class="pager" aria-label="Ledger pages">${newest}${older}</nav></section>`
}

function alertSection(alert: HolderAlertView | null, csrf: string, revoked: boolean): string {
  const current = alert
    ? `<p>When a call takes your available credits below <strong>${dollars(alert.threshold)}</strong>, the gate POSTs a signed <code>key.low_balance</code> event to <span class="mono">${escapeHtml(alert.url)}</span>.</p>`
    : '<p>No alert is set.</p>'
  const remove = alert
    ? `<form method="post" action="/account/alert" class="inline">${csrfInput(csrf)}<input type="hidden" name="remove" value="1"><button type="submit" class="secondary">Remove the alert</button></form>`
    : ''
  const form = revoked
    ? ''
    : `<form method="post" action="/account/alert">${csrfInput(csrf)}
<label for="alert-url">Webhook URL (https)</label><input id="alert-url" name="url" type="url" inputmode="url" required value="${escapeHtml(alert?.url ?? '')}" placeholder="https://example.com/hooks/pay-gate">
<label for="alert-threshold">Alert below (dollars)</label><input id="alert-threshold" name="threshold" inputmode="decimal" required value="${alert ? formatDollars(alert.threshold) : ''}" placeholder="1.00">
<button type="submit">Save the alert</button>
<p class="hint">Saving makes a new signing secret, shown once: check each delivery’s <code>X-Pay-Gate-Signature</code> (HMAC-SHA256 of <code>t.body</code>) with it.</p></form>`
  return `<section aria-labelledby="alert-title"><h2 id="alert-title">Low-balance alert</h2>${current}${form}${remove}</section>`
}

function rotateSection(csrf: string, revoked: boolean): string {
  const title = '<h2 id="rotate-title">Rotate your key</h2>'
  if (revoked)
    return `<section aria-labelledby="rotate-title">${title}<p class="empty">A revoked key cannot be rotated.</p></section>`
  return `<section aria-labelledby="rotate-title">${title}<p>A new key replaces this one at once: the old key stops working, and your balance, history and settings stay. The new key is shown once.</p>
<form method="post" action="/account/rotate">${csrfInput(csrf)}
<label><input type="checkbox" name="confirm" value="yes" required> I will update every client that uses this key</label>
<button type="submit" class="danger">Rotate the key</button></form></section>`
}

export function accountPage(page: AccountPage): string {
  const revoked = page.account.status === 'revoked'
  return portalPage(
    'Your pay-gate account',
    [
      noticeHtml(page.notice),
      figures(page.account),
      topUpSection(page.packages, page.csrf, revoked),
      usageSection(page.usage),
      ledgerSection(page.ledger),
      alertSection(page.alert, page.csrf, revoked),
      rotateSection(page.csrf, revoked),
      grantsSection(page.grants, page.csrf),
    ].join('\n'),
    page.csrf
  )
}
