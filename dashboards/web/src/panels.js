// Breakdown panels: a table of the top rows of a dimension, each row a
// button that filters the whole dashboard by its value.
import { h, clear, fmt, columns, labels, display, withheldText } from './dom.js';
import { stats, csvURL } from './api.js';
import { state, addFilter, update } from './state.js';

/**
 * The panels of the overview, each with its tabs (dimensions); a lazy one
 * loads when it is scrolled near.
 */
export const PANELS = [
  { title: 'Sources', tabs: [['channel', 'Channels'], ['source', 'Sources'], ['referrer', 'Referrers'],
    ['utm_source', 'Campaigns', [['utm_source', 'UTM source'], ['utm_medium', 'UTM medium'], ['utm_campaign', 'UTM campaign']]]] },
  { title: 'Pages', tabs: [['page', 'Top pages'], ['entry_page', 'Entry pages'], ['exit_page', 'Exit pages']] },
  { title: 'Locations', tabs: [['country', 'Countries'], ['region', 'Regions'], ['city', 'Cities'], ['provider', 'Networks'],
    ['domain_type', 'Domain types']] },
  { title: 'Devices', tabs: [['browser', 'Browsers'], ['browser_version', 'Versions'], ['os', 'OS'], ['device', 'Devices'],
    ['screen', 'Screens'], ['language', 'Languages']] },
  { title: 'Events', wide: true, tabs: [['event', 'Custom events'], ['outbound', 'Outbound links'], ['download', 'Downloads'],
    ['search', 'Site search'], ['error_page', 'Error pages']] },
  { title: 'Loyalty', lazy: true, tabs: [['visits_per_visitor', 'Visits per visitor'], ['days_since_last_visit', 'Since last visit']] },
];

/**
 * The panel of an import's values (days before the site's own data): its
 * rows cannot filter, since imported numbers have no visitors to filter.
 */
export function importedPanel(name) {
  // An imported event's count is in its pageviews column.
  const asEvents = (r) => r && { ...r, events: r.pageviews };
  return panel({ title: `Imported from ${name}`, path: 'imported/', static: true,
    note: 'The days before Crumb\u2019s own data; visitors are summed by day.',
    metrics: (dim) => ['visitors', dim === 'event' ? 'events' : 'pageviews'],
    adapt: (dim, data) => (dim === 'event' ? { ...data, rows: (data.rows || []).map(asEvents), other: asEvents(data.other) } : data),
    tabs: [['page', 'Pages'], ['source', 'Sources'], ['country', 'Countries'], ['browser', 'Browsers'], ['device', 'Devices'],
      ['event', 'Events']] });
}

/** Names of dimensions, singular, for filter chips and table headers. */
export const DIMENSIONS = {
  page: 'Page', entry_page: 'Entry page', exit_page: 'Exit page', hostname: 'Hostname', channel: 'Channel',
  source: 'Source', referrer: 'Referrer', utm_source: 'UTM source', utm_medium: 'UTM medium', utm_campaign: 'UTM campaign',
  utm_content: 'UTM content', utm_term: 'UTM term', country: 'Country', region: 'Region', city: 'City',
  provider: 'Network', browser: 'Browser', browser_version: 'Browser version', os: 'OS', os_version: 'OS version',
  device: 'Device', screen: 'Screen', language: 'Language', event: 'Event', event_prop: 'Event property',
  outbound: 'Outbound link', download: 'Download', search: 'Search term', error_page: 'Error page',
  policy_version: 'Policy version', domain_type: 'Domain type', days_since_last_visit: 'Since last visit',
  visits_per_visitor: 'Visits per visitor', goal: 'Goal',
};

/** Breakdowns that cannot filter: their rows are not buttons. */
const BREAKDOWN_ONLY = new Set(['days_since_last_visit', 'visits_per_visitor']);

const PAGE_DIMS = new Set(['page', 'entry_page', 'exit_page']);

let panelSeq = 0;

