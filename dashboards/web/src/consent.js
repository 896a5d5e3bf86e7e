// The consent views: how visitors answer the banner, how much traffic is
// measured with consent, where undeclared cookies appear before consent, and
// the proof of consent (history of one consent ID, export of decisions).
import { h, clear, fmt, display, isoDay, fmtTime, withheldText } from './dom.js';
import { stats, csvURL, get, CONSENT_FILTERS } from './api.js';
import { state, update } from './state.js';
import { drawChart } from './chart.js';
import { rowsTable } from './panels.js';

const CATS = [['opt_in_performance', 'Performance', '--accent'], ['opt_in_functionality', 'Functionality', '--accent-2'],
  ['opt_in_targeting', 'Targeting', '--accent-3']];
const ACTIONS = { accept_all: 'Accept all', reject_all: 'Reject all', custom: 'Custom', withdraw: 'Withdrawal' };

function tile(label, value, note) {
  return h('div', { class: 'kpi static' }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, value),
    note ? h('span', { class: 'note' }, note) : '');
}

export async function consentView(el, { filtersBar }) {
  const ignored = state.filters.filter((f) => !CONSENT_FILTERS.has(f.dimension)).map((f) => f.dimension);
  const tiles = h('div', { class: 'kpis' });
  const mix = h('div', { class: 'mix' });
  const chartBox = h('div', { class: 'chart' });
  const grid = h('div', { class: 'grid' });
  el.append(filtersBar(ignored));
  if (ignored.length) {
    el.append(h('p', { class: 'notice' }, 'Consent analytics can be filtered by country, device, page and language; the other filters do not apply here.'));
  }
  el.append(
    h('section', { class: 'card top', 'aria-label': 'Consent totals' }, tiles, mix,
      h('h2', { class: 'chart-title' }, 'Opt-in rate by category'), chartBox),
    grid,
    h('p', { class: 'exports' }, 'Download: ',
      h('a', { class: 'export', href: csvURL('consent/overview'), download: `${state.site}-consent.csv` }, 'Totals (CSV)'), ' \u00b7 ',
      h('a', { class: 'export', href: csvURL('consent/timeseries'), download: `${state.site}-consent-timeseries.csv` }, 'Time series (CSV)')));
  for (const [dim, title, pickable] of [['country', 'By country', true], ['device', 'By device', true], ['page', 'By page', true],
    ['language', 'By language', false], ['policy_version', 'By policy version', false]]) {
    grid.append(consentPanel(dim, title, pickable));
  }
  grid.append(cookiesPanel());

  stats('consent/timeseries').then((ts) => {
    if (ts.withheld) {
      clear(chartBox).append(h('p', { class: 'empty withheld' }, withheldText(ts)));
      return;
    }
    drawChart(chartBox, { points: ts.points, interval: ts.interval, metric: 'rate', max: 100,
      series: CATS.map(([key, label, color]) => ({ key, label, color })) });
  }).catch((e) => clear(chartBox).append(h('p', { class: 'error' }, e.message)));

  try {
    const o = await stats('consent/overview');
    if (o.withheld) {
      tiles.append(h('p', { class: 'withheld-note', role: 'note' }, withheldText(o)));
      return;
    }
    const measured = o.measured_share === null || o.measured_share === undefined
      ? tile('Coverage', fmt('rate', o.estimated_coverage), 'est. share measured')
      : tile('Measured', fmt('rate', o.measured_share), 'of page views');
    tiles.append(
      tile('Impressions', fmt('n', o.impressions), 'banner showings'),
      tile('Decisions', fmt('n', o.decisions), `${fmt('rate', o.interaction_rate)} of impressions`),
      ...CATS.map(([k, label]) => tile(label, fmt('rate', o[k]), 'opt-in rate')),
      measured,
      tile('GPC', fmt('rate', o.gpc_share_decisions), 'of decisions sent it'),
      decisionTimeTile(o.time_to_decision),
    );
    mix.append(decisionMix(o));
    grid.append(decisionTimePanel(o.time_to_decision));
  } catch (e) {
    tiles.append(h('p', { class: 'error' }, e.message));
  }
}

/** The median time visitors took to decide in the banner. */
function decisionTimeTile(d) {
  const n = d ? d.decisions : 0;
  if (!d || d.median_ms === null || d.median_ms === undefined) return tile('Time to decide', '\u2013', n ? `too few decisions (${n})` : 'no decision in the banner');
  return tile('Time to decide', `${(d.median_ms / 1000).toFixed(1)} s`, `median of ${fmt('n', n)}`);
}

