/**
 * @module admin/ui/page-keys
 * Browser code: the key list of the overview. Searched by name or id and
 * filtered by status through the admin API (GET /admin/keys?q&status), a page
 * at a time; each name opens the key's own page. Create, top up, suspend and
 * resume from here; an action that fails says why under its own row. Served
 * inside /admin/ui/app.js; no template literals inside, so it embeds verbatim.
 */
export const KEYS_JS = String.raw`
const KEY_PAGE_SIZE = 50;
const KEY_COLUMNS = 8;
/** The cursor of the next page of the current listing (null: no more). */
let keysNext = null;
/** Bumped by every new listing, so an answer to an older one is dropped. */
let keysListing = 0;

function keyFilter() {
  const form = byId('key-filter');
  return { q: form.elements.q.value.trim(), status: form.elements.status.value };
}

/** List keys from the start (append: false) or the next page of the same listing. */
async function loadKeys(append) {
  const listing = append ? keysListing : ++keysListing;
  const filter = keyFilter();
  const after = append ? keysNext : null;
  const result = await api('GET', '/admin/keys?' + query({ limit: KEY_PAGE_SIZE, q: filter.q, status: filter.status, after: after }));
  if (listing !== keysListing) return;
  const tbody = byId('keys').tBodies[0];
  if (!result.ok) { emptyRow(tbody, KEY_COLUMNS, 'Could not load keys: ' + errorText(result)); byId('keys-more').hidden = true; return; }
  const keys = result.data.keys;
  for (const key of keys) keyNames.set(key.id, key.name);
  if (!append) tbody.replaceChildren();
  for (const key of keys) tbody.appendChild(keyRow(key));
  keysNext = result.data.next;
  byId('keys-more').hidden = !keysNext;
  const shown = tbody.querySelectorAll('tr[data-key-id]').length;
  if (shown === 0 && !keysNext) emptyRow(tbody, KEY_COLUMNS, filter.q || filter.status ? 'No key matches.' : 'No keys yet.');
  byId('keys-count').textContent = shown + (keysNext ? '+' : '') + ' shown';
}

function keyLink(id, name) {
  return el('a', { text: name, attrs: { href: '#/keys/' + encodeURIComponent(id) } });
}

function keyRow(key) {
  const row = el('tr', { attrs: { 'data-key-id': key.id } });
  const amount = el('input', { cls: 'amount', attrs: { inputmode: 'decimal', placeholder: '10.00', 'aria-label': 'Top-up amount for ' + key.name } });
  const topUpButton = el('button', { text: 'Top up', cls: 'secondary', onClick: async function () {
    const credits = amount.value.trim();
    if (!credits) { rowError(row, 'Enter an amount to top up.'); return; }
    topUpButton.disabled = true;
    const result = await topUp(key.id, credits);
    topUpButton.disabled = false;
    if (!result.ok) { rowError(row, 'Top-up failed: ' + errorText(result)); return; }
    setStatus(result.data.duplicate
      ? 'That top-up of ' + key.name + ' was already credited (its answer was lost): credited once; credits now $' + result.data.credits + '.'
      : 'Topped up ' + key.name + ' by $' + credits + '; credits now $' + result.data.credits + '.');
    await loadKeys(false);
  } });
  const actions = [];
  if (key.status === 'active') actions.push(el('button', { text: 'Suspend', cls: 'secondary', onClick: function () { listTransition(row, key, 'suspend'); } }));
  if (key.status === 'suspended') actions.push(el('button', { text: 'Resume', cls: 'secondary', onClick: function () { listTransition(row, key, 'resume'); } }));
  row.append(
    el('td', { cls: 'name', attrs: { title: key.name } }, [keyLink(key.id, key.name)]),
    el('td', { text: key.id, cls: 'mono' }),
    el('td', { text: key.status, cls: 'status status-' + key.status }),
    el('td', { text: money(key.credits), cls: 'num credits' }),
    el('td', { text: money(key.held), cls: 'num' }),
    el('td', { text: when(key.createdAt) }),
    el('td', { cls: 'topup' }, key.status === 'revoked' || key.status === 'unknown' ? [] : [amount, ' ', topUpButton]),
    el('td', { cls: 'actions' }, actions)
  );
  return row;
}

async function listTransition(row, key, action) {
  const result = await api('POST', '/admin/keys/' + encodeURIComponent(key.id) + '/' + action);
  if (!result.ok) { rowError(row, action + ' failed: ' + errorText(result)); return; }
  setStatus(key.name + ' is now ' + result.data.status + '.');
  await loadKeys(false);
}

let keySearchTimer = null;
byId('key-filter').addEventListener('input', function () {
  clearTimeout(keySearchTimer);
  keySearchTimer = setTimeout(function () { loadKeys(false); }, 250);
});
byId('key-filter').addEventListener('submit', function (event) {
  event.preventDefault();
  clearTimeout(keySearchTimer);
  loadKeys(false);
});
byId('keys-more').addEventListener('click', function () { loadKeys(true); });

byId('create-key').addEventListener('submit', async function (event) {
  event.preventDefault();
  const form = event.target;
  const name = form.elements.name.value.trim();
  const credits = form.elements.credits.value.trim() || '0';
  const error = byId('create-key-error');
  const result = await api('POST', '/admin/keys', { name: name, credits: credits });
  if (!result.ok) { actionError(error, 'Could not create the key: ' + errorText(result)); return; }
  actionError(error, '');
  const notice = byId('new-key');
  notice.hidden = false;
  notice.replaceChildren(
    el('strong', { text: 'Key created for ' + result.data.name + '. Copy it now; it is never shown again: ' }),
    el('code', { text: result.data.key, cls: 'mono', attrs: { 'data-new-key': result.data.id } })
  );
  form.reset();
  setStatus('Created ' + result.data.name + '.');
  await Promise.all([loadKeys(false), loadTotals()]);
});
`