/** Renders one panel into a new element and loads its first tab. */
export function panel(def) {
  const id = `panel-${++panelSeq}`;
  const body = h('div', { class: 'panel-body' });
  const tabs = h('div', { class: 'tabs-small', role: 'group', 'aria-label': `${def.title}: show` });
  const exportLink = h('a', { class: 'export', href: '#', title: 'Download up to 100 rows as CSV' }, 'CSV');
  const el = h('section', { class: 'panel' + (def.wide ? ' wide' : ''), 'aria-labelledby': id },
    h('header', {}, h('h2', { id }, def.title), exportLink), tabs, body);
  let current = def.tabs[0][0];
  let seq = 0;
  // The tab that shows dim, directly or as one of its sub-tabs.
  const tabOf = (dim) => def.tabs.find(([d, , sub]) => d === dim || (sub && sub.some(([x]) => x === dim)));
  // drill: a custom event's properties ({event}) or one property's values
  // ({event, property}), shown in the tab of custom events.
  const load = async (dim, drill = null) => {
    current = dim;
    const mine = ++seq;
    const [top, , sub] = tabOf(drill ? 'event' : dim);
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.dataset.dim === top));
    const path = (def.path || 'breakdown/') + (drill ? 'event_prop' : dim);
    const extra = drill ? { event: drill.event, property: drill.property } : {};
    exportLink.href = csvURL(path, { ...extra, limit: 100 });
    exportLink.setAttribute('download', `${state.site}-${drill ? 'event-properties' : dim}.csv`);
    body.setAttribute('aria-busy', 'true');
    if (!body.firstChild) body.append(h('p', { class: 'empty loading' }, 'Loading…'));
    const above = sub
      ? h('div', { class: 'subtabs', role: 'group', 'aria-label': 'Campaign parameter' },
        ...sub.map(([d, l]) => h('button', { type: 'button', 'aria-pressed': String(d === dim), onclick: () => load(d) }, l)))
      : drill ? crumbs(drill, (d) => load('event', d)) : '';
    let opts = {
      pick: def.pick ? (r) => def.pick(dim, r.value) : undefined,
      action: def.static ? null : PAGE_DIMS.has(dim) ? (r) => pathsButton(r.value)
        : dim === 'event' && !drill ? (r) => propsButton(r.value, () => load('event', { event: r.value })) : null,
    };
    if (BREAKDOWN_ONLY.has(dim) || def.static) opts.canPick = () => false;
    if (def.metrics) opts.metrics = def.metrics(dim);
    if (drill && !drill.property) {
      opts = { pick: (r) => load('event', { ...drill, property: r.value }), label: 'Property' };
    } else if (drill) {
      opts = { pick: (r) => (def.pick || ((d, v) => addFilter(d, v)))('event_prop', `${drill.property}=${r.value}`), label: drill.property };
    }
    try {
      let data = await stats(path, { ...extra, limit: 10 });
      if (def.adapt) data = def.adapt(dim, data);
      if (mine !== seq) return;
      clear(body).append(above, def.note ? h('p', { class: 'panel-note' }, def.note) : '', dim === 'days_since_last_visit' ? newVsReturning(data) : '', rowsTable(drill ? 'event_prop' : dim, data, opts));
    } catch (e) {
      if (mine !== seq) return;
      clear(body).append(above, h('p', { class: 'error' }, e.message));
    }
    body.removeAttribute('aria-busy');
  };
  for (const [dim, label] of def.tabs) {
    tabs.append(h('button', { type: 'button', 'data-dim': dim, 'aria-pressed': 'false', onclick: () => load(dim) }, label));
  }
  if (def.lazy && 'IntersectionObserver' in window) {
    // Below the fold: loaded when it comes near the viewport, so that the
    // panels on screen get the server first.
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        seen.disconnect();
        load(current);
      }
    }, { rootMargin: '200px' });
    seen.observe(el);
  } else {
    load(current);
  }
  return el;
}

/** The share of first visits among a period's visits, and of the others. */
function newVsReturning(data) {
  const total = data.totals && data.totals.visits;
  const first = (data.rows || []).find((r) => r.value === 'first visit');
  if (!total || !first) return '';
  const pct = (n) => `${Math.round((n / total) * 1000) / 10}%`;
  return h('p', { class: 'panel-note' }, `New visits ${pct(first.visits)} \u00b7 returning ${pct(total - first.visits)}`);
}

function propsButton(event, open) {
  return h('button', { type: 'button', class: 'rowaction', title: `Properties of ${event}`,
    'aria-label': `Properties of ${event}`, onclick: open }, '…');
}

/** The way back from a custom event's properties: Custom events › signup › plan. */
function crumbs(drill, go) {
  const nav = h('nav', { class: 'crumbs', 'aria-label': 'Custom event properties' },
    h('button', { type: 'button', class: 'btn link', onclick: () => go(null) }, 'Custom events'), ' › ');
  if (drill.property) {
    nav.append(h('button', { type: 'button', class: 'btn link', onclick: () => go({ event: drill.event }) }, drill.event), ' › ',
      h('strong', { 'aria-current': 'location' }, drill.property));
  } else {
    nav.append(h('strong', { 'aria-current': 'location' }, drill.event));
  }
  return nav;
}

