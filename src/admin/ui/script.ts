/**
 * @module admin/ui/script
 * Browser code of the dashboard, served as /admin/ui/app.js (no inline script:
 * the CSP forbids it). Talks to the admin API with the session cookie and the
 * page's CSRF token; builds every node with createElement/textContent, never
 * innerHTML, so key names, tools and routes are shown, never parsed.
 * Amounts come as integer micro-dollars (numbers) or decimal dollars (strings);
 * `money` takes both. Without a USAGE_DB binding the usage endpoints answer 404,
 * which reads as "no usage data". No template literals inside, so it embeds verbatim.
 */

export const MAIN_JS = String.raw`
const csrf = document.querySelector('meta[name="pay-gate-csrf"]').getAttribute('content');
const byId = function (id) { return document.getElementById(id); };

/** An element with text (never HTML), attributes and children. */
function el(tag, options, children) {
  const node = document.createElement(tag);
  options = options || {};
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  if (options.cls) node.className = options.cls;
  for (const name of Object.keys(options.attrs || {})) node.setAttribute(name, String(options.attrs[name]));
  if (options.onClick) node.addEventListener('click', options.onClick);
  for (const child of children || []) node.appendChild(child);
  return node;
}

function setStatus(text, isError) {
  const status = byId('status');
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({ accept: 'application/json', 'x-pay-gate-csrf': csrf }, extraHeaders || {});
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method: method, headers: headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    return { status: 0, ok: false, data: null };
  }
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (response.status === 401 && method === 'GET') window.location.assign('/admin/ui'); // the session ended
  return { status: response.status, ok: response.ok, data: data };
}

function errorText(result) {
  if (result.data && result.data.error && result.data.error.message) return String(result.data.error.message);
  return result.status ? 'HTTP ' + result.status : 'network error';
}

/** Micro-dollars (number) or decimal dollars (string, exact as the API wrote it) as "$1.25". */
function money(value) {
  if (value === null || value === undefined || value === '') return '';
  if (typeof value === 'string') {
    const parts = value.split('.');
    return (parts[0].startsWith('-') ? '-$' + parts[0].slice(1) : '$' + parts[0]) + '.' + (parts[1] || '').padEnd(2, '0');
  }
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(Math.round(value));
  let fraction = String(abs % 1000000).padStart(6, '0').replace(/0+$/, '');
  if (fraction.length < 2) fraction = fraction.padEnd(2, '0');
  return sign + '$' + Math.floor(abs / 1000000) + '.' + fraction;
}
const dollars = function (value) { return typeof value === 'string' ? Number(value) : (Number(value) || 0) / 1000000; };
const when = function (iso) { return iso ? String(iso).replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z') : ''; };

function emptyRow(tbody, columns, text) {
  tbody.replaceChildren(el('tr', {}, [el('td', { text: text, cls: 'empty', attrs: { colspan: columns } })]));
}

// ---- keys ----

async function loadKeys() {
  const keys = [];
  let after = null;
  for (let page = 0; page < 20; page++) {
    const result = await api('GET', '/admin/keys?limit=100' + (after ? '&after=' + encodeURIComponent(after) : ''));
    if (!result.ok) { setStatus('Could not load keys: ' + errorText(result), true); return; }
    keys.push.apply(keys, result.data.keys);
    after = result.data.next;
    if (!after) break;
  }
  renderKeys(keys);
}

/** Key id → name, from the last key listing (the events list shows names). */
const keyNames = new Map();

function renderKeys(keys) {
  keyNames.clear();
  for (const key of keys) keyNames.set(key.id, key.name);
  const tbody = byId('keys').tBodies[0];
  if (keys.length === 0) { emptyRow(tbody, 8, 'No keys yet.'); return; }
  tbody.replaceChildren();
  for (const key of keys) {
    const amount = el('input', { cls: 'amount', attrs: { inputmode: 'decimal', placeholder: '10.00', 'aria-label': 'Top-up amount' } });
    const topUp = el('button', { text: 'Top up', cls: 'secondary', onClick: function () { topUpKey(key, amount.value.trim(), topUp); } });
    const actions = [el('button', { text: 'Details', cls: 'secondary', onClick: function () { showKey(key.id); } })];
    if (key.status === 'active') actions.push(el('button', { text: 'Suspend', cls: 'secondary', onClick: function () { transition(key, 'suspend'); } }));
    if (key.status === 'suspended') actions.push(el('button', { text: 'Resume', cls: 'secondary', onClick: function () { transition(key, 'resume'); } }));
    tbody.appendChild(el('tr', { attrs: { 'data-key-id': key.id } }, [
      el('td', { text: key.name, cls: 'name', attrs: { title: key.name } }),
      el('td', { text: key.id, cls: 'mono' }),
      el('td', { text: key.status, cls: 'status status-' + key.status }),
      el('td', { text: money(key.credits), cls: 'num credits' }),
      el('td', { text: money(key.held), cls: 'num' }),
      el('td', { text: when(key.createdAt) }),
      el('td', {}, key.status === 'revoked' ? [] : [amount, document.createTextNode(' '), topUp]),
      el('td', {}, actions),
    ]));
  }
}

// One Idempotency-Key per intended top-up, kept until it succeeds: a double click or a retry
// after a lost answer credits once.
const pendingTopUps = new Map();

async function topUpKey(key, credits, button) {
  if (!credits) { setStatus('Enter an amount to top up.', true); return; }
  const intent = key.id + ' ' + credits;
  // getRandomValues, not randomUUID: it works on a plain-http page too (a self-hosted gate on a LAN).
  if (!pendingTopUps.has(intent)) pendingTopUps.set(intent, Array.from(crypto.getRandomValues(new Uint8Array(16)), function (b) { return b.toString(16).padStart(2, '0'); }).join(''));
  button.disabled = true;
  const result = await api('POST', '/admin/keys/' + encodeURIComponent(key.id) + '/topup', { credits: credits, note: 'dashboard top-up' }, { 'idempotency-key': pendingTopUps.get(intent) });
  button.disabled = false;
  if (!result.ok) { setStatus('Top-up failed: ' + errorText(result), true); return; }
  pendingTopUps.delete(intent);
  if (result.data.duplicate) setStatus('That top-up of ' + key.name + ' was already credited (its answer was lost): credited once; credits now $' + result.data.credits + '.');
  else setStatus('Topped up ' + key.name + ' by $' + credits + '; credits now $' + result.data.credits + '.');
  await loadKeys();
}

async function transition(key, action) {
  const result = await api('POST', '/admin/keys/' + encodeURIComponent(key.id) + '/' + action);
  if (!result.ok) { setStatus(action + ' failed: ' + errorText(result), true); return; }
  setStatus(key.name + ' is now ' + result.data.status + '.');
  await loadKeys();
}

async function showKey(id) {
  const result = await api('GET', '/admin/keys/' + encodeURIComponent(id) + '?ledger=20');
  const panel = byId('key-detail');
  panel.hidden = false;
  if (!result.ok) { panel.replaceChildren(el('p', { text: 'Could not load the key: ' + errorText(result), cls: 'error' })); return; }
  const key = result.data;
  const rows = key.ledger.map(function (row) {
    return el('tr', {}, [
      el('td', { text: when(row.at) }), el('td', { text: row.kind }), el('td', { text: money(row.amount), cls: 'num' }),
      el('td', { text: money(row.balanceAfter), cls: 'num' }), el('td', { text: row.label || '' }),
    ]);
  });
  panel.replaceChildren(
    el('h3', { text: 'Ledger of ' + key.name + ' (' + key.id + '), latest 20' }),
    el('table', {}, [
      el('thead', {}, [el('tr', {}, ['When', 'Kind', 'Amount', 'Balance after', 'Label'].map(function (h) { return el('th', { text: h }); }))]),
      el('tbody', {}, rows),
    ])
  );
}

byId('create-key').addEventListener('submit', async function (event) {
  event.preventDefault();
  const form = event.target;
  const name = form.elements.name.value.trim();
  const credits = form.elements.credits.value.trim() || '0';
  const result = await api('POST', '/admin/keys', { name: name, credits: credits });
  if (!result.ok) { setStatus('Could not create the key: ' + errorText(result), true); return; }
  const notice = byId('new-key');
  notice.hidden = false;
  notice.replaceChildren(
    el('strong', { text: 'Key created for ' + result.data.name + '. Copy it now; it is never shown again: ' }),
    el('code', { text: result.data.key, cls: 'mono', attrs: { 'data-new-key': result.data.id } })
  );
  form.reset();
  setStatus('Created ' + result.data.name + '.');
  await loadKeys();
});

byId('logout').addEventListener('click', async function () {
  await api('POST', '/admin/ui/logout');
  window.location.assign('/admin/ui');
});

// ---- usage and revenue (endpoints that answer 404 on a gate without USAGE_DB) ----

function unavailable(result) {
  return result.status === 404 ? 'No usage data.' : 'No usage data (' + errorText(result) + ').';
}

function noData(container, text) {
  container.replaceChildren(el('p', { text: text, cls: 'empty' }));
}

/** Every UTC day (YYYY-MM-DD) from from to to, so a chart over time has no gaps. */
function daysOf(from, to) {
  const days = [];
  const cursor = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()));
  while (cursor.getTime() < to.getTime()) {
    days.push(cursor.toISOString().slice(0, 10));
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return days;
}

/** Dollars on a chart axis: cents, or tenths of a cent for small amounts ($0.025, not $0.03). */
function axisDollars(v) {
  if (v >= 100) return '$' + v.toFixed(0);
  const text = v.toFixed(v < 1 ? 4 : 2).replace(/0+$/, '');
  const parts = text.split('.');
  return '$' + parts[0] + '.' + (parts[1] || '').padEnd(2, '0');
}

/** Rows of /admin/usage (by route or tool) into a table; rows without a group are left out. */
function usageTable(table, result, emptyText) {
  const body = table.tBodies[0];
  const rows = result.ok && result.data && Array.isArray(result.data.rows) ? result.data.rows : null;
  if (!rows) { emptyRow(body, 5, unavailable(result)); return; }
  const named = rows.filter(function (r) { return r.group !== null && r.group !== undefined; });
  if (named.length === 0) { emptyRow(body, 5, emptyText); return; }
  body.replaceChildren.apply(body, named.map(function (r) {
    return el('tr', {}, [
      el('td', { text: r.group, cls: 'group' }), el('td', { text: r.calls, cls: 'num' }),
      el('td', { text: money(r.chargedDollars !== undefined ? String(r.chargedDollars) : r.charged), cls: 'num charged' }),
      el('td', { text: r.refunded, cls: 'num' }), el('td', { text: r.denied, cls: 'num' }),
    ]);
  }));
}

async function loadUsage() {
  const to = new Date();
  const from = new Date(to.getTime() - 30 * 24 * 3600 * 1000);
  const range = 'from=' + encodeURIComponent(from.toISOString()) + '&to=' + encodeURIComponent(to.toISOString());
  const results = await Promise.all([
    api('GET', '/admin/usage?groupBy=day&' + range),
    api('GET', '/admin/revenue?interval=day&' + range),
    api('GET', '/admin/usage?groupBy=route&' + range),
    api('GET', '/admin/usage?groupBy=tool&' + range),
    api('GET', '/admin/usage/events?limit=50'),
  ]);
  const byDay = results[0], revenue = results[1], byRoute = results[2], byTool = results[3], events = results[4];

  // Calls per day, every day of the range: charged, refunded and denied stacked (together, all calls).
  const rows = byDay.ok && byDay.data && Array.isArray(byDay.data.rows) ? byDay.data.rows : null;
  if (!rows) noData(byId('calls-chart'), unavailable(byDay));
  else if (rows.length === 0) noData(byId('calls-chart'), 'No calls in the last 30 days.');
  else {
    const byDate = new Map(rows.map(function (r) { return [r.group, r]; }));
    const days = daysOf(from, to);
    const count = function (day, field) { const r = byDate.get(day); return r ? Number(r[field]) || 0 : 0; };
    barChart(byId('calls-chart'), days, [
      { name: 'charged', cls: 'calls', values: days.map(function (d) { return count(d, 'calls') - count(d, 'refunded') - count(d, 'denied'); }) },
      { name: 'refunded', cls: 'refunded', values: days.map(function (d) { return count(d, 'refunded'); }) },
      { name: 'denied', cls: 'denied', values: days.map(function (d) { return count(d, 'denied'); }) },
    ], function (v) { return String(Math.round(v)); }, true);
  }

  const series = revenue.ok && revenue.data && Array.isArray(revenue.data.series) ? revenue.data.series : null;
  if (!series) { noData(byId('revenue-chart'), unavailable(revenue)); byId('revenue-total').textContent = ''; }
  else {
    byId('revenue-total').textContent = 'Revenue, last 30 days: ' + money(revenue.data.totalDollars !== undefined ? String(revenue.data.totalDollars) : revenue.data.total);
    if (series.length === 0 || !(Number(revenue.data.total) > 0)) noData(byId('revenue-chart'), 'No revenue in the last 30 days.');
    else barChart(byId('revenue-chart'), series.map(function (r) { return r.period; }), [
      { name: 'credits', cls: 'credits', values: series.map(function (r) { return dollars(r.credits); }) },
      { name: 'x402', cls: 'x402', values: series.map(function (r) { return dollars(r.x402); }) },
    ], axisDollars, true);
  }

  usageTable(byId('by-route'), byRoute, 'No calls in the last 30 days.');
  usageTable(byId('by-tool'), byTool, 'No MCP tool calls in the last 30 days.');

  const eventBody = byId('events').tBodies[0];
  const list = events.ok && Array.isArray(events.data) ? events.data : null;
  if (!list) emptyRow(eventBody, 7, unavailable(events));
  else if (list.length === 0) emptyRow(eventBody, 7, 'No calls yet.');
  else eventBody.replaceChildren.apply(eventBody, list.map(function (e) {
    const outcome = String(e.outcome || '') + (e.reason ? ' (' + e.reason + ')' : '');
    const key = e.keyId ? (keyNames.has(e.keyId) ? keyNames.get(e.keyId) : e.keyId) : (e.payer || '');
    return el('tr', { attrs: { 'data-outcome': String(e.outcome || '') } }, [
      el('td', { text: when(typeof e.at === 'number' ? new Date(e.at).toISOString() : e.at) }),
      el('td', { text: key, cls: 'key', attrs: { title: e.keyId || e.payer || '' } }),
      el('td', { text: e.rail || '' }), el('td', { text: e.tool || ((e.method || '') + ' ' + (e.route || '')), cls: 'route' }),
      el('td', { text: money(e.amount), cls: 'num amount' }), el('td', { text: outcome, cls: 'outcome outcome-' + String(e.outcome || '') }),
      el('td', { text: e.latencyMs === undefined || e.latencyMs === null ? '' : e.latencyMs, cls: 'num' }),
    ]);
  }));
}

// Usage after keys: the events list names each key.
loadKeys().then(function () {
  document.body.setAttribute('data-keys-loaded', '1');
  return loadUsage();
}).then(function () { document.body.setAttribute('data-usage-loaded', '1'); });
`
