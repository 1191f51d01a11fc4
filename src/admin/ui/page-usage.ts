/**
 * @module admin/ui/page-usage
 * Browser code: the overview's totals (GET /admin/totals: outstanding credit,
 * keys, today's revenue) and its usage and revenue: calls and revenue per day as
 * charts, usage by route and by tool, then the events (page-events). Without a
 * USAGE_DB binding the usage endpoints answer 404, which reads as "no usage
 * data". Served inside /admin/ui/app.js; no template literals inside.
 */
export const USAGE_JS = String.raw`
function unavailable(result) {
  return result.status === 404 ? 'No usage data.' : 'No usage data (' + errorText(result) + ').';
}

function noData(container, text) {
  container.replaceChildren(el('p', { text: text, cls: 'empty' }));
}

function total(label, id, value, detail) {
  return el('div', { cls: 'total', attrs: { id: id } }, [
    el('dt', { text: label }), el('dd', { text: value, cls: 'value' }), detail ? el('dd', { text: detail, cls: 'detail' }) : null,
  ]);
}

async function loadTotals() {
  const result = await api('GET', '/admin/totals');
  const box = byId('totals');
  if (!result.ok) { box.replaceChildren(el('p', { text: 'Could not load the totals: ' + errorText(result), cls: 'error' })); return; }
  const t = result.data;
  const k = t.keys;
  box.replaceChildren(
    total('Outstanding credit', 'total-outstanding', money(t.outstandingDollars), t.held > 0 ? money(t.heldDollars) + ' held by calls in flight' : 'sum of every key\u2019s balance'),
    total('Keys', 'total-keys', String(k.total), k.active + ' active, ' + k.suspended + ' suspended, ' + k.revoked + ' revoked, ' + k.expired + ' expired'),
    total('Revenue today', 'total-revenue', t.today ? money(t.today.revenueDollars) : 'no usage data',
      t.today ? t.today.calls + ' calls since ' + when(t.today.from) : 'bind USAGE_DB to record usage')
  );
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
function usageTable(tableNode, result, emptyText) {
  const body = tableNode.tBodies[0];
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
    loadOverviewEvents(),
  ]);
  const byDay = results[0], revenue = results[1], byRoute = results[2], byTool = results[3];

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
  if (byRoute.ok && byRoute.data && Array.isArray(byRoute.data.rows)) routeChoices(byRoute.data.rows);
}
`
