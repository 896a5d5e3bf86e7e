// Time series charts (uPlot, a small canvas chart library) with a tooltip
// and colours from the stylesheet's custom properties.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h, clear, fmt, fmtBucket } from './dom.js';

const plots = new Map(); // element → uPlot

function css(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function toSeconds(date) {
  return Date.parse(date.length === 10 ? date + 'T00:00:00Z' : date) / 1000;
}

/**
 * Draws series over time into el.
 *   points:   [{date, ...}] (the API's buckets)
 *   series:   [{key, label, color?: CSS custom property, dash?: true, points?: other buckets}]
 *   metric:   how values are formatted (fmt)
 *   interval: hour, day, week or month
 *   max:      the y scale's maximum (100 for rates)
 */
export function drawChart(el, { points, series, metric, interval, max }) {
  const old = plots.get(el);
  if (old) {
    old.destroy();
    plots.delete(el);
  }
  clear(el);
  // Buckets still to come (later hours of today) are not zeros: leave them out.
  const now = Date.now() / 1000;
  if (points) points = points.filter((p) => toSeconds(p.date) <= now);
  if (!points || !points.length) {
    el.append(h('p', { class: 'empty' }, 'No data in this period.'));
    return;
  }
  const xs = points.map((p) => toSeconds(p.date));
  const data = [xs];
  const opts = [{}];
  const fill = css('--chart-fill', 'rgba(47,91,211,.16)');
  const colors = series.map((s) => css(s.color || '--accent', '#2f5bd3'));
  series.forEach((s, i) => {
    const src = s.points || points;
    data.push(xs.map((_, j) => (src[j] ? src[j][s.key] ?? null : null)));
    const stroke = colors[i];
    opts.push({
      label: s.label, stroke, width: s.dash ? 1.5 : 2.25, dash: s.dash ? [5, 5] : undefined,
      fill: i === 0 && !s.dash ? (u) => gradient(u, fill) : undefined,
      paths: uPlot.paths.spline(), points: { show: xs.length <= 2, size: 6, fill: stroke },
    });
  });
  const axis = {
    stroke: css('--muted', '#666'), font: '12px system-ui, sans-serif', size: 36, gap: 6,
    grid: { stroke: css('--grid', '#eee'), width: 1 }, ticks: { show: false },
  };
  const mobile = el.clientWidth < 500;
  const height = mobile ? 200 : 260;
  const tip = h('div', { class: 'chart-tip', role: 'presentation' });
  tip.hidden = true;
  const plot = new uPlot({
    width: Math.max(260, el.clientWidth), height, series: opts,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, max ?? niceMax(hi)] } },
    axes: [
      { ...axis, grid: { show: false }, values: (u, vals) => vals.map((v) => fmtBucket(v, interval)), space: mobile ? 60 : 80,
        incrs: INCRS[interval] || INCRS.day },
      { ...axis, size: 52, values: (u, vals) => vals.map((v) => fmt(metric, v)), space: 40,
        // Counts tick at whole numbers: no 2.5 visitors shown as "3".
        incrs: data.slice(1).every((d) => d.every((v) => v == null || Number.isInteger(v))) ? WHOLE : undefined },
    ],
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 8, width: 2 }, y: false },
    padding: [12, 28, 0, 0],
    hooks: { setCursor: [(u) => showTip(u, tip, series, colors, interval, metric)] },
  }, data, el);
  plot.over.append(tip);
  plots.set(el, plot);
  const total = data[1].reduce((a, b) => a + (b || 0), 0);
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', `${series[0].label} over time: ${points.length} points` +
    (metric.startsWith('opt_in') || max === 100 ? '' : `, total ${fmt(metric, total)}`));
  if (series.length > 1) {
    el.append(h('ul', { class: 'chart-legend' }, ...series.map((s, i) => h('li', {}, swatch(colors[i], s.dash), s.label))));
  }
}

// Tick steps in seconds: whole buckets only, so that no label repeats.
const HOUR = 3600;
const DAY = 24 * HOUR;
const INCRS = {
  hour: [HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR, 6 * HOUR, 12 * HOUR, DAY],
  day: [DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 30 * DAY, 60 * DAY, 91 * DAY, 182 * DAY, 365 * DAY],
  week: [7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 182 * DAY, 365 * DAY],
  month: [30 * DAY, 60 * DAY, 91 * DAY, 182 * DAY, 365 * DAY],
};

// Tick steps of the y axis for counts: 1, 2, 5, 10, 20, 50…
const WHOLE = [];
for (let m = 1; m <= 1e12; m *= 10) WHOLE.push(m, 2 * m, 5 * m);

function swatch(color, dash) {
  const el = h('span', { class: 'swatch' + (dash ? ' dash' : ''), 'aria-hidden': 'true' });
  el.style.borderColor = color;
  return el;
}

function gradient(u, color) {
  const { top, height } = u.bbox;
  const g = u.ctx.createLinearGradient(0, top, 0, top + height);
  g.addColorStop(0, color);
  g.addColorStop(1, 'rgba(0,0,0,0)');
  return g;
}

function niceMax(hi) {
  if (!hi || hi <= 0) return 4;
  const pow = 10 ** Math.floor(Math.log10(hi));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * pow >= hi * 1.05) return m * pow;
  return 10 * pow;
}

function showTip(u, tip, series, colors, interval, metric) {
  const i = u.cursor.idx;
  if (i === null || i === undefined || u.cursor.left < 0) {
    tip.hidden = true;
    return;
  }
  clear(tip).append(h('div', { class: 'tip-date' }, fmtBucket(u.data[0][i], interval, true)));
  series.forEach((s, k) => {
    const v = u.data[k + 1][i];
    const src = s.points && s.points[i];
    const label = s.dash && src ? fmtBucket(new Date(src.date.length === 10 ? src.date + 'T00:00:00Z' : src.date), interval, true) : s.label;
    tip.append(h('div', { class: 'tip-row' }, swatch(colors[k], s.dash), h('span', {}, label),
      h('strong', {}, fmt(metric, v))));
  });
  tip.hidden = false;
  const left = u.valToPos(u.data[0][i], 'x');
  const w = tip.offsetWidth;
  const right = left + 14 + w <= u.over.clientWidth;
  tip.style.left = `${right ? left + 14 : Math.max(0, left - 14 - w)}px`;
  tip.style.top = '6px';
}

function resizeAll() {
  for (const [el, plot] of plots) {
    if (!el.isConnected) {
      plot.destroy();
      plots.delete(el);
      continue;
    }
    const w = Math.max(260, el.clientWidth);
    if (w !== plot.width) plot.setSize({ width: w, height: plot.height });
  }
}

let resizeTimer;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(resizeAll, 100);
});

/** Destroys the charts that are no longer in the page. */
export function prune() {
  for (const [el, plot] of plots) {
    if (!el.isConnected) {
      plot.destroy();
      plots.delete(el);
    }
  }
}
