/**
 * @module admin/ui/html
 * The dashboard's two HTML shells: the login form and the page the script fills.
 * Neither carries user data: key names, tools and amounts are only ever put in
 * the page by the script, with textContent. The one server value in the page,
 * the CSRF token, is base64url and escaped anyway.
 */

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (char) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] as string
  )

function shell(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/admin/ui/app.css">
<link rel="icon" href="/admin/ui/favicon.svg">
${head}</head>
<body>
${body}
</body>
</html>
`
}

/** The login form; `message` is one of our own fixed strings, escaped all the same. */
export function loginPage(message?: string): string {
  const notice = message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''
  return shell(
    'pay-gate admin: sign in',
    `<main class="login">
<h1>pay-gate admin</h1>
${notice}<form method="post" action="/admin/ui/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">The ADMIN_TOKEN secret of this gate. The session lasts 8 hours; the token itself is not stored in the browser.</p>
</main>`
  )
}

/** The dashboard: the overview's empty sections, and the key page's place; the script fills them. */
export function dashboardPage(csrf: string): string {
  return shell(
    'pay-gate admin',
    `<header>
<h1><a href="#/">pay-gate admin</a></h1>
<span id="status" role="status"></span>
<button id="logout" type="button">Sign out</button>
</header>
<main>
<div id="overview">
<section id="totals-section" aria-label="Totals">
<dl id="totals" class="totals"></dl>
</section>
<section id="keys-section">
<h2>Keys</h2>
<form id="create-key" class="inline">
<input name="name" placeholder="Name" required maxlength="200" aria-label="Key name">
<input name="credits" placeholder="Credits ($)" inputmode="decimal" aria-label="Initial credits in dollars">
<button type="submit">Create key</button>
</form>
<p id="create-key-error" class="error action-error" role="alert" hidden></p>
<div id="new-key" class="notice" hidden></div>
<form id="key-filter" class="inline filters" role="search">
<input name="q" type="search" placeholder="Search name or id" maxlength="200" aria-label="Search keys by name or id">
<select name="status" aria-label="Status"><option value="">Any status</option><option>active</option><option>suspended</option><option>revoked</option><option>expired</option></select>
<span id="keys-count" class="hint"></span>
</form>
<div class="scroll"><table id="keys"><thead><tr><th>Name</th><th>Id</th><th>Status</th><th class="num">Credits</th><th class="num">Held</th><th>Created (UTC)</th><th>Top up ($)</th><th></th></tr></thead><tbody></tbody></table></div>
<button id="keys-more" type="button" class="secondary" hidden>More keys</button>
</section>
<section id="usage-section">
<h2>Usage and revenue</h2>
<div class="charts">
<figure><figcaption>Calls per day (charged, refunded, denied)</figcaption><div id="calls-chart" class="chart"></div></figure>
<figure><figcaption>Revenue per day ($)</figcaption><div id="revenue-chart" class="chart"></div></figure>
</div>
<p id="revenue-total"></p>
<h3>By route</h3>
<div class="scroll"><table id="by-route"><thead><tr><th>Route</th><th class="num">Calls</th><th class="num">Charged</th><th class="num">Refunded</th><th class="num">Denied</th></tr></thead><tbody></tbody></table></div>
<h3>By tool (MCP)</h3>
<div class="scroll"><table id="by-tool"><thead><tr><th>Tool</th><th class="num">Calls</th><th class="num">Charged</th><th class="num">Refunded</th><th class="num">Denied</th></tr></thead><tbody></tbody></table></div>
<h3>Calls and denials</h3>
<form id="event-filter" class="inline filters">
<input name="keyId" placeholder="Key id (key_…)" maxlength="24" aria-label="Key id">
<select name="route" aria-label="Route"><option value="">Any route</option></select>
<select name="outcome" aria-label="Outcome"><option value="">Any outcome</option><option>charged</option><option>refunded</option><option>denied</option><option>fee</option></select>
<label>From <input name="from" type="datetime-local" step="1" aria-label="From (UTC)"></label>
<label>To <input name="to" type="datetime-local" step="1" aria-label="To (UTC)"></label>
<span class="hint">times in UTC</span>
<button type="submit" class="secondary">Filter</button>
<button id="event-filter-clear" type="button" class="secondary">Clear</button>
<a id="events-csv" class="button secondary" download="usage-events.csv" href="/admin/usage/events?format=csv">Export CSV</a>
</form>
<div class="scroll"><table id="events"><thead><tr><th>When (UTC)</th><th>Key</th><th>Rail</th><th>Method</th><th>Path called</th><th>Route / tool</th><th class="num">Amount</th><th>Outcome</th><th class="num">ms</th></tr></thead><tbody></tbody></table></div>
</section>
</div>
<div id="key-page" hidden></div>
</main>`,
    `<meta name="pay-gate-csrf" content="${escapeHtml(csrf)}">
<script src="/admin/ui/app.js" defer></script>
`
  )
}
