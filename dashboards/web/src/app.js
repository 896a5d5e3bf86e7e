// The dashboard app: one page, its state in the URL, every number from the
// stats API (aggregates only).
import { h, clear, fmt, labels } from './dom.js';
import { state, readURL, update, onChange, removeFilter } from './state.js';
import { loadSession, stats, csvURL, post, shareID } from './api.js';
import { drawSeries } from './chart.js';
import { PANELS, panel, rowsTable } from './panels.js';
import { consentView, proofView } from './consent.js';

const root = document.getElementById('app');
let session;
let realtimeTimer;

const PERIODS = [['today', 'Today'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['month', 'This month'],
  ['last_month', 'Last month'], ['12mo', 'Last 12 months'], ['custom', 'Custom range']];
const VIEWS = [['overview', 'Overview'], ['paths', 'Paths'], ['consent', 'Consent'], ['proof', 'Proof of consent']];
const KPIS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'];

async function main() {
  readURL();
  try {
    session = await loadSession();
  } catch (e) {
    clear(root).append(h('p', { class: 'error' }, e.message));
    return;
  }
  if (!session.sites.length) {
    clear(root).append(h('p', { class: 'loading' }, 'No site yet. Add one with: crumb site add --domain example.com'));
    return;
  }
  if (!session.sites.some((s) => s.id === state.site)) state.site = session.sites[0].id;
  onChange(render);
  render();
}

function render() {
  clearInterval(realtimeTimer);
  const content = h('main', { id: 'content' });
  clear(root).append(header(), content, footer());
  const views = { overview, paths: pathsView, consent: consentView, proof: proofView };
  let view = views[state.view] ? state.view : 'overview';
  if (view === 'proof' && session.kind === 'share') view = 'overview';
  views[view](content);
  startRealtime();
}

function header() {
  const siteSelect = h('select', { 'aria-label': 'Site', onchange: (e) => update({ site: e.target.value, filters: [] }) },
    ...session.sites.map((s) => h('option', { value: s.id, selected: s.id === state.site }, s.name || s.domain)));
  const period = h('select', { 'aria-label': 'Date range', onchange: (e) => {
    const p = e.target.value;
    if (p === 'custom') {
      const to = new Date().toISOString().slice(0, 10);
      const from = new Date(Date.now() - 13 * 864e5).toISOString().slice(0, 10);
      update({ period: p, from: state.from || from, to: state.to || to });
    } else update({ period: p });
  } }, ...PERIODS.map(([v, l]) => h('option', { value: v, selected: v === state.period }, l)));
  const controls = h('div', { class: 'controls' }, siteSelect, period);
  if (state.period === 'custom') {
    controls.append(
      h('label', { class: 'sr-only', for: 'from' }, 'From'),
      h('input', { id: 'from', type: 'date', value: state.from, onchange: (e) => update({ from: e.target.value }) }),
      h('label', { class: 'sr-only', for: 'to' }, 'To'),
      h('input', { id: 'to', type: 'date', value: state.to, onchange: (e) => update({ to: e.target.value }) }));
  }
  controls.append(h('label', { class: 'chip' },
    h('input', { type: 'checkbox', checked: state.compare, onchange: (e) => update({ compare: e.target.checked }) }),
    'Compare with previous period'));
  const nav = h('nav', { class: 'tabs', 'aria-label': 'Views' }, ...VIEWS
    .filter(([v]) => !(v === 'proof' && session.kind === 'share'))
    .map(([v, l]) => h('a', { href: '#', 'aria-current': v === state.view ? 'page' : null,
      onclick: (e) => { e.preventDefault(); update({ view: v }); } }, l)));
  const right = h('div', { class: 'controls' }, h('span', { class: 'realtime', id: 'realtime', 'aria-live': 'polite' }, '…'));
  if (session.kind === 'session') {
    right.append(h('span', { class: 'muted' }, session.email),
      h('button', { type: 'button', onclick: async () => { await post('/logout'); location.href = '/login'; } }, 'Log out'));
  }
  return h('header', { class: 'top' }, h('h1', {}, h('span', { class: 'logo', 'aria-hidden': 'true' }, '● '), 'Crumb'),
    nav, controls, h('span', { class: 'spacer' }), right);
}

function footer() {
  return h('footer', { class: 'credits' },
    'Aggregates only: rows with fewer visitors than the site\u2019s k are folded into \u201c(other)\u201d. ',
    h('a', { href: 'https://db-ip.com' }, 'IP Geolocation by DB-IP'), ' \u00b7 AS data: ',
    h('a', { href: 'https://www.routeviews.org/routeviews/' }, 'RouteViews'), ', ',
    h('a', { href: 'https://www.nro.net/' }, 'NRO'), ' (',
    h('a', { href: 'https://creativecommons.org/licenses/by/4.0/' }, 'CC BY 4.0'), ')');
}

function filtersBar() {
  if (!state.filters.length) return '';
  return h('div', { class: 'filters', 'aria-label': 'Filters' }, ...state.filters.map((f, i) =>
    h('span', { class: 'chip' }, `${f.dimension} ${f.op === 'is' ? '=' : f.op === 'is_not' ? '\u2260' : '\u2248'} ${f.value}`,
      h('button', { type: 'button', 'aria-label': `Remove filter ${f.dimension}`, onclick: () => removeFilter(i) }, '\u00d7'))));
}

async function overview(el) {
  const kpis = h('div', { class: 'kpis' });
  const chartBox = h('div', { class: 'chart' });
  let metric = 'visitors';
  el.append(filtersBar(), kpis, chartBox, h('div', { class: 'grid' }, ...PANELS.map(panel)),
    h('p', {}, h('a', { class: 'export', href: csvURL('overview'), download: 'overview.csv' }, 'Export the totals as CSV'), ' \u00b7 ',
      h('a', { class: 'export', href: csvURL('timeseries', { metrics: KPIS.join(',') }), download: 'timeseries.csv' }, 'the time series as CSV')));
  const drawChart = async () => {
    try {
      const ts = await stats('timeseries', { metrics: metric });
      drawSeries(chartBox, ts.points, ts.previous, metric);
    } catch (e) {
      clear(chartBox).append(h('p', { class: 'error' }, e.message));
    }
  };
  try {
    const o = await stats('overview');
    for (const m of KPIS) {
      const change = o.change && o.change[m];
      const tile = h('button', { type: 'button', class: 'kpi', 'aria-pressed': String(m === metric),
        onclick: () => { metric = m; for (const t of kpis.children) t.setAttribute('aria-pressed', String(t === tile)); drawChart(); } },
      h('div', { class: 'label' }, labels[m]), h('div', { class: 'value' }, fmt(m, o.metrics[m])),
      change !== undefined && change !== null ? h('div', { class: 'delta ' + ((m === 'bounce_rate' ? -change : change) >= 0 ? 'up' : 'down') },
        `${change > 0 ? '+' : ''}${fmt('rate', change)}${m === 'bounce_rate' ? ' pts' : ''} vs previous`) : '');
      kpis.append(tile);
    }
    if (o.metrics.anonymous_pageviews) {
      kpis.append(h('div', { class: 'kpi' }, h('div', { class: 'label' }, 'Page views without consent'),
        h('div', { class: 'value' }, fmt('pageviews', o.metrics.anonymous_pageviews))));
    }
  } catch (e) {
    kpis.append(h('p', { class: 'error' }, e.message));
  }
  drawChart();
}

async function pathsView(el) {
  const input = h('input', { id: 'path-page', type: 'text', value: state.page || '/', 'aria-label': 'Page path', size: 40 });
  const out = h('div', { class: 'grid' });
  const form = h('form', { class: 'controls', onsubmit: (e) => { e.preventDefault(); update({ page: input.value }); } },
    h('label', { for: 'path-page' }, 'Paths through'), input, h('button', { type: 'submit' }, 'Show'));
  el.append(filtersBar(), form, out);
  try {
    const p = await stats('paths', { page: state.page || '/' });
    const list = (title, rows, other) => h('section', { class: 'panel' }, h('header', {}, h('h2', {}, title)),
      rowsTable('page', { metrics: ['visitors', 'transitions'], rows, other, k: p.k }));
    out.append(list('Came from', p.previous || [], p.previous_other), list('Went next', p.next || [], p.next_other));
    out.append(h('p', {}, h('a', { class: 'export', href: csvURL('paths', { page: state.page || '/' }), download: 'paths.csv' }, 'Export as CSV')));
  } catch (e) {
    out.append(h('p', { class: 'error' }, e.message));
  }
}

function startRealtime() {
  const tick = async () => {
    const el = document.getElementById('realtime');
    if (!el) return;
    try {
      const r = await stats('realtime');
      el.textContent = `${fmt('visitors', r.visitors)} visitor${r.visitors === 1 ? '' : 's'} now`;
      el.title = `Visitors in the last ${r.minutes} minutes`;
    } catch {
      el.textContent = '';
    }
  };
  tick();
  realtimeTimer = setInterval(tick, 30000);
}

main();
