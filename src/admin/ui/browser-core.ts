/**
 * @module admin/ui/browser-core
 * Browser code every page of the dashboard uses: building nodes (createElement
 * and textContent, never innerHTML, so key names, tools, routes and paths are
 * shown, never parsed), calling the admin API with the session cookie and the
 * page's CSRF token, amounts and times as text, and errors shown beside the row
 * or the action that caused them. Served inside /admin/ui/app.js; no template
 * literals inside, so it embeds verbatim.
 * Amounts come as integer micro-dollars (numbers) or decimal dollars (strings);
 * `money` takes both.
 */
export const CORE_JS = String.raw`
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
  for (const child of children || []) if (child) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  return node;
}

/** A table that scrolls inside itself, so a narrow window never scrolls the page sideways. */
function scrolling(table) {
  return el('div', { cls: 'scroll' }, [table]);
}

function table(id, headers, numeric) {
  return el('table', { attrs: id ? { id: id } : {} }, [
    el('thead', {}, [el('tr', {}, headers.map(function (h, i) { return el('th', { text: h, cls: numeric && numeric.indexOf(i) >= 0 ? 'num' : '' }); }))]),
    el('tbody'),
  ]);
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

/** A query string from the fields that have a value. */
function query(fields) {
  return Object.keys(fields).filter(function (name) { return fields[name] !== undefined && fields[name] !== null && fields[name] !== ''; })
    .map(function (name) { return encodeURIComponent(name) + '=' + encodeURIComponent(fields[name]); }).join('&');
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

/** A time (ISO string or ms) in UTC to the second: "2026-11-21 12:00:07Z". */
function when(value) {
  if (value === null || value === undefined || value === '') return '';
  const iso = typeof value === 'number' ? new Date(value).toISOString() : String(value);
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function emptyRow(tbody, columns, text) {
  tbody.replaceChildren(el('tr', {}, [el('td', { text: text, cls: 'empty', attrs: { colspan: columns } })]));
}

/**
 * Show an error right under the table row that caused it (a row of its own,
 * spanning the table, so it reads at any width); null clears it.
 */
function rowError(row, text) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains('row-error')) next.remove();
  if (!text) return;
  const columns = row.children.length;
  row.after(el('tr', { cls: 'row-error', attrs: { 'data-error-for': row.getAttribute('data-key-id') || '' } }, [
    el('td', { text: text, cls: 'error', attrs: { colspan: columns, role: 'alert' } }),
  ]));
}

/** Show an error beside an action's controls (the element given); empty text clears it. */
function actionError(box, text) {
  box.textContent = text || '';
  box.hidden = !text;
}

/** 32 hex digits: getRandomValues, not randomUUID, which a plain-http page (a gate on a LAN) lacks. */
function randomHex() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), function (b) { return b.toString(16).padStart(2, '0'); }).join('');
}

// One Idempotency-Key per intended top-up, kept until it succeeds: a double click or a retry
// after a lost answer credits once.
const pendingTopUps = new Map();

/** Top a key up by credits (dollars as typed); the API's answer. */
async function topUp(id, credits) {
  const intent = id + ' ' + credits;
  if (!pendingTopUps.has(intent)) pendingTopUps.set(intent, randomHex());
  const result = await api('POST', '/admin/keys/' + encodeURIComponent(id) + '/topup', { credits: credits, note: 'dashboard top-up' }, { 'idempotency-key': pendingTopUps.get(intent) });
  if (result.ok) pendingTopUps.delete(intent);
  return result;
}

/** Key id → name, from every key listing so far (events show names). */
const keyNames = new Map();
`