function pathsButton(page) {
  return h('button', { type: 'button', class: 'rowaction', title: `Where visitors of ${page} came from and went next`,
    'aria-label': `Paths through ${page}`, onclick: () => update({ view: 'paths', page }) }, '\u21c4');
}

/**
 * A breakdown as a table. Rows are buttons that call pick (default: filter
 * by the row's value); "(other)" and the rows canPick refuses are text.
 * action(row) may add a second, small button to a row.
 */
export function rowsTable(dim, data, { metrics, pick, canPick, action, label, max: most = 3, dense = false } = {}) {
  if (data.withheld) return h('p', { class: 'empty withheld' }, withheldText(data));
  metrics = (metrics || data.metrics || ['visitors']).slice(0, most);
  const rows = [...(data.rows || [])];
  if (data.other) rows.push({ ...data.other, _other: true });
  if (!rows.length) return h('p', { class: 'empty' }, 'Nothing in this period.');
  const max = Math.max(1, ...rows.map((r) => r[metrics[0]] || 0));
  pick = pick || ((r) => addFilter(dim, r.value));
  canPick = canPick || (() => true);
  // Estimated metrics (large ranges) are marked in their header.
  const est = new Set(data.estimate ? data.estimated || [] : []);
  const note = data.estimate ? (data.estimation || []).join(' ') : null;
  return h('table', { class: dense ? 'rows dense' : 'rows' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, label || DIMENSIONS[dim] || dim),
      ...metrics.map((m, i) => h('th', { scope: 'col', class: `num m${i + 1}`, title: est.has(m) ? `${labels[m] || m}: estimated. ${note}` : labels[m] || null },
        est.has(m) ? `\u2248 ${columns[m] || m}` : columns[m] || m)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {},
      h('td', { class: 'label' }, h('div', { class: 'cell' },
        r._other || !canPick(r) ? rowText(dim, r, metrics[0], max, data.k) : rowButton(dim, r, metrics[0], max, pick),
        !r._other && action ? action(r) : '')),
      ...metrics.map((m, i) => h('td', { class: `num m${i + 1}` }, fmt(m, r[m]), i === 0 && 'change' in r ? rowChange(m, r) : ''))))));
}

/**
 * A compared row's change in its first metric: an arrow and the percentage
 * (points for the bounce rate), "new" when the value was not seen before
 * (or had fewer than k visitors then).
 */
function rowChange(m, r) {
  const c = r.change ? r.change[m] : null;
  const before = r.previous ? fmt(m, r.previous[m]) : 'fewer than k or none';
  if (!r.change || c === null || c === undefined) {
    return h('span', { class: 'delta row-delta new', title: `Before: ${before}` }, 'new');
  }
  const good = m === 'bounce_rate' ? c <= 0 : c >= 0;
  return h('span', { class: 'delta row-delta ' + (c === 0 ? 'flat' : good ? 'up' : 'down'), title: `Before: ${before}` },
    `${c > 0 ? '\u2191' : c < 0 ? '\u2193' : ''}${fmt(m === 'bounce_rate' ? 'views_per_visit' : 'rate', Math.abs(c))}${m === 'bounce_rate' ? ' pts' : ''}`,
    h('span', { class: 'sr-only' }, ' change'));
}

function bar(r, metric, max) {
  const b = h('span', { class: 'bar', 'aria-hidden': 'true' });
  b.style.width = `${Math.max(1, Math.round(((r[metric] || 0) / max) * 100))}%`;
  return b;
}

function rowButton(dim, r, metric, max, pick) {
  const text = display(dim, r.value);
  const title = text === r.value ? `Filter by ${text}` : `Filter by ${text} (${r.value})`;
  return h('button', { type: 'button', class: 'rowbtn', title, onclick: () => pick(r) },
    bar(r, metric, max), h('span', { class: 'text' }, text));
}

function rowText(dim, r, metric, max, k) {
  return h('span', { class: 'rowbtn static', title: r._other ? `Values with fewer than ${k} visitors, folded together` : null },
    bar(r, metric, max), h('span', { class: 'text' }, display(dim, r.value)));
}
