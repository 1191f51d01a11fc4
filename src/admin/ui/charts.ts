/**
 * @module admin/ui/charts
 * Browser code: bar charts drawn by hand as SVG (no chart library, no CDN).
 * Every label goes in with textContent (a <title> per bar for hover). Kept as a
 * string because it runs in the browser, not in the Worker; served inside
 * /admin/ui/app.js. No template literals inside, so it embeds verbatim.
 */
export const CHARTS_JS = String.raw`
const SVG_NS = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const key of Object.keys(attrs || {})) node.setAttribute(key, String(attrs[key]));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round number at or above max, so the axis reads well. */
function niceMax(max) {
  if (!(max > 0)) return 1;
  const magnitude = Math.pow(10, Math.floor(Math.log10(max)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}

/**
 * Draw bars into container: one slot per label, one bar per series, stacked
 * (stack: true; for parts of one whole) or side by side.
 * series: [{ name, cls, values: number[] }]; format(value) labels values.
 */
function barChart(container, labels, series, format, stack) {
  container.replaceChildren();
  const width = 560, height = 220, left = 56, right = 8, top = 10, bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const heights = labels.map(function (_, i) {
    const values = series.map(function (s) { return Number(s.values[i]) || 0; });
    return stack ? values.reduce(function (a, b) { return a + b; }, 0) : Math.max.apply(null, values.concat([0]));
  });
  const max = niceMax(Math.max.apply(null, heights.concat([0])));
  const svg = svgEl('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': container.id });
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plotH - fraction * plotH;
    svg.appendChild(svgEl('line', { x1: left, x2: width - right, y1: y, y2: y, class: 'axis' }));
    svg.appendChild(svgEl('text', { x: left - 4, y: y + 3, 'text-anchor': 'end' }, format(max * fraction)));
  }
  const band = plotW / Math.max(1, labels.length);
  const inner = Math.max(1, band * 0.75);
  const labelEvery = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach(function (label, i) {
    const x0 = left + i * band + (band - inner) / 2;
    let base = top + plotH;
    series.forEach(function (s, j) {
      const value = Number(s.values[i]) || 0;
      const h = (value / max) * plotH;
      const w = stack ? inner : inner / series.length;
      const x = stack ? x0 : x0 + j * w;
      const y = stack ? base - h : top + plotH - h;
      if (h > 0) {
        const bar = svgEl('rect', { x: x, y: y, width: Math.max(1, w - 1), height: h, class: 'bar-' + s.cls });
        bar.appendChild(svgEl('title', {}, String(label) + ' · ' + s.name + ': ' + format(value)));
        svg.appendChild(bar);
      }
      if (stack) base -= h;
    });
    if (i % labelEvery === 0) {
      svg.appendChild(svgEl('text', { x: left + i * band + band / 2, y: height - bottom + 14, 'text-anchor': 'middle' }, String(label).slice(0, 10)));
    }
  });
  container.appendChild(svg);
  const legend = document.createElement('div');
  legend.className = 'legend';
  series.forEach(function (s) {
    const item = document.createElement('span');
    item.className = 'swatch-' + s.cls;
    item.textContent = '■ ' + s.name + '  ';
    legend.appendChild(item);
  });
  container.appendChild(legend);
}
`
