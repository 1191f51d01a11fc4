/**
 * @module admin/ui/script
 * Browser code of the dashboard, served as /admin/ui/app.js (no inline script:
 * the CSP forbids it). Talks to the admin API with the session cookie and the
 * page's CSRF token; builds every node with createElement/textContent, never
 * innerHTML, so key names, tools and routes are shown, never parsed.
 * The usage endpoints may be missing (another part of the gate): a 404 reads as
 * "no usage data". No template literals inside, so it embeds verbatim.
 */
import { CHARTS_JS } from './charts'

const MAIN_JS = String.raw`
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

async function api(method, path, body) {
  const headers = { accept: 'application/json', 'x-pay-gate-csrf': csrf };
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

function renderKeys(keys) {
  const tbody = byId('keys').tBodies[0];
  if (keys.length === 0) { emptyRow(tbody, 8, 'No keys yet.'); return; }
  tbody.replaceChildren();
  for (const key of keys) {
    const amount = el('input', { cls: 'amount', attrs: { inputmode: 'decimal', placeholder: '10.00', 'aria-label': 'Top-up amount' } });
    const topUp = el('button', { text: 'Top up', cls: 'secondary', onClick: function () { topUpKey(key, amount.value.trim()); } });
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

async function topUpKey(key, credits) {
  if (!credits) { setStatus('Enter an amount to top up.', true); return; }
  const result = await api('POST', '/admin/keys/' + encodeURIComponent(key.id) + '/topup', { credits: credits, note: 'dashboard top-up' });
  if (!result.ok) { setStatus('Top-up failed: ' + errorText(result), true); return; }
  setStatus('Topped up ' + key.name + ' by $' + credits + '; credits now $' + result.data.credits + '.');
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

// ---- usage and revenue (endpoints that may not exist on this gate) ----

function unavailable(result) {
  return result.status === 404 ? 'No usage data.' : 'No usage data (' + errorText(result) + ').';
}

function noData(container, text) {
  container.replaceChildren(el('p', { text: text, cls: 'empty' }));
}

async function loadUsage() {
  const to = new Date();
  const from = new Date(to.getTime() - 30 * 24 * 3600 * 1000);
  const range = 'from=' + encodeURIComponent(from.toISOString()) + '&to=' + encodeURIComponent(to.toISOString());
  const results = await Promise.all([
    api('GET', '/admin/usage?groupBy=day&' + range),
    api('GET', '/admin/revenue?interval=day&' + range),
    api('GET', '/admin/usage?groupBy=tool&' + range),
    api('GET', '/admin/usage/events?limit=50'),
  ]);
  const byDay = results[0], revenue = results[1], byTool = results[2], events = results[3];

  const days = byDay.ok && byDay.data && Array.isArray(byDay.data.rows) ? byDay.data.rows : null;
  if (!days) noData(byId('calls-chart'), unavailable(byDay));
  else if (days.length === 0) noData(byId('calls-chart'), 'No calls in the last 30 days.');
  else barChart(byId('calls-chart'), days.map(function (r) { return r.group; }), [
    { name: 'calls', cls: 'calls', values: days.map(function (r) { return r.calls; }) },
    { name: 'denied', cls: 'denied', values: days.map(function (r) { return r.denied; }) },
  ], function (v) { return String(Math.round(v)); }, false);

  const series = revenue.ok && revenue.data && Array.isArray(revenue.data.series) ? revenue.data.series : null;
  if (!series) { noData(byId('revenue-chart'), unavailable(revenue)); byId('revenue-total').textContent = ''; }
  else {
    byId('revenue-total').textContent = 'Revenue, last 30 days: ' + money(revenue.data.totalDollars !== undefined ? String(revenue.data.totalDollars) : revenue.data.total);
    if (series.length === 0) noData(byId('revenue-chart'), 'No revenue in the last 30 days.');
    else barChart(byId('revenue-chart'), series.map(function (r) { return r.period; }), [
      { name: 'credits', cls: 'credits', values: series.map(function (r) { return dollars(r.credits); }) },
      { name: 'x402', cls: 'x402', values: series.map(function (r) { return dollars(r.x402); }) },
    ], function (v) { return '$' + (v >= 100 ? v.toFixed(0) : v.toFixed(2)); }, true);
  }

  const toolBody = byId('by-tool').tBodies[0];
  const tools = byTool.ok && byTool.data && Array.isArray(byTool.data.rows) ? byTool.data.rows : null;
  if (!tools) emptyRow(toolBody, 4, unavailable(byTool));
  else if (tools.length === 0) emptyRow(toolBody, 4, 'No calls in the last 30 days.');
  else toolBody.replaceChildren.apply(toolBody, tools.map(function (r) {
    return el('tr', {}, [
      el('td', { text: r.group }), el('td', { text: r.calls, cls: 'num' }),
      el('td', { text: money(r.chargedDollars !== undefined ? String(r.chargedDollars) : r.charged), cls: 'num' }), el('td', { text: r.denied, cls: 'num' }),
    ]);
  }));

  const eventBody = byId('events').tBodies[0];
  const list = events.ok && Array.isArray(events.data) ? events.data : null;
  if (!list) emptyRow(eventBody, 7, unavailable(events));
  else if (list.length === 0) emptyRow(eventBody, 7, 'No calls yet.');
  else eventBody.replaceChildren.apply(eventBody, list.map(function (e) {
    const outcome = String(e.outcome || '') + (e.reason ? ' (' + e.reason + ')' : '');
    return el('tr', {}, [
      el('td', { text: when(typeof e.at === 'number' ? new Date(e.at).toISOString() : e.at) }), el('td', { text: e.keyId || '', cls: 'mono' }),
      el('td', { text: e.rail || '' }), el('td', { text: e.tool || ((e.method || '') + ' ' + (e.route || '')) }),
      el('td', { text: money(e.amount), cls: 'num' }), el('td', { text: outcome, cls: 'outcome-' + String(e.outcome || '') }),
      el('td', { text: e.latencyMs === undefined || e.latencyMs === null ? '' : e.latencyMs, cls: 'num' }),
    ]);
  }));
}

loadKeys().then(function () { document.body.setAttribute('data-keys-loaded', '1'); });
loadUsage().then(function () { document.body.setAttribute('data-usage-loaded', '1'); });
`

/** The whole of /admin/ui/app.js. */
export const DASHBOARD_JS = `'use strict';\n(function () {\n${CHARTS_JS}\n${MAIN_JS}\n})();\n`
