/**
 * @module admin/ui/script
 * The dashboard's browser code, served as /admin/ui/app.js (no inline script:
 * the CSP forbids it), composed here in one scope from its parts, one concern
 * each: browser-core (nodes, the admin API, amounts, times, errors beside their
 * row), charts, page-keys (the key list), page-events (calls and denials, CSV),
 * page-usage (totals, charts, usage tables), page-key and page-key-history (one
 * key's page). Last, below, the router: `#/` is the overview and
 * `#/keys/<id>` a key's page, so a key's page has an address of its own (the
 * key's id, never its secret or the admin token) and Back works.
 */
import { CHARTS_JS } from './charts'
import { CORE_JS } from './browser-core'
import { EVENTS_JS } from './page-events'
import { KEY_HISTORY_JS } from './page-key-history'
import { KEY_PAGE_JS } from './page-key'
import { KEYS_JS } from './page-keys'
import { USAGE_JS } from './page-usage'

const ROUTER_JS = String.raw`
let overviewLoaded = false;

async function route() {
  const match = /^#\/keys\/([^/]+)$/.exec(window.location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  byId('overview').hidden = id !== null;
  byId('key-page').hidden = id === null;
  document.body.removeAttribute('data-key-page');
  if (id !== null) {
    window.scrollTo(0, 0);
    await showKeyPage(id);
    return;
  }
  keyPageId = null;
  if (!overviewLoaded) {
    overviewLoaded = true;
    // Usage after keys: the events list names each key.
    await Promise.all([loadTotals(), loadKeys(false)]);
    document.body.setAttribute('data-keys-loaded', '1');
    await loadUsage();
    document.body.setAttribute('data-usage-loaded', '1');
  } else {
    await Promise.all([loadTotals(), loadKeys(false), loadOverviewEvents()]);
  }
}

window.addEventListener('hashchange', function () { route(); });

byId('logout').addEventListener('click', async function () {
  await api('POST', '/admin/ui/logout');
  window.location.assign('/admin/ui');
});

route();
`

/** The whole of /admin/ui/app.js. */
export const DASHBOARD_JS = `'use strict';\n(function () {\n${[CORE_JS, CHARTS_JS, KEYS_JS, EVENTS_JS, USAGE_JS, KEY_PAGE_JS, KEY_HISTORY_JS, ROUTER_JS].join('\n')}\n})();\n`