/** How long visitors took to decide in the banner, by bucket. */
function decisionTimePanel(d) {
  const buckets = (d && d.buckets) || [];
  const body = buckets.length
    ? h('table', { class: 'rows' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Shown for'), h('th', { scope: 'col', class: 'num m1' }, 'Decisions'))),
      h('tbody', {}, ...buckets.map((b) => h('tr', {},
        h('td', { class: 'label' }, h('span', { class: 'rowbtn static' }, h('span', { class: 'text' }, b.label))),
        h('td', { class: 'num m1' }, b.decisions === null ? `fewer than ${d.k}` : fmt('n', b.decisions))))))
    : h('p', { class: 'empty' }, 'No decision in the banner in this period.');
  return h('section', { class: 'panel', 'aria-labelledby': 'panel-decision-time' },
    h('header', {}, h('h2', { id: 'panel-decision-time' }, 'Time to decision')), h('div', { class: 'panel-body' }, body));
}

function decisionMix(o) {
  const parts = [['accept_all', 'Accepted all'], ['custom', 'Customised'], ['reject_all', 'Rejected all'], ['withdraw', 'Withdrew']];
  const total = parts.reduce((a, [k]) => a + (o[k] || 0), 0);
  if (!total) return h('p', { class: 'empty' }, 'No decisions in this period.');
  const bar = h('div', { class: 'mix-bar', 'aria-hidden': 'true' });
  for (const [k] of parts) {
    const seg = h('span', { class: `seg ${k}` });
    seg.style.width = `${(100 * (o[k] || 0)) / total}%`;
    bar.append(seg);
  }
  return h('div', {}, bar, h('ul', { class: 'mix-legend' }, ...parts.map(([k, label]) =>
    h('li', {}, h('span', { class: `swatch-box ${k}`, 'aria-hidden': 'true' }), `${label} `,
      h('strong', {}, fmt('n', o[k] || 0)), h('span', { class: 'muted' }, ` (${fmt('rate', (100 * (o[k] || 0)) / total)})`)))));
}

function consentPanel(dim, title, pickable) {
  const body = h('div', { class: 'panel-body' }, h('p', { class: 'empty loading' }, 'Loading…'));
  const el = h('section', { class: 'panel', 'aria-label': title }, h('header', {}, h('h2', {}, title),
    h('a', { class: 'export', href: csvURL('consent/breakdown/' + dim, { limit: 100 }), download: `${state.site}-consent-${dim}.csv` }, 'CSV')), body);
  stats('consent/breakdown/' + dim, { limit: 10 }).then((b) => {
    clear(body).append(rowsTable(dim, { ...b, metrics: ['decisions', ...CATS.map(([k]) => k)] }, {
      metrics: ['decisions', ...CATS.map(([k]) => k)],
      canPick: () => pickable,
      pick: (r) => update({ filters: [...state.filters.filter((f) => f.dimension !== dim), { dimension: dim, op: 'is', value: r.value }] }),
      label: dim === 'policy_version' ? 'Version' : undefined,
      max: 4,
      dense: true,
    }));
  }).catch((e) => clear(body).append(h('p', { class: 'error' }, e.message)));
  return el;
}

function cookiesPanel() {
  const body = h('div', { class: 'panel-body' }, h('p', { class: 'empty loading' }, 'Loading…'));
  const el = h('section', { class: 'panel', 'aria-label': 'Undeclared cookies' }, h('header', {}, h('h2', {}, 'Undeclared cookies before consent'),
    h('a', { class: 'export', href: csvURL('consent/cookies', { by: 'page' }), download: `${state.site}-undeclared-cookies.csv` }, 'CSV')), body);
  stats('consent/cookies', { by: 'page', limit: 10 }).then((c) => {
    const rows = [...c.rows];
    if (c.other) rows.push(c.other);
    clear(body).append(rows.length
      ? h('table', { class: 'rows' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Page'), h('th', { scope: 'col' }, 'Cookie'),
        h('th', { scope: 'col', class: 'num m1' }, 'Impressions'))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, h('td', { class: 'label' }, h('span', { class: 'rowbtn static' }, h('span', { class: 'text' }, r.page || '(other)'))),
        h('td', {}, h('code', {}, r.cookie)), h('td', { class: 'num m1' }, fmt('n', r.impressions))))))
      : h('p', { class: 'empty' }, 'None seen: no page set an undeclared cookie before consent.'));
  }).catch((e) => clear(body).append(h('p', { class: 'error' }, e.message)));
  return el;
}

