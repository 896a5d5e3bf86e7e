// Breakdown panels: a table of the top rows of a dimension, each row a
// button that filters the whole dashboard by its value.
import { h, clear, fmt, labels } from './dom.js';
import { stats, csvURL } from './api.js';
import { addFilter } from './state.js';

/** The panels of the overview, each with its tabs (dimensions). */
export const PANELS = [
  { title: 'Sources', tabs: [['channel', 'Channels'], ['source', 'Sources'], ['referrer', 'Referrers'],
    ['utm_source', 'UTM source'], ['utm_medium', 'UTM medium'], ['utm_campaign', 'UTM campaign']] },
  { title: 'Pages', tabs: [['page', 'Top pages'], ['entry_page', 'Entry pages'], ['exit_page', 'Exit pages']] },
  { title: 'Locations', tabs: [['country', 'Countries'], ['region', 'Regions'], ['city', 'Cities'], ['provider', 'Providers']] },
  { title: 'Devices', tabs: [['browser', 'Browsers'], ['browser_version', 'Versions'], ['os', 'OS'], ['device', 'Devices'],
    ['screen', 'Screens'], ['language', 'Languages']] },
  { title: 'Goals', tabs: [['event', 'Custom events'], ['outbound', 'Outbound links'], ['download', 'Downloads'],
    ['search', 'Site search'], ['error_page', 'Error pages']] },
];

/** Renders one panel into a new element and loads its first tab. */
export function panel(def) {
  const body = h('div', { class: 'panel-body' });
  const tabs = h('div', { class: 'tabs-small', role: 'group', 'aria-label': def.title });
  const exportLink = h('a', { class: 'export', href: '#' }, 'CSV');
  const el = h('section', { class: 'panel', 'aria-label': def.title },
    h('header', {}, h('h2', {}, def.title), tabs), body, h('p', {}, exportLink));
  let current = def.tabs[0][0];
  const load = async (dim) => {
    current = dim;
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.dataset.dim === dim));
    exportLink.href = csvURL('breakdown/' + dim, { limit: 100 });
    exportLink.setAttribute('download', `${dim}.csv`);
    clear(body).append(h('p', { class: 'empty' }, 'Loading…'));
    try {
      const data = await stats('breakdown/' + dim, { limit: 10 });
      clear(body).append(rowsTable(dim, data));
    } catch (e) {
      clear(body).append(h('p', { class: 'error' }, e.message));
    }
  };
  for (const [dim, label] of def.tabs) {
    tabs.append(h('button', { type: 'button', 'data-dim': dim, 'aria-pressed': 'false', onclick: () => load(dim) }, label));
  }
  el.reload = () => load(current);
  load(current);
  return el;
}

/** A breakdown as a table; rows filter on click, "(other)" does not. */
export function rowsTable(dim, data) {
  const metrics = (data.metrics || ['visitors']).slice(0, 3);
  const rows = [...(data.rows || [])];
  if (data.other) rows.push({ ...data.other, _other: true });
  if (!rows.length) return h('p', { class: 'empty' }, 'Nothing in this period.');
  const max = Math.max(1, ...rows.map((r) => r[metrics[0]] || 0));
  return h('table', { class: 'rows' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, label(dim)),
      ...metrics.map((m) => h('th', { scope: 'col', class: 'num' }, labels[m] || m)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {},
      h('td', {}, r._other
        ? h('span', { class: 'rowbtn', title: `Rows under ${data.k} visitors, folded together` },
          h('span', { class: 'bar', style: null }), h('span', {}, r.value))
        : rowButton(dim, r, metrics[0], max)),
      ...metrics.map((m) => h('td', { class: 'num' }, fmt(m, r[m])))))));
}

function rowButton(dim, r, metric, max) {
  const bar = h('span', { class: 'bar' });
  bar.style.width = `${Math.round(((r[metric] || 0) / max) * 100)}%`;
  return h('button', { type: 'button', class: 'rowbtn', title: `Filter by ${r.value}`,
    onclick: () => addFilter(filterDim(dim), r.value) }, bar, h('span', {}, r.value || '(none)'));
}

// Entry and exit pages filter like pages of the visit.
function filterDim(dim) {
  return dim;
}

function label(dim) {
  for (const p of PANELS) for (const [d, l] of p.tabs) if (d === dim) return l;
  return dim;
}
