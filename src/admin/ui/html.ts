/**
 * @module admin/ui/html
 * The dashboard's two HTML shells: the login form and the page the script fills.
 * Neither carries user data: key names, tools and amounts are only ever put in
 * the page by the script, with textContent. The one server value in the page,
 * the CSRF token, is base64url and escaped anyway.
 */

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] as string)

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

/** The dashboard: empty sections the script fills. */
export function dashboardPage(csrf: string): string {
  return shell(
    'pay-gate admin',
    `<header>
<h1>pay-gate admin</h1>
<span id="status" role="status"></span>
<button id="logout" type="button">Sign out</button>
</header>
<main>
<section id="keys-section">
<h2>Keys</h2>
<form id="create-key" class="inline">
<input name="name" placeholder="Name" required maxlength="200" aria-label="Key name">
<input name="credits" placeholder="Credits ($)" inputmode="decimal" aria-label="Initial credits in dollars">
<button type="submit">Create key</button>
</form>
<div id="new-key" class="notice" hidden></div>
<table id="keys"><thead><tr><th>Name</th><th>Id</th><th>Status</th><th class="num">Credits</th><th class="num">Held</th><th>Created</th><th>Top up ($)</th><th></th></tr></thead><tbody></tbody></table>
<div id="key-detail" hidden></div>
</section>
<section id="usage-section">
<h2>Usage and revenue</h2>
<div class="charts">
<figure><figcaption>Calls per day (charged, refunded, denied)</figcaption><div id="calls-chart" class="chart"></div></figure>
<figure><figcaption>Revenue per day ($)</figcaption><div id="revenue-chart" class="chart"></div></figure>
</div>
<p id="revenue-total"></p>
<h3>By route</h3>
<table id="by-route"><thead><tr><th>Route</th><th class="num">Calls</th><th class="num">Charged</th><th class="num">Refunded</th><th class="num">Denied</th></tr></thead><tbody></tbody></table>
<h3>By tool (MCP)</h3>
<table id="by-tool"><thead><tr><th>Tool</th><th class="num">Calls</th><th class="num">Charged</th><th class="num">Refunded</th><th class="num">Denied</th></tr></thead><tbody></tbody></table>
<h3>Recent calls and denials</h3>
<table id="events"><thead><tr><th>When</th><th>Key</th><th>Rail</th><th>Route / tool</th><th class="num">Amount</th><th>Outcome</th><th class="num">ms</th></tr></thead><tbody></tbody></table>
</section>
</main>`,
    `<meta name="pay-gate-csrf" content="${escapeHtml(csrf)}">
<script src="/admin/ui/app.js" defer></script>
`
  )
}
