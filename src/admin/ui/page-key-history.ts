/**
 * @module admin/ui/page-key-history
 * Browser code: what a key's page lists below its actions: its ledger a page at
 * a time (GET /admin/keys/:id?ledger&before, newest first, back through
 * ledgerNext) and its calls and denials, filtered by outcome, with a CSV export
 * of the same. Served inside /admin/ui/app.js; no template literals inside.
 */
export const KEY_HISTORY_JS = String.raw`
const LEDGER_PAGE = 20;
/** The seq to read the next older ledger page before; null when the page shown is the oldest. */
let ledgerNext = null;

async function loadLedger(id, before) {
  const result = await api('GET', keyPath(id, '?' + query({ ledger: LEDGER_PAGE, before: before })));
  if (id !== keyPageId || !byId('key-ledger')) return;
  const tbody = byId('key-ledger').tBodies[0];
  if (!result.ok) { emptyRow(tbody, 6, 'Could not load the ledger: ' + errorText(result)); return; }
  ledgerNext = result.data.ledgerNext;
  byId('ledger-older').disabled = ledgerNext === null;
  byId('ledger-newest').disabled = before === null;
  if (result.data.ledger.length === 0) { emptyRow(tbody, 6, 'No ledger rows.'); return; }
  tbody.replaceChildren.apply(tbody, result.data.ledger.map(function (row) {
    return el('tr', { attrs: { 'data-seq': row.seq } }, [
      el('td', { text: row.seq, cls: 'num' }), el('td', { text: when(row.at), cls: 'when' }), el('td', { text: row.kind, cls: 'kind' }),
      el('td', { text: money(row.amount), cls: 'num' }), el('td', { text: money(row.balanceAfter), cls: 'num' }), el('td', { text: row.label || '', cls: 'label' }),
    ]);
  }));
}

function keyEventsSection(id) {
  const outcome = el('select', { attrs: { name: 'outcome', 'aria-label': 'Outcome' } }, ['', 'charged', 'refunded', 'denied', 'fee'].map(function (o) {
    return el('option', { text: o || 'Any outcome', attrs: { value: o } });
  }));
  const csv = el('a', { text: 'Export CSV', cls: 'button secondary', attrs: { id: 'key-events-csv', download: 'usage-' + id + '.csv' } });
  outcome.addEventListener('change', function () { loadKeyEvents(id); });
  return el('section', {}, [
    el('h3', { text: 'Calls and denials' }),
    el('form', { cls: 'inline filters', attrs: { id: 'key-event-filter' } }, [outcome, ' ', csv]),
    scrolling(table('key-events', EVENT_HEADERS, EVENT_NUMERIC)),
  ]);
}

async function loadKeyEvents(id) {
  const form = byId('key-event-filter');
  if (!form) return;
  const filter = { keyId: id, outcome: form.elements.outcome.value };
  csvLink(byId('key-events-csv'), filter);
  await loadEvents(byId('key-events').tBodies[0], filter);
}
`
