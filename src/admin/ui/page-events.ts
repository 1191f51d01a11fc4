/**
 * @module admin/ui/page-events
 * Browser code: the list of calls and denials (GET /admin/usage/events), with
 * the time to the second, the path actually called beside the route it matched,
 * and filters by key, route, outcome and time; the same filters make the CSV
 * export's link (format=csv: the admin API sends it as an attachment, read with
 * the session cookie, which a same-origin download carries). The key page shows
 * its own key's events with the same rows. Served inside /admin/ui/app.js; no
 * template literals inside, so it embeds verbatim.
 */
export const EVENTS_JS = String.raw`
const EVENT_HEADERS = ['When (UTC)', 'Key', 'Rail', 'Method', 'Path called', 'Route / tool', 'Amount', 'Outcome', 'ms'];
const EVENT_NUMERIC = [6, 8];
/** Events a page lists; the CSV export takes up to the API's maximum. */
const EVENTS_SHOWN = 100;
const CSV_MAX = 10000;

/** A datetime-local value read as UTC (the form says so), as ISO 8601; '' stays ''. */
function utcInstant(value) {
  if (!value) return '';
  return value.length === 16 ? value + ':00Z' : value + 'Z';
}

/** The events endpoint's query for a filter { keyId, route, outcome, from, to }. */
function eventsQuery(filter, limit, format) {
  return query({ limit: limit, keyId: filter.keyId, route: filter.route, outcome: filter.outcome, from: utcInstant(filter.from), to: utcInstant(filter.to), format: format });
}

function eventRow(e) {
  const outcome = String(e.outcome || '') + (e.reason ? ' (' + e.reason + ')' : '');
  const who = e.keyId ? (keyNames.has(e.keyId) ? keyNames.get(e.keyId) : e.keyId) : (e.payer || '');
  const keyCell = e.keyId ? el('td', { cls: 'key', attrs: { title: e.keyId } }, [keyLink(e.keyId, who)]) : el('td', { text: who, cls: 'key', attrs: { title: e.payer || '' } });
  return el('tr', { attrs: { 'data-outcome': String(e.outcome || '') } }, [
    el('td', { text: when(e.at), cls: 'when' }),
    keyCell,
    el('td', { text: e.rail || '' }),
    el('td', { text: e.method || '', cls: 'method' }),
    // Rows recorded before the gate kept the path have none.
    el('td', { text: e.path === null || e.path === undefined ? '—' : e.path, cls: 'path', attrs: { title: e.path || 'not recorded' } }),
    el('td', { text: e.tool || e.route || '', cls: 'route', attrs: { title: e.route || '' } }),
    el('td', { text: money(e.amount), cls: 'num amount' }),
    el('td', { text: outcome, cls: 'outcome outcome-' + String(e.outcome || '') }),
    el('td', { text: e.latencyMs === undefined || e.latencyMs === null ? '' : e.latencyMs, cls: 'num' }),
  ]);
}

/** The latest listing asked for, per table body: an answer to an earlier one (filters changed since) is dropped. */
const eventListings = new WeakMap();

/** Load the filtered events into a table's body; returns whether the list loaded. */
async function loadEvents(tbody, filter) {
  const listing = (eventListings.get(tbody) || 0) + 1;
  eventListings.set(tbody, listing);
  const result = await api('GET', '/admin/usage/events?' + eventsQuery(filter, EVENTS_SHOWN));
  if (eventListings.get(tbody) !== listing) return false;
  const list = result.ok && Array.isArray(result.data) ? result.data : null;
  if (!list) { emptyRow(tbody, EVENT_HEADERS.length, result.status === 400 ? errorText(result) : unavailable(result)); return false; }
  if (list.length === 0) { emptyRow(tbody, EVENT_HEADERS.length, 'No calls match.'); return true; }
  tbody.replaceChildren.apply(tbody, list.map(eventRow));
  return true;
}

/** The CSV export of the same events (at most CSV_MAX), as a download link. */
function csvLink(link, filter) {
  link.setAttribute('href', '/admin/usage/events?' + eventsQuery(filter, CSV_MAX, 'csv'));
}

function overviewFilter() {
  const form = byId('event-filter');
  const value = function (name) { return form.elements[name].value.trim(); };
  return { keyId: value('keyId'), route: value('route'), outcome: value('outcome'), from: value('from'), to: value('to') };
}

async function loadOverviewEvents() {
  const filter = overviewFilter();
  csvLink(byId('events-csv'), filter);
  await loadEvents(byId('events').tBodies[0], filter);
}

/** The routes seen in the usage (by route), as the route filter's choices. */
function routeChoices(rows) {
  const select = byId('event-filter').elements.route;
  const chosen = select.value;
  select.replaceChildren(el('option', { text: 'Any route', attrs: { value: '' } }));
  for (const r of rows) if (r.group) select.appendChild(el('option', { text: r.group, attrs: { value: r.group } }));
  select.value = chosen;
}

byId('event-filter').addEventListener('change', function () { loadOverviewEvents(); });
byId('event-filter').addEventListener('submit', function (event) { event.preventDefault(); loadOverviewEvents(); });
byId('event-filter-clear').addEventListener('click', function () { byId('event-filter').reset(); loadOverviewEvents(); });
`
