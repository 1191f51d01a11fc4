/**
 * @module admin/ui/page-key
 * Browser code: one key's page (#/keys/<id>): what it holds and has spent, its
 * usage this day and month, policy and plan; the actions (top up, grant
 * expiring credits, set the plan, edit the policy, suspend or resume, rotate,
 * revoke), each with its error shown beside it; rotate and revoke ask once more
 * on the page (no dialogs). Its ledger and calls are page-key-history. Served
 * inside /admin/ui/app.js; no template literals inside, so it embeds verbatim.
 */
export const KEY_PAGE_JS = String.raw`
/** The key the page shows; an answer for another (the operator moved on) is dropped. */
let keyPageId = null;

const keyPath = function (id, rest) { return '/admin/keys/' + encodeURIComponent(id) + (rest || ''); };

async function showKeyPage(id, notice) {
  keyPageId = id;
  const page = byId('key-page');
  if (!notice) page.replaceChildren(backLink(), el('p', { text: 'Loading ' + id + '\u2026', cls: 'empty' }));
  const results = await Promise.all([api('GET', keyPath(id, '?ledger=0')), api('GET', '/admin/plans')]);
  if (id !== keyPageId) return;
  const result = results[0];
  if (!result.ok) { page.replaceChildren(backLink(), el('p', { text: 'Could not load the key: ' + errorText(result), cls: 'error', attrs: { role: 'alert' } })); return; }
  keyNames.set(result.data.id, result.data.name);
  renderKeyPage(page, result.data, results[1].ok ? results[1].data.plans : [], notice);
  await Promise.all([loadLedger(id, null), loadKeyEvents(id)]);
  document.body.setAttribute('data-key-page', id);
}

function backLink() {
  return el('p', { cls: 'back' }, [el('a', { text: '\u2190 All keys', attrs: { href: '#/' } })]);
}

function fact(label, value, cls) {
  return el('div', { cls: 'fact' }, [el('dt', { text: label }), el('dd', { text: value === null || value === undefined || value === '' ? '\u2014' : value, cls: cls || '' })]);
}

function usageText(u) { return u.calls + ' calls, ' + money(u.spend); }

/** One action: its controls, and the box its error is shown in, beside them. */
function action(name, title, controls) {
  const error = el('p', { cls: 'error action-error', attrs: { role: 'alert' } });
  error.hidden = true;
  const box = el('div', { cls: 'action', attrs: { 'data-action': name } }, [el('h4', { text: title }), el('div', { cls: 'controls' }, controls), error]);
  return { box: box, fail: function (text) { actionError(error, text); } };
}

/** Run an action's call; on success show the key again (with a notice), on failure say why beside it. */
async function act(id, item, button, call, done) {
  button.disabled = true;
  const result = await call();
  button.disabled = false;
  if (!result.ok) { item.fail(errorText(result)); return; }
  item.fail('');
  const message = done(result.data);
  setStatus(message);
  await Promise.all([showKeyPage(id, message), loadTotals()]);
}

/** A two-step button: the first click asks on the page, the second does it. */
function confirming(label, question, run) {
  const ask = el('button', { text: label, cls: 'danger' });
  const yes = el('button', { text: 'Yes, ' + label.toLowerCase(), cls: 'danger' });
  const no = el('button', { text: 'Cancel', cls: 'secondary' });
  const confirm = el('span', { cls: 'confirm' }, [el('span', { text: question + ' ' }), yes, ' ', no]);
  confirm.hidden = true;
  ask.addEventListener('click', function () { ask.hidden = true; confirm.hidden = false; });
  no.addEventListener('click', function () { ask.hidden = false; confirm.hidden = true; });
  yes.addEventListener('click', function () { run(yes); });
  return [ask, confirm];
}

function renderKeyPage(page, key, plans, notice) {
  const id = key.id;
  const facts = el('dl', { cls: 'facts' }, [
    fact('Credits', money(key.credits), 'credits'), fact('Held', money(key.held)), fact('Balance', money(key.balance)),
    fact('Spent', money(key.spent), 'spent'), fact('Today', usageText(key.usage.today)), fact('This month', usageText(key.usage.thisMonth)),
    fact('Plan', key.plan ? key.plan.name + ' (' + key.plan.kind + ')' : 'none: list prices', 'plan'), fact('Created', when(key.createdAt)),
    fact('Updated', when(key.updatedAt)), fact('Expires', when(key.expiresAt)), fact('Rotated', when(key.rotatedAt)),
    fact('Rate limit', key.rateLimit ? key.rateLimit.limit + ' per ' + key.rateLimit.windowSeconds + ' s' : ''),
    fact('Expiring credits', key.expiringCredits.map(function (lot) { return money(lot.credits) + ' at ' + when(lot.expiresAt); }).join('; ')),
  ]);
  const live = key.status !== 'revoked';

  const amount = el('input', { attrs: { name: 'topup', inputmode: 'decimal', placeholder: '10.00', 'aria-label': 'Top-up amount ($)' } });
  const topUpButton = el('button', { text: 'Top up' });
  const topUpAction = action('topup', 'Top up', [amount, ' ', topUpButton]);
  topUpButton.addEventListener('click', function () {
    act(id, topUpAction, topUpButton, function () { return topUp(id, amount.value.trim()); }, function (d) { return 'Topped up ' + key.name + '; credits now $' + d.credits + '.'; });
  });

  const grantCredits = el('input', { attrs: { name: 'grant', inputmode: 'decimal', placeholder: '5.00', 'aria-label': 'Credits to grant ($)' } });
  const grantExpires = el('input', { attrs: { name: 'grant-expires', type: 'datetime-local', step: '1', 'aria-label': 'Expires at (UTC)' } });
  const grantNote = el('input', { attrs: { name: 'grant-note', placeholder: 'Note', maxlength: '200', 'aria-label': 'Note' } });
  const grantButton = el('button', { text: 'Grant' });
  const grantAction = action('grant', 'Grant expiring credits (expiry in UTC)', [grantCredits, ' ', grantExpires, ' ', grantNote, ' ', grantButton]);
  grantButton.addEventListener('click', function () {
    const body = { credits: grantCredits.value.trim(), expiresAt: utcInstant(grantExpires.value) };
    if (grantNote.value.trim()) body.note = grantNote.value.trim();
    act(id, grantAction, grantButton, function () { return api('POST', keyPath(id, '/grants'), body); }, function () { return 'Granted ' + money(body.credits) + ' to ' + key.name + '.'; });
  });

  const planSelect = el('select', { attrs: { name: 'plan', 'aria-label': 'Plan' } }, [el('option', { text: 'None (list prices)', attrs: { value: '' } })]
    .concat(plans.map(function (p) { return el('option', { text: p.name + ' (' + p.kind + ')', attrs: { value: p.name } }); })));
  planSelect.value = key.plan ? key.plan.name : '';
  const planButton = el('button', { text: 'Set plan' });
  const planAction = action('plan', 'Plan', [planSelect, ' ', planButton]);
  planButton.addEventListener('click', function () {
    const plan = planSelect.value || null;
    act(id, planAction, planButton, function () { return api('PUT', keyPath(id, '/plan'), { plan: plan }); }, function () { return key.name + ' is on ' + (plan || 'list prices') + '.'; });
  });

  const policyText = el('textarea', { text: JSON.stringify(key.policy, null, 2), attrs: { name: 'policy', rows: '8', spellcheck: 'false', 'aria-label': 'Policy (JSON)' } });
  const policyButton = el('button', { text: 'Save policy' });
  const policyAction = action('policy', 'Policy (JSON: allowTools, denyTools, lifetimeLimit, quotas)', [policyText, policyButton]);
  policyButton.addEventListener('click', function () {
    let body;
    try { body = JSON.parse(policyText.value); } catch (error) { policyAction.fail('The policy is not JSON: ' + error.message); return; }
    act(id, policyAction, policyButton, function () { return api('PUT', keyPath(id, '/policy'), body); }, function () { return 'Saved the policy of ' + key.name + '.'; });
  });

  const statusAction = action('status', 'Status', []);
  const controls = statusAction.box.querySelector('.controls');
  const transitionTo = function (verb, button) {
    act(id, statusAction, button, function () { return api('POST', keyPath(id, '/' + verb)); }, function (d) { return key.name + ' is now ' + d.status + '.'; });
  };
  if (key.status === 'active') { const b = el('button', { text: 'Suspend', cls: 'secondary' }); b.addEventListener('click', function () { transitionTo('suspend', b); }); controls.append(b, ' '); }
  if (key.status === 'suspended') { const b = el('button', { text: 'Resume', cls: 'secondary' }); b.addEventListener('click', function () { transitionTo('resume', b); }); controls.append(b, ' '); }
  if (live) controls.append.apply(controls, confirming('Revoke', 'Revoke for good? It cannot be undone.', function (b) { transitionTo('revoke', b); }));
  else controls.append(el('span', { text: 'Revoked: final.', cls: 'empty' }));

  const rotateAction = action('rotate', 'Rotate', live ? confirming('Rotate', 'Issue a new key? The old one stops working at once.', function (b) {
    act(id, rotateAction, b, function () { return api('POST', keyPath(id, '/rotate')); }, function (d) { pendingNewKey = d.key; return 'Rotated ' + key.name + '; the old key no longer works.'; });
  }) : [el('span', { text: 'A revoked key cannot be rotated.', cls: 'empty' })]);

  const shownNotice = notice ? el('div', { cls: 'notice', attrs: { role: 'status' } }, [el('span', { text: notice })]) : null;
  if (shownNotice && pendingNewKey) {
    shownNotice.append(' ', el('strong', { text: 'The new key, shown this once: ' }), el('code', { text: pendingNewKey, cls: 'mono', attrs: { 'data-new-key': id } }));
    pendingNewKey = null;
  }
  page.replaceChildren.apply(page, [
    backLink(),
    el('h2', { cls: 'key-title' }, [el('span', { text: key.name, cls: 'key-name' }), ' ', el('span', { text: key.status, cls: 'status status-' + key.status })]),
    el('p', { text: id, cls: 'mono key-id' }),
    shownNotice,
    el('section', {}, [el('h3', { text: 'Balance and use' }), facts]),
    el('section', { cls: 'actions-section' }, (live ? [topUpAction.box, grantAction.box, planAction.box, policyAction.box] : []).concat([statusAction.box, rotateAction.box])),
    el('section', {}, [el('h3', { text: 'Ledger' }), scrolling(table('key-ledger', ['Seq', 'When (UTC)', 'Kind', 'Amount', 'Balance after', 'Label'], [0, 3, 4])),
      el('div', { cls: 'pager' }, [el('button', { text: 'Newest', cls: 'secondary', attrs: { id: 'ledger-newest' } }), ' ', el('button', { text: 'Older', cls: 'secondary', attrs: { id: 'ledger-older' } })])]),
    keyEventsSection(id),
  ].filter(Boolean));
  byId('ledger-newest').addEventListener('click', function () { loadLedger(id, null); });
  byId('ledger-older').addEventListener('click', function () { loadLedger(id, ledgerNext); });
}

/** The key a rotation just issued, kept until the page drawn after it shows it (once). */
let pendingNewKey = null;
`
