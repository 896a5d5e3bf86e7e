// The dashboard app: one page, its state in the URL, every number from the
// stats API (aggregates only).
import { h, clear, fmt, labels, display, isoDay, fmtRange, withheldText } from './dom.js';
import { state, readURL, update, onChange, removeFilter, href } from './state.js';
import { loadSession, stats, realtime, csvURL, post, digestSettings, saveDigest } from './api.js';
import { drawChart, prune } from './chart.js';
import { PANELS, DIMENSIONS, panel, importedPanel, rowsTable } from './panels.js';
import { consentView, proofView } from './consent.js';
import { funnelsView, retentionView, goalsPanel } from './analysis.js';

const root = document.getElementById('app');
let session;
let realtimeTimer;
let focusHint = '';

const PERIODS = [['today', 'Today'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['month', 'This month'],
  ['last_month', 'Last month'], ['12mo', 'Last 12 months'], ['custom', 'Custom range']];
const VIEWS = [['overview', 'Overview'], ['paths', 'Paths'], ['funnels', 'Funnels'], ['retention', 'Retention'],
  ['consent', 'Consent'], ['proof', 'Proof of consent', 'Proof']];
const KPIS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'time_on_page'];
const OPS = { is: 'is', is_not: 'is not', contains: 'contains' };

/** Moves the focus, after the next render, to the element with data-focus=key. */
export function focusAfterRender(key) {
  focusHint = key;
}

async function main() {
  readURL();
  try {
    session = await loadSession();
  } catch (e) {
    clear(root).append(h('main', { class: 'wrap' }, h('p', { class: 'notice error', role: 'alert' }, e.message)));
    return;
  }
  if (!session.sites.length) {
    clear(root).append(h('main', { class: 'wrap' }, h('p', { class: 'notice' },
      'No site yet. Add one with: ', h('code', {}, 'crumb site add --domain example.com'))));
    return;
  }
  // The server lists sites in no particular order.
  session.sites.sort((a, b) => (a.name || a.domain).localeCompare(b.name || b.domain, undefined, { sensitivity: 'base' }) || a.id.localeCompare(b.id));
  if (!session.sites.some((s) => s.id === state.site)) {
    const last = safeStorage('crumb.site');
    state.site = session.sites.some((s) => s.id === last) ? last : session.sites[0].id;
  }
  onChange(render);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', render);
  render();
}

/** Reads (or, given a value, writes) localStorage, which may be unavailable. */
function safeStorage(key, value) {
  try {
    if (value === undefined) return localStorage.getItem(key);
    localStorage.setItem(key, value);
  } catch {
    // private mode or storage disabled: nothing to remember
  }
  return null;
}

function isShare() {
  return session.kind === 'share';
}

function render() {
  clearInterval(realtimeTimer);
  const active = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : '';
  const want = focusHint || active;
  focusHint = '';
  const content = h('main', { id: 'content', class: 'wrap', tabindex: '-1' });
  clear(root).append(topbar(), toolbar(), content, footer());
  prune();
  const views = { overview, paths: pathsView, funnels: funnelsView, retention: retentionView, consent: consentView, proof: proofView };
  let view = views[state.view] ? state.view : 'overview';
  if (view === 'proof' && isShare()) view = 'overview';
  const site = session.sites.find((s) => s.id === state.site);
  document.title = `${site ? site.name || site.domain : state.site} · ${VIEWS.find(([v]) => v === view)[1]} · Crumb`;
  views[view](content, { filtersBar, share: isShare(), pick: pickFilter });
  if (want) {
    const el = root.querySelector(`[data-focus="${CSS.escape(want)}"]`);
    if (el) el.focus();
    else if (want.startsWith('filter')) content.focus();
  }
  startRealtime();
}

