// The time series chart (uPlot, a small canvas chart library).
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { h, clear, fmt, labels } from './dom.js';

let plot = null;

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#2f5bd3';
}

/**
 * Draws metric over time into el, with the previous period dashed when
 * given. points: [{date, <metric>: n}], previous: the same or undefined.
 */
export function drawSeries(el, points, previous, metric) {
  clear(el);
  if (plot) {
    plot.destroy();
    plot = null;
  }
  if (!points || !points.length) {
    el.append(h('p', { class: 'empty' }, 'No data in this period.'));
    return;
  }
  const xs = points.map((p) => Date.parse(p.date.length === 10 ? p.date + 'T00:00:00Z' : p.date) / 1000);
  const data = [xs, points.map((p) => p[metric] ?? 0)];
  const series = [{}, { label: labels[metric] || metric, stroke: color('--accent'), width: 2, fill: color('--bar'),
    value: (u, v) => fmt(metric, v) }];
  if (previous && previous.length) {
    data.push(xs.map((_, i) => (previous[i] ? previous[i][metric] ?? 0 : null)));
    series.push({ label: 'Previous period', stroke: color('--muted'), width: 1.5, dash: [6, 4], value: (u, v) => fmt(metric, v) });
  }
  const width = Math.max(280, el.clientWidth - 24);
  const axis = { stroke: color('--muted'), grid: { stroke: color('--line'), width: 1 }, ticks: { stroke: color('--line') } };
  plot = new uPlot({
    width, height: 240, series, scales: { x: { time: true } },
    axes: [axis, { ...axis, values: (u, vals) => vals.map((v) => fmt(metric, v)) }],
    legend: { live: true }, cursor: { drag: { x: false, y: false } },
  }, data, el);
  el.setAttribute('role', 'img');
  const total = data[1].reduce((a, b) => a + (b || 0), 0);
  el.setAttribute('aria-label', `${labels[metric] || metric} over time, ${points.length} points, total ${fmt(metric, total)}`);
}

window.addEventListener('resize', () => {
  if (plot) plot.setSize({ width: Math.max(280, plot.root.parentElement.clientWidth - 24), height: 240 });
});
