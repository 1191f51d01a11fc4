/**
 * @module admin/ui/styles
 * The dashboard's stylesheet, served from its own route (/admin/ui/app.css) so
 * the Content-Security-Policy needs no 'unsafe-inline'. Chart colours are classes.
 * Down to 420 px wide the page does not scroll sideways: tables scroll inside
 * their own box, forms wrap, grids fall to one column.
 */
export const DASHBOARD_CSS = `
:root { --fg: #1d2330; --muted: #5d6678; --line: #dde1e8; --bg: #f6f7f9; --accent: #2457c5; --x402: #d9822b; --bad: #b3261e; --ok: #1e7b34; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .75rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0; flex: 1; } header h1 a { color: inherit; text-decoration: none; }
#status { overflow-wrap: anywhere; min-width: 0; }
main { padding: 1rem 1.5rem; max-width: 1400px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin-bottom: 1rem; min-width: 0; }
#key-page section { padding: .75rem 1rem; }
h2 { font-size: 1rem; margin: 0 0 .75rem; }
h3 { font-size: .9rem; margin: 1rem 0 .5rem; color: var(--muted); } section > h3:first-child { margin-top: 0; }
h4 { font-size: .85rem; margin: 0 0 .35rem; }
a { color: var(--accent); }
/* Tables scroll inside themselves; the page never scrolls sideways. */
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-weight: 600; color: var(--muted); font-size: .8rem; }
td.name { max-width: 18rem; overflow: hidden; text-overflow: ellipsis; }
td.path, td.label { max-width: 24rem; overflow: hidden; text-overflow: ellipsis; }
tr.row-error td { white-space: normal; background: #fdeceb; border-bottom-color: #f3c5c2; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, monospace; font-size: .8rem; }
input, select, textarea { font: inherit; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 4px; min-width: 0; max-width: 100%; background: #fff; }
textarea { width: 100%; font-family: ui-monospace, monospace; font-size: .8rem; display: block; margin-bottom: .35rem; }
input.amount { width: 5rem; }
td button + button { margin-left: .25rem; }
button, a.button { font: inherit; padding: .3rem .7rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, a.button.secondary { background: #fff; color: var(--accent); }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
button:disabled { opacity: .5; cursor: default; }
form.inline { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-bottom: .75rem; }
form.inline label { display: inline-flex; align-items: center; gap: .25rem; }
.notice { padding: .6rem .8rem; border: 1px solid #e8c468; background: #fff8e1; border-radius: 4px; margin-bottom: .75rem; overflow-wrap: anywhere; }
.error { color: var(--bad); overflow-wrap: anywhere; }
p.action-error { margin: .35rem 0 0; }
.status-active { color: var(--ok); } .status-suspended, .status-expired { color: var(--x402); } .status-revoked { color: var(--bad); }
.outcome-denied { color: var(--bad); } .outcome-refunded { color: var(--x402); } .outcome-fee { color: var(--accent); }
.empty { color: var(--muted); font-style: italic; padding: .5rem 0; }
.totals, .facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(190px, 100%), 1fr)); gap: .75rem; margin: 0; }
.facts { grid-template-columns: repeat(auto-fit, minmax(min(140px, 100%), 1fr)); }
.totals dt, .facts dt { font-size: .8rem; color: var(--muted); } .totals dd, .facts dd { margin: 0; overflow-wrap: anywhere; }
.totals .value { font-size: 1.4rem; font-weight: 600; } .totals .detail { font-size: .8rem; color: var(--muted); }
.actions-section { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(320px, 100%), 1fr)); gap: 1rem; }
.action .controls { display: flex; flex-wrap: wrap; align-items: center; gap: .35rem; }
.key-title { overflow-wrap: anywhere; } .key-id { margin: -.5rem 0 .75rem; overflow-wrap: anywhere; color: var(--muted); }
.pager { margin-top: .5rem; } .back { margin: 0 0 .75rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(360px, 100%), 1fr)); gap: 1rem; }
figure { margin: 0; min-width: 0; } figcaption { font-size: .8rem; color: var(--muted); margin-bottom: .25rem; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .axis { stroke: var(--line); } .chart text { font-size: 10px; fill: var(--muted); }
.chart .bar-calls, .chart .bar-credits { fill: var(--accent); } .chart .bar-x402 { fill: var(--x402); } .chart .bar-denied { fill: var(--bad); } .chart .bar-refunded { fill: var(--x402); }
.legend { font-size: .75rem; color: var(--muted); } .legend .swatch-credits, .legend .swatch-calls { color: var(--accent); } .legend .swatch-x402 { color: var(--x402); } .legend .swatch-denied { color: var(--bad); } .legend .swatch-refunded { color: var(--x402); }
main.login { max-width: 24rem; margin: 4rem auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1.5rem; }
main.login form { display: grid; gap: .5rem; }
.hint { color: var(--muted); font-size: .8rem; }
@media (max-width: 600px) {
  header { padding: .5rem .75rem; } main { padding: .5rem; } section { padding: .75rem; }
  main.login { margin: 1rem auto; }
}
`

/** The tab icon, served by the gate (the CSP allows its own images only). */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2457c5"/><path d="M4 12V4h5a2.5 2.5 0 0 1 0 5H4" fill="none" stroke="#fff" stroke-width="2"/></svg>'