export function proofView(el) {
  const base = `/api/v1/stats/${encodeURIComponent(state.site)}/proof`;
  const idInput = h('input', { id: 'consent-id', type: 'text', size: 38, spellcheck: 'false', autocomplete: 'off',
    placeholder: '00000000-0000-4000-8000-000000000000', 'data-focus': 'consent-id' });
  const out = h('div', { class: 'proof-result', 'aria-live': 'polite' });
  const from = h('input', { id: 'export-from', type: 'date', value: isoDay(-30), max: isoDay() });
  const to = h('input', { id: 'export-to', type: 'date', value: isoDay(), max: isoDay() });
  const links = ['csv', 'json'].map((format) => h('a', { class: 'btn', download: `consent-decisions.${format}` }, `Download ${format.toUpperCase()}`));
  const setLinks = () => {
    for (const a of links) {
      const format = a.getAttribute('download').split('.').pop();
      a.href = `${base}/export?${new URLSearchParams({ from: from.value, to: to.value, format })}`;
    }
  };
  from.addEventListener('change', setLinks);
  to.addEventListener('change', setLinks);
  setLinks();
  const lookup = async (e) => {
    e.preventDefault();
    const id = idInput.value.trim();
    if (!id) return;
    clear(out).append(h('p', { class: 'empty loading' }, 'Looking up…'));
    try {
      const r = await get(`${base}/${encodeURIComponent(id)}`);
      clear(out).append(history(r, base));
    } catch (err) {
      clear(out).append(h('p', { class: 'error', role: 'alert' }, err.status === 404 ? 'No decisions are recorded under this consent ID.' : err.message));
    }
  };
  el.append(
    h('section', { class: 'card pad' },
      h('h2', {}, 'Proof of consent'),
      h('p', { class: 'muted' }, 'What a visitor decided, when, and under which banner (policy version and hash of its texts). ',
        'The consent ID is in the visitor\u2019s ', h('code', {}, 'crumb_consent'), ' cookie and in the banner\u2019s \u201cCookie settings\u201d.'),
      h('form', { class: 'inline-form', onsubmit: lookup },
        h('label', { for: 'consent-id' }, 'Consent ID'), idInput, h('button', { type: 'submit', class: 'btn primary' }, 'Look up')),
      out),
    h('section', { class: 'card pad' },
      h('h2', {}, 'Export decisions'),
      h('p', { class: 'muted' }, 'Every decision of a date range (UTC), with consent IDs: keep it as your record of consent.'),
      h('div', { class: 'inline-form' }, h('label', { for: 'export-from' }, 'From'), from, h('label', { for: 'export-to' }, 'to'), to, ...links)));
}

function history(r, base) {
  const ds = r.decisions || [];
  const granted = (d) => {
    const g = ['performance', 'functionality', 'targeting'].filter((c) => d.granted && d.granted[c]);
    return g.length ? g.join(', ') : 'necessary only';
  };
  return h('div', {},
    h('p', {}, `${ds.length} decision${ds.length === 1 ? '' : 's'} under `, h('code', {}, r.consent_id), ':'),
    h('div', { class: 'table-scroll' }, h('table', { class: 'history' },
      h('thead', {}, h('tr', {}, ...['Time', 'Decision', 'Granted', 'Policy', 'Texts', 'GPC', 'Page', 'Country', 'Device']
        .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...ds.map((d) => h('tr', {},
        h('td', {}, fmtTime(d.ts)), h('td', {}, h('span', { class: `tag ${d.action}` }, ACTIONS[d.action] || d.action)),
        h('td', {}, granted(d)), h('td', { class: 'num' }, `v${d.policy_version}`), h('td', {}, d.texts_hash
          ? h('a', { href: `${base}/banner/${d.texts_hash}`, target: '_blank', rel: 'noopener', title: 'The banner as it was shown (JSON)' }, h('code', {}, d.texts_hash))
          : ''),
        h('td', {}, d.gpc ? 'yes' : 'no'), h('td', {}, d.path), h('td', {}, display('country', d.country)), h('td', {}, d.device)))))));
}