function topbar() {
  const bar = h('div', { class: 'wrap topbar-inner' },
    h('a', { class: 'brand', href: href({ view: 'overview', filters: [], page: '' }) },
      h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', { class: 'brand-name' }, 'Crumb')));
  if (session.sites.length > 1) {
    bar.append(h('label', { class: 'sr-only', for: 'site' }, 'Site'),
      h('select', { id: 'site', class: 'site-picker', 'data-focus': 'site', onchange: (e) => {
        safeStorage('crumb.site', e.target.value);
        update({ site: e.target.value, filters: [], page: '' });
      } },
        ...session.sites.map((s) => h('option', { value: s.id, selected: s.id === state.site }, s.name || s.domain))));
  } else {
    const s = session.sites[0];
    bar.append(h('span', { class: 'site-name' }, s.name || s.domain));
  }
  bar.append(h('span', { class: 'realtime', title: 'Visitors in the last 5 minutes' },
    h('span', { class: 'pulse', 'aria-hidden': 'true' }), h('span', { id: 'realtime', 'aria-live': 'off' }, '\u2026')),
  h('span', { class: 'spacer' }));
  if (isShare()) {
    bar.append(h('span', { class: 'badge' }, 'Shared dashboard \u00b7 read-only'));
  } else {
    bar.append(h('span', { class: 'user', title: session.email }, session.email),
      h('button', { type: 'button', class: 'btn ghost', onclick: logout }, 'Log out'));
  }
  return h('header', { class: 'topbar' }, bar);
}

async function logout() {
  try {
    await post('/logout');
  } finally {
    location.href = '/login';
  }
}

/** The date range of a period, as the stats API counts it (UTC days). */
function rangeOf(period) {
  const today = isoDay();
  const [y, m] = today.split('-').map(Number);
  const first = (yy, mm) => new Date(Date.UTC(yy, mm - 1, 1)).toISOString().slice(0, 10);
  switch (period) {
    case 'today': return [today, today];
    case '7d': return [isoDay(-6), today];
    case '30d': return [isoDay(-29), today];
    case 'month': return [first(y, m), today];
    case 'last_month': return [first(y, m - 1), new Date(Date.UTC(y, m - 1, 0)).toISOString().slice(0, 10)];
    case '12mo': return [first(y, m - 11), today];
    default: return [state.from, state.to];
  }
}

function toolbar() {
  const views = VIEWS.filter(([v]) => !(v === 'proof' && isShare()));
  const current = views.some(([v]) => v === state.view) ? state.view : 'overview';
  const nav = h('nav', { class: 'views', 'aria-label': 'Views' }, ...views.map(([v, l, short]) => h('a', {
    href: href({ view: v }), 'aria-current': v === current ? 'page' : null, 'data-focus': `view-${v}`,
    onclick: (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      focusAfterRender(`view-${v}`);
      update({ view: v });
    },
  }, short ? [h('span', { class: 'long' }, l), h('span', { class: 'short' }, short)] : l)));

  const period = h('select', { id: 'period', 'data-focus': 'period', onchange: (e) => {
    const p = e.target.value;
    if (p === 'custom') {
      const [from, to] = rangeOf(state.period);
      update({ period: p, from: state.from || from, to: state.to || to });
    } else update({ period: p, from: '', to: '' });
  } }, ...PERIODS.map(([v, l]) => h('option', { value: v, selected: v === state.period }, l)));
  const range = h('div', { class: 'range' }, h('label', { class: 'sr-only', for: 'period' }, 'Date range'), period);
  if (state.period === 'custom') {
    const setDates = (changes) => {
      let { from, to } = { from: state.from, to: state.to, ...changes };
      if (!from || !to) return;
      if (from > to) [from, to] = [to, from];
      update({ from, to });
    };
    range.append(h('span', { class: 'dates' },
      h('label', { for: 'from' }, 'From'),
      h('input', { id: 'from', type: 'date', value: state.from, max: isoDay(), 'data-focus': 'from', onchange: (e) => setDates({ from: e.target.value }) }),
      h('label', { for: 'to' }, 'to'),
      h('input', { id: 'to', type: 'date', value: state.to, max: isoDay(), 'data-focus': 'to', onchange: (e) => setDates({ to: e.target.value }) })));
  } else {
    const [from, to] = rangeOf(state.period);
    range.append(h('span', { class: 'range-text muted' }, fmtRange(from, to)));
  }
  if (state.view === 'overview') {
    range.append(h('label', { class: 'switch' },
      h('input', { type: 'checkbox', role: 'switch', checked: !!state.compare, 'data-focus': 'compare',
        onchange: (e) => update({ compare: e.target.checked ? 'period' : '' }) }),
      h('span', { class: 'track', 'aria-hidden': 'true' }), 'Compare'));
    if (state.compare) {
      range.append(h('label', { class: 'sr-only', for: 'compare-with' }, 'Compare with'),
        h('select', { id: 'compare-with', 'data-focus': 'compare-with', onchange: (e) => update({ compare: e.target.value }) },
          h('option', { value: 'period', selected: state.compare === 'period' }, 'with the previous period'),
          h('option', { value: 'year', selected: state.compare === 'year' }, 'with a year before')));
    }
  }
  // The proof of consent has its own dates.
  return h('div', { class: 'toolbar' }, h('div', { class: 'wrap toolbar-inner' }, nav, current === 'proof' ? '' : range));
}

function footer() {
  return h('footer', { class: 'credits' },
    h('p', {}, 'Aggregates only: rows with fewer visitors than the site\u2019s k are folded into \u201c(other)\u201d. Times are UTC.'),
    h('p', {}, h('a', { href: 'https://db-ip.com' }, 'IP Geolocation by DB-IP'), ' \u00b7 AS data: ',
      h('a', { href: 'https://www.routeviews.org/routeviews/' }, 'RouteViews'), ', ',
      h('a', { href: 'https://www.nro.net/' }, 'NRO'), ' (',
      h('a', { href: 'https://creativecommons.org/licenses/by/4.0/' }, 'CC BY 4.0'), ')'));
}

/** Changes filter i (its operator or value). */
function setFilter(i, changes) {
  update({ filters: state.filters.map((f, j) => (j === i ? { ...f, ...changes } : f)) });
}

/** The active filters as chips; ignored lists filters the view does not apply. */
function filtersBar(ignored = []) {
  if (!state.filters.length) return '';
  const bar = h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' },
    ...state.filters.map((f, i) => {
      const name = DIMENSIONS[f.dimension] || f.dimension;
      const off = ignored.includes(f.dimension);
      // The operator cycles is → is not → contains; contains edits the value.
      const ops = Object.keys(OPS);
      const nextOp = ops[(ops.indexOf(f.op) + 1) % ops.length];
      const op = h('button', { type: 'button', class: 'op', 'data-focus': `filter-op-${f.dimension}`,
        'aria-label': `${name} ${OPS[f.op] || f.op}: change to ${OPS[nextOp]}`, title: `Change to “${OPS[nextOp]}”`,
        onclick: () => { focusAfterRender(`filter-op-${f.dimension}`); setFilter(i, { op: nextOp }); } }, OPS[f.op] || f.op);
      const value = f.op === 'contains'
        ? h('input', { class: 'val', value: f.value, size: Math.max(4, Math.min(24, f.value.length + 1)), 'aria-label': `${name} contains`,
          onchange: (e) => { const v = e.target.value.trim(); if (v) setFilter(i, { value: v }); } })
        : h('strong', {}, display(f.dimension, f.value));
      return h('span', { class: 'chip' + (off ? ' off' : ''), title: off ? 'Does not apply to this view' : null },
        h('span', {}, h('span', { class: 'dim' }, name), ' ', op, ' ', value),
        h('button', { type: 'button', class: 'remove', 'aria-label': `Remove filter ${name} ${OPS[f.op] || f.op} ${display(f.dimension, f.value)}`,
          'data-focus': `filter-${f.dimension}`, onclick: () => {
            const next = state.filters[i + 1] || state.filters[i - 1];
            focusAfterRender(next ? `filter-${next.dimension}` : 'filters-cleared');
            removeFilter(i);
          } }, '\u00d7'));
    }));
  if (state.filters.length > 1) {
    bar.append(h('button', { type: 'button', class: 'btn link', onclick: () => { focusAfterRender('filters-cleared'); update({ filters: [] }); } }, 'Clear all'));
  }
  return bar;
}

async function overview(el) {
  const kpis = h('div', { class: 'kpis', role: 'group', 'aria-label': 'Metrics: choose one for the chart' });
  const chartBox = h('div', { class: 'chart' });
  let metric = 'visitors';
  const grid = h('div', { class: 'grid' }, ...PANELS.map((def) => panel({ ...def, pick: pickFilter })));
  el.append(filtersBar(),
    h('section', { class: 'card top', 'aria-label': 'Totals' }, kpis, chartBox),
    goalsPanel(pickFilter),
    grid,
    h('p', { class: 'exports' }, 'Download: ',
      h('a', { class: 'export', href: csvURL('overview'), download: `${state.site}-overview.csv` }, 'Totals (CSV)'), ' \u00b7 ',
      h('a', { class: 'export', href: csvURL('timeseries', { metrics: KPIS.join(',') }), download: `${state.site}-timeseries.csv` }, 'Time series (CSV)')),
    isShare() ? '' : digestControl());
  const drawMetric = async () => {
    chartBox.setAttribute('aria-busy', 'true');
    try {
      const ts = await stats('timeseries', { metrics: metric });
      if (ts.withheld) {
        clear(chartBox).append(h('p', { class: 'empty withheld' }, withheldText(ts)));
        chartBox.removeAttribute('aria-busy');
        return;
      }
      // Imported days (before the site's own data) are their own series.
      const byDate = new Map(((ts.imported && ts.imported.points) || []).map((p) => [p.date, p]));
      const imported = byDate.size && ['visitors', 'visits', 'pageviews'].includes(metric)
        ? [{ key: metric, label: `Imported from ${importedName(ts.imported.format)}`, color: '--accent-3', points: ts.points.map((p) => byDate.get(p.date) || null) }] : [];
      drawChart(chartBox, { points: ts.points, interval: ts.interval, metric,
        series: [{ key: metric, label: labels[metric] }, ...(ts.previous ? [{ key: metric, label: state.compare === 'year' ? 'A year before' : 'Previous period', color: '--muted', dash: true, points: ts.previous }] : []), ...imported] });
    } catch (e) {
      clear(chartBox).append(h('p', { class: 'error' }, e.message));
    }
    chartBox.removeAttribute('aria-busy');
  };
  for (const m of KPIS) {
    kpis.append(h('button', { type: 'button', class: 'kpi', 'data-metric': m, 'aria-pressed': String(m === metric),
      onclick: (e) => {
        metric = m;
        for (const t of kpis.children) t.setAttribute('aria-pressed', String(t === e.currentTarget));
        drawMetric();
      } }, h('span', { class: 'label' }, labels[m]), h('span', { class: 'value' }, '\u2013'), h('span', { class: 'delta' })));
  }
  drawMetric();
  try {
    const o = await stats('overview');
    if (o.withheld) {
      // Filters that leave fewer than k visitors: no numbers at all.
      kpis.after(h('p', { class: 'withheld-note', role: 'note' }, withheldText(o)));
      return;
    }
    for (const tile of kpis.children) {
      const m = tile.dataset.metric;
      tile.querySelector('.value').textContent = fmt(m, o.metrics[m]);
      const d = tile.querySelector('.delta');
      const change = o.change ? o.change[m] : undefined;
      if (o.previous) {
        tile.title = `${state.compare === 'year' ? 'A year before' : 'Previous period'}: ${fmt(m, o.previous[m])}`;
        if (change === null || change === undefined) {
          d.textContent = 'new';
        } else {
          const good = m === 'bounce_rate' ? change <= 0 : change >= 0;
          d.className = 'delta ' + (change === 0 ? 'flat' : good ? 'up' : 'down');
          d.textContent = `${change > 0 ? '\u2191' : change < 0 ? '\u2193' : ''} ${fmt(m === 'bounce_rate' ? 'views_per_visit' : 'rate', Math.abs(change))}${m === 'bounce_rate' ? ' pts' : ''}`;
          d.append(h('span', { class: 'sr-only' }, state.compare === 'year' ? ' compared with a year before' : ' compared with the previous period'));
        }
      }
      if (o.estimate && (o.estimated || []).includes(m)) {
        tile.querySelector('.value').textContent = '\u2248 ' + fmt(m, o.metrics[m]);
        tile.append(h('span', { class: 'note' }, 'estimate'));
      }
      if (m === 'pageviews' && o.metrics.anonymous_pageviews) {
        tile.append(h('span', { class: 'note', title: 'Counted anonymously, without consent: in page views, never in visitors or visits' },
          `${fmt('pageviews', o.metrics.anonymous_pageviews)} without consent`));
      }
    }
    if (o.imported) {
      const im = o.imported;
      kpis.after(h('p', { class: 'imported-note', role: 'note' },
        `Before Crumb\u2019s own data, imported from ${importedName(im.format)} (${fmtRange(im.from, im.to)}): `,
        h('strong', {}, `${fmt('visitors', im.visitors)} visitors`), ' summed by day, ',
        h('strong', {}, `${fmt('pageviews', im.pageviews)} page views`),
        im.bounce_rate === null ? '' : `, bounce rate ${fmt('bounce_rate', im.bounce_rate)}`,
        '. Shown in the graph for those days and in its own panel below, not in these totals.'));
      grid.append(importedPanel(importedName(im.format)));
    }
    if (o.estimate) {
      // Which numbers are estimated, and from what share of visitors.
      const names = (o.estimated || []).map((m) => labels[m] || m).join(', ');
      kpis.after(h('p', { class: 'estimate-note', role: 'note' },
        `\u2248 ${names}: estimated from a sample of ${fmt('rate', 100 * o.sample_rate)} of visitors (this range holds over a million events); every other number is exact.`));
    }
  } catch (e) {
    kpis.after(h('p', { class: 'error' }, e.message));
  }
}

/** The logged-in user's e-mail digest of this site: never, weekly or monthly. */
function digestControl() {
  const status = h('span', { class: 'muted', role: 'status' });
  const sel = h('select', { id: 'digest-every', 'data-focus': 'digest-every', disabled: true },
    h('option', { value: '' }, 'never'), h('option', { value: 'week' }, 'every Monday'), h('option', { value: 'month' }, 'on the 1st of each month'));
  const p = h('p', { class: 'exports digest' }, h('label', { for: 'digest-every' }, 'E-mail me a digest of this site: '), sel, ' ', status);
  digestSettings().then((d) => {
    sel.value = d.every || '';
    sel.disabled = !d.mail;
    status.textContent = d.mail ? `to ${d.email}` : '(this server has no SMTP server set up)';
    sel.addEventListener('change', async () => {
      try {
        const r = await saveDigest(sel.value);
        status.textContent = r.every ? `Subscribed: ${r.email}` : 'No digest';
      } catch (e) {
        status.textContent = e.message;
      }
    });
  }).catch(() => p.remove());
  return p;
}

/** The name of the tool an import came from. */
function importedName(format) {
  return { plausible: 'Plausible', goatcounter: 'GoatCounter' }[format] || format;
}

function pickFilter(dim, value) {
  focusAfterRender(`filter-${dim}`);
  update({ filters: [...state.filters.filter((f) => f.dimension !== dim), { dimension: dim, op: 'is', value }] });
}

async function pathsView(el) {
  const page = state.page || '/';
  const input = h('input', { id: 'path-page', type: 'text', value: page, list: 'path-pages', autocomplete: 'off',
    spellcheck: 'false', 'data-focus': 'path-page' });
  const pages = h('datalist', { id: 'path-pages' });
  const out = h('div', { class: 'grid paths' });
  const form = h('form', { class: 'paths-form', onsubmit: (e) => {
    e.preventDefault();
    const v = input.value.trim() || '/';
    update({ page: v.startsWith('/') ? v : '/' + v });
  } }, h('label', { for: 'path-page' }, 'Paths through'), input, pages, h('button', { type: 'submit', class: 'btn primary' }, 'Show'));
  el.append(filtersBar(), h('section', { class: 'card paths-head' }, form,
    h('p', { class: 'muted' }, 'Within each visit: the page viewed just before ', h('code', {}, page),
      ' and the one just after. Click a page to follow the path.')), out);
  stats('breakdown/page', { limit: 50 }).then((b) => {
    for (const r of b.rows || []) pages.append(h('option', { value: r.value }));
  }).catch(() => {});
  try {
    const p = await stats('paths', { page });
    const follow = (r) => { focusAfterRender('path-page'); update({ page: r.value }); };
    const real = (r) => r.value.startsWith('/');
    const list = (title, dir, rows, other) => h('section', { class: 'panel', 'aria-label': title },
      h('header', {}, h('h2', {}, title, ' ', h('code', {}, page))),
      rowsTable('page', { metrics: ['visitors', 'transitions'], rows, other, k: p.k },
        { pick: follow, canPick: real, label: dir }));
    out.append(list('Came to', 'Previous page', p.previous || [], p.previous_other),
      list('Went on from', 'Next page', p.next || [], p.next_other));
    el.append(h('p', { class: 'exports' }, 'Download: ',
      h('a', { class: 'export', href: csvURL('paths', { page }), download: `${state.site}-paths.csv` }, 'Paths (CSV)')));
  } catch (e) {
    out.append(h('p', { class: 'error' }, e.message));
  }
}

function startRealtime() {
  const tick = async () => {
    const el = document.getElementById('realtime');
    if (!el) return;
    try {
      const r = await realtime(1);
      el.textContent = `${fmt('visitors', r.visitors)} current visitor${r.visitors === 1 ? '' : 's'}`;
    } catch {
      el.textContent = '';
    }
  };
  tick();
  realtimeTimer = setInterval(tick, 30000);
}

main();
