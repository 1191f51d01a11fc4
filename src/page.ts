/**
 * @module page
 * The small server-rendered pages key holders and buyers see (the portal at
 * /account, buying by card at /stripe/buy): one shell, one stylesheet served from
 * the gate (so the Content-Security-Policy allows no inline code or style at all),
 * escaping for every value put in HTML, and the security headers they share.
 * No scripts: every action is a plain form. Readable at 420 px wide.
 */

/** Escape text for HTML content and double-quoted attributes. */
export const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (char) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] as string
  )

/**
 * Only our own stylesheet; no script at all, no framing. Forms post to the gate; `https:` too, because a
 * form the gate answers with a redirect to Stripe's payment page (whose host may be the operator's own
 * checkout domain) is held to form-action as well.
 */
export const PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'"

export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin: Chromium sends `Origin: null` on a form POST under no-referrer, which the Origin check could not tell from a foreign page.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
}

/** A whole page. `body` is HTML the caller built with escapeHtml; `refreshSeconds` reloads it (no script needed). */
export function pageHtml(
  title: string,
  body: string,
  options: { stylesheet: string; refreshSeconds?: number }
): string {
  const refresh = options.refreshSeconds
    ? `<meta http-equiv="refresh" content="${options.refreshSeconds}">\n`
    : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
${refresh}<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(options.stylesheet)}">
</head>
<body>
${body}
</body>
</html>
`
}

/** A notice for the top of a page: an error (role=alert) or a confirmation (role=status). */
export function noticeHtml(notice: { kind: 'error' | 'ok'; text: string } | undefined): string {
  if (!notice) return ''
  return notice.kind === 'error'
    ? `<p class="error" role="alert">${escapeHtml(notice.text)}</p>`
    : `<p class="ok" role="status">${escapeHtml(notice.text)}</p>`
}

/** A price in a currency's major unit, from Stripe's minor-unit amount ("$10.00", "€5.00"). */
export function formatPrice(amount: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat('en', {
      style: 'currency',
      currency: currency.toUpperCase(),
    })
    return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2))
  } catch {
    return `${amount} ${currency}`
  }
}

/** The one stylesheet. */
export const PAGE_CSS = `
:root { --fg: #1d2330; --muted: #5d6678; --line: #d5dae2; --bg: #f6f7f9; --accent: #2457c5; --bad: #b3261e; --ok: #1e7b34; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .75rem 1rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
main { padding: 1rem; max-width: 60rem; margin: 0 auto; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin-bottom: 1rem; }
h2 { font-size: 1.05rem; margin: 0 0 .75rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
caption { text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .25rem; }
th, td { text-align: left; padding: .35rem .45rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .8rem; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.mono, code { font-family: ui-monospace, monospace; font-size: .85rem; overflow-wrap: break-word; }
td.when { min-width: 6.5rem; font-variant-numeric: tabular-nums; }
.reveal code, p .mono { word-break: break-all; }
dl.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .75rem; margin: 0; }
dl.figures div { border: 1px solid var(--line); border-radius: 4px; padding: .5rem .75rem; }
dl.figures dt { color: var(--muted); font-size: .8rem; } dl.figures dd { margin: 0; font-size: 1.2rem; font-variant-numeric: tabular-nums; }
form { display: grid; gap: .5rem; max-width: 32rem; }
form.inline { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; max-width: none; }
label { font-weight: 600; font-size: .9rem; }
input, select { font: inherit; padding: .45rem .55rem; border: 1px solid #8a93a3; border-radius: 4px; width: 100%; min-height: 2.75rem; }
input[type=checkbox] { width: 1.25rem; min-height: 1.25rem; vertical-align: middle; margin-right: .4rem; }
button { font: inherit; padding: .5rem 1rem; min-height: 2.75rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
.reveal { padding: .75rem; border: 2px solid #e8c468; background: #fff8e1; border-radius: 4px; }
.reveal code { display: block; font-size: 1rem; padding: .5rem; background: #fff; border: 1px solid var(--line); user-select: all; }
.error { color: var(--bad); font-weight: 600; }
.ok { color: var(--ok); font-weight: 600; }
.hint, .empty { color: var(--muted); font-size: .85rem; }
.pager { display: flex; gap: 1rem; margin-top: .5rem; }
a { color: var(--accent); }
main.narrow { max-width: 28rem; }
.packages { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem; }
.packages li { border: 1px solid var(--line); border-radius: 6px; padding: .75rem; display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; justify-content: space-between; }
`
