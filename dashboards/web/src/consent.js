// The consent views: how visitors answer the banner, how much traffic is
// measured with consent, where undeclared cookies appear before consent, and
// the proof of consent (history of one consent ID, export of decisions).
import { h, clear, fmt } from './dom.js';
import { stats, csvURL, get } from './api.js';
import { state, addFilter } from './state.js';
import { drawSeries } from './chart.js';

const CATS = [['opt_in_performance', 'Performance'], ['opt_in_functionality', 'Functionality'], ['opt_in_targeting', 'Targeting']];

function tile(label, value) {
  return h('div', { class: 'kpi' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

export async function consentView(el) {
  const tiles = h('div', { class: 'kpis' });
  const rates = h('div', { class: 'consent-rates' });
  const chartBox = h('div', { class: 'chart' });
  const grid = h('div', { class: 'grid' });
  el.append(h('h2', {}, 'Consent'), tiles, rates, h('h3', {}, 'Performance opt-in rate over time'), chartBox, grid,
    h('p', {}, h('a', { class: 'export', href: csvURL('consent/overview'), download: 'consent.csv' }, 'Export as CSV')));
  try {
    const o = await stats('consent/overview');
    tiles.append(
      tile('Banner impressions', fmt('n', o.impressions)),
      tile('Decisions', fmt('n', o.decisions)),
      tile('Interaction rate', fmt('rate', o.interaction_rate)),
      tile('Accept all / reject all / custom', `${fmt('n', o.accept_all)} / ${fmt('n', o.reject_all)} / ${fmt('n', o.custom)}`),
      tile('Withdrawals', fmt('n', o.withdraw)),
      tile('Page views measured with consent', o.measured_share === null || o.measured_share === undefined ? '–' : fmt('rate', o.measured_share)),
      tile('GPC share (decisions)', fmt('rate', o.gpc_share_decisions)),
    );
    for (const [k, label] of CATS) rates.append(tile(`Opt-in: ${label}`, fmt('rate', o[k])));
  } catch (e) {
    tiles.append(h('p', { class: 'error' }, e.message));
  }
  try {
    const ts = await stats('consent/timeseries');
    drawSeries(chartBox, ts.points, null, 'opt_in_performance');
  } catch (e) {
    chartBox.append(h('p', { class: 'error' }, e.message));
  }
  for (const [dim, title] of [['country', 'By country'], ['device', 'By device'], ['page', 'By page'], ['policy_version', 'By policy version']]) {
    grid.append(await consentPanel(dim, title));
  }
  grid.append(await cookiesPanel());
}

async function consentPanel(dim, title) {
  const body = h('div');
  const el = h('section', { class: 'panel' }, h('header', {}, h('h2', {}, title),
    h('a', { class: 'export', href: csvURL('consent/breakdown/' + dim), download: `consent-${dim}.csv` }, 'CSV')), body);
  try {
    const b = await stats('consent/breakdown/' + dim, { limit: 10 });
    const rows = [...b.rows];
    if (b.other) rows.push({ ...b.other, _other: true });
    if (!rows.length) {
      body.append(h('p', { class: 'empty' }, 'No decisions in this period.'));
      return el;
    }
    body.append(h('table', { class: 'rows' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, dim.replace('_', ' ')), h('th', { scope: 'col', class: 'num' }, 'Decisions'),
        ...CATS.map(([, l]) => h('th', { scope: 'col', class: 'num' }, l)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {},
        h('td', {}, r._other || dim === 'policy_version'
          ? h('span', { class: 'rowbtn' }, h('span', {}, r.value))
          : h('button', { type: 'button', class: 'rowbtn', onclick: () => addFilter(dim === 'page' ? 'page' : dim, r.value) }, h('span', {}, r.value))),
        h('td', { class: 'num' }, fmt('n', r.decisions)),
        ...CATS.map(([k]) => h('td', { class: 'num' }, fmt('rate', r[k]))))))));
  } catch (e) {
    body.append(h('p', { class: 'error' }, e.message));
  }
  return el;
}

async function cookiesPanel() {
  const body = h('div');
  const el = h('section', { class: 'panel' }, h('header', {}, h('h2', {}, 'Undeclared cookies before consent'),
    h('a', { class: 'export', href: csvURL('consent/cookies', { by: 'page' }), download: 'undeclared-cookies.csv' }, 'CSV')), body);
  try {
    const c = await stats('consent/cookies', { by: 'page', limit: 10 });
    const rows = [...c.rows];
    if (c.other) rows.push(c.other);
    body.append(rows.length
      ? h('table', { class: 'rows' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Page'), h('th', { scope: 'col' }, 'Cookie'),
        h('th', { scope: 'col', class: 'num' }, 'Impressions'))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, h('td', {}, h('span', { class: 'rowbtn' }, h('span', {}, r.page || '(other)'))),
        h('td', {}, h('code', {}, r.cookie)), h('td', { class: 'num' }, fmt('n', r.impressions))))))
      : h('p', { class: 'empty' }, 'None seen: no page set an undeclared cookie before consent.'));
  } catch (e) {
    body.append(h('p', { class: 'error' }, e.message));
  }
  return el;
}

export function proofView(el) {
  const idInput = h('input', { id: 'consent-id', type: 'text', size: 38, placeholder: '00000000-0000-4000-8000-000000000000' });
  const out = h('div');
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 30 * 864e5).toISOString().slice(0, 10);
  const from = h('input', { id: 'export-from', type: 'date', value: monthAgo });
  const to = h('input', { id: 'export-to', type: 'date', value: today });
  const base = `/api/v1/stats/${encodeURIComponent(state.site)}/proof`;
  const exportLink = (format) => h('a', { class: 'export', href: '#', onclick: (e) => {
    e.currentTarget.href = `${base}/export?from=${from.value}&to=${to.value}&format=${format}`;
  }, download: `consent-decisions.${format}` }, format.toUpperCase());
  el.append(h('h2', {}, 'Proof of consent'),
    h('p', { class: 'muted' }, 'What a visitor decided, when, and under which banner (policy version and texts hash). Consent IDs are in the visitor\u2019s crumb_consent cookie.'),
    h('form', { class: 'proof', onsubmit: async (e) => {
      e.preventDefault();
      clear(out);
      try {
        const r = await get(`${base}/${encodeURIComponent(idInput.value.trim())}`);
        out.append(h('pre', { class: 'history' }, JSON.stringify(r, null, 2)));
      } catch (err) {
        out.append(h('p', { class: 'error', role: 'alert' }, err.message));
      }
    } }, h('label', { for: 'consent-id' }, 'Consent ID', idInput), h('button', { type: 'submit' }, 'Look up')),
    out,
    h('h3', {}, 'Export decisions'),
    h('form', { class: 'proof', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'export-from' }, 'From', from), h('label', { for: 'export-to' }, 'To', to),
      exportLink('csv'), exportLink('json')));
}
