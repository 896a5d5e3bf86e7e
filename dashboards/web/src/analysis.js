// Goals, funnels and retention cohorts: what a consented visitor's random
// ID makes possible, aggregate-only. A number of fewer than k visitors
// comes back as null and is shown as "< k", never guessed.
import { h, clear, fmt, duration, fmtBucket, withheldText } from './dom.js';
import { stats, csvURL, analysisSettings, saveAnalysis } from './api.js';
import { state, update } from './state.js';

const WINDOWS = [['visit', 'in one visit'], ['1d', 'within a day'], ['7d', 'within 7 days'], ['30d', 'within 30 days']];
const STEP_HINT = 'page:/pricing, page:/blog/* or event:signup[:plan=pro]';

/** "< k" for a withheld number. */
function num(metric, v, k) {
  return v === null || v === undefined ? `< ${k}` : fmt(metric, v);
}

function errorText(e) {
  return h('p', { class: 'error', role: 'alert' }, e.message);
}

// ---------------------------------------------------------------------------
// Goals: a card of the overview, when the site has goals or the user may
// define them.

/** The overview's goals card; pick(dim, value) filters the dashboard. */
export function goalsPanel(pick) {
  const body = h('div', { class: 'panel-body goals-body' });
  const edit = h('button', { type: 'button', class: 'btn link', hidden: true, 'data-focus': 'edit-goals' }, 'Edit goals');
  const exportLink = h('a', { class: 'export', href: csvURL('goals'), download: `${state.site}-goals.csv` }, 'CSV');
  const el = h('section', { class: 'panel wide goals', 'aria-labelledby': 'goals-title', hidden: true },
    h('header', {}, h('h2', { id: 'goals-title' }, 'Goals'), h('span', { class: 'actions' }, edit, exportLink)), body);
  let settings;
  const load = async () => {
    try {
      settings = await analysisSettings();
    } catch {
      return; // read-only or unreachable: no card
    }
    if (!settings.goals.length && !settings.can_edit) return;
    el.hidden = false;
    edit.hidden = !settings.can_edit;
    if (!settings.goals.length) {
      clear(body).append(h('p', { class: 'empty' }, 'No goals yet. A goal counts the visitors who view a page or send a custom event.'));
      return;
    }
    try {
      const g = await stats('goals');
      clear(body).append(g.withheld ? h('p', { class: 'empty withheld' }, withheldText(g)) : goalsTable(g, pick));
    } catch (e) {
      clear(body).append(errorText(e));
    }
  };
  edit.addEventListener('click', () => {
    clear(body).append(goalsEditor(settings.goals, async (goals) => {
      await saveAnalysis('goals', goals);
      await load();
    }, load));
  });
  load();
  return el;
}

function goalsTable(g, pick) {
  const rows = g.goals.map((r) => h('tr', {},
    h('td', { class: 'label' }, h('div', { class: 'cell' }, h('button', { type: 'button', class: 'rowbtn', title: `Filter by visits that converted: ${r.name} (${r.match})`,
      onclick: () => pick('goal', r.name) }, bar(r.conversion_rate || 0, 100), h('span', { class: 'text' }, r.name)),
    h('code', { class: 'match' }, r.match))),
    h('td', { class: 'num m1' }, num('visitors', r.visitors, g.k)),
    h('td', { class: 'num m2' }, num('conversion_rate', r.conversion_rate, g.k)),
    h('td', { class: 'num m3' }, num('events', r.conversions, g.k))));
  return h('table', { class: 'rows' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Goal'), h('th', { scope: 'col', class: 'num m1' }, 'Visitors'),
      h('th', { scope: 'col', class: 'num m2', title: `Share of the period's ${fmt('visitors', g.visitors)} visitors` }, 'Conv. rate'),
      h('th', { scope: 'col', class: 'num m3', title: 'Matching page views or custom events' }, 'Conversions'))),
    h('tbody', {}, ...rows));
}

function bar(v, max) {
  const b = h('span', { class: 'bar', 'aria-hidden': 'true' });
  b.style.width = `${Math.max(1, Math.round((v / max) * 100))}%`;
  return b;
}

/** Lists the goals with a remove button each and a form to add one. */
function goalsEditor(goals, save, done) {
  let list = goals.map((g) => ({ ...g }));
  const msg = h('p', { class: 'error', role: 'alert' });
  const items = h('ul', { class: 'edit-list' });
  const draw = () => {
    clear(items).append(...list.map((g, i) => h('li', {}, h('strong', {}, g.name), ' ', h('code', {}, g.match),
      h('button', { type: 'button', class: 'btn link', 'aria-label': `Remove goal ${g.name}`,
        onclick: () => { list = list.filter((_, j) => j !== i); draw(); } }, 'Remove'))));
  };
  draw();
  const name = h('input', { type: 'text', id: 'goal-name', placeholder: 'Signup', maxlength: '100' });
  const match = h('input', { type: 'text', id: 'goal-match', placeholder: 'event:signup', size: 28, spellcheck: 'false' });
  const form = h('form', { class: 'inline-form', onsubmit: async (e) => {
    e.preventDefault();
    const next = name.value.trim() && match.value.trim() ? [...list.filter((g) => g.name !== name.value.trim()),
      { name: name.value.trim(), match: match.value.trim() }] : list;
    try {
      await save(next);
    } catch (err) {
      msg.textContent = err.message;
    }
  } },
  h('label', { for: 'goal-name' }, 'Name'), name, h('label', { for: 'goal-match' }, 'Counts'), match,
  h('button', { type: 'submit', class: 'btn primary' }, 'Save goals'),
  h('button', { type: 'button', class: 'btn ghost', onclick: done }, 'Cancel'));
  return h('div', { class: 'goals-editor' }, items, form,
    h('p', { class: 'muted' }, 'A goal counts ', h('code', {}, 'page:/path'), ' (', h('code', {}, '*'), ' for any characters) or ',
      h('code', {}, 'event:name'), ', optionally ', h('code', {}, 'event:name:key=value'), '.'), msg);
}

// ---------------------------------------------------------------------------
// Funnels

/** The funnels view: steps, window, saved funnels, and the bars. */
export async function funnelsView(el, { filtersBar }) {
  const out = h('div', { class: 'funnel-out' });
  const head = h('section', { class: 'card pad funnel-head', 'aria-label': 'Funnel steps' });
  el.append(filtersBar(), head, out);
  let settings = { funnels: [], goals: [], can_edit: false };
  try {
    settings = await analysisSettings();
  } catch {
    // a share link of an older node: no saved funnels
  }
  const steps = state.steps.length >= 2 ? [...state.steps] : state.steps.length ? [...state.steps, ''] : ['', ''];
  const inputs = h('ol', { class: 'steps' });
  const pages = h('datalist', { id: 'step-suggestions' });
  const drawSteps = () => {
    clear(inputs).append(...steps.map((s, i) => h('li', {},
      h('label', { class: 'sr-only', for: `step-${i}` }, `Step ${i + 1}`),
      h('input', { type: 'text', id: `step-${i}`, value: s, list: 'step-suggestions', placeholder: STEP_HINT, spellcheck: 'false',
        autocomplete: 'off', 'data-focus': `step-${i}`, oninput: (e) => { steps[i] = e.target.value.trim(); },
        onchange: (e) => { steps[i] = e.target.value.trim(); } }),
      steps.length > 2 ? h('button', { type: 'button', class: 'btn link', 'aria-label': `Remove step ${i + 1}`,
        onclick: () => { steps.splice(i, 1); drawSteps(); } }, 'Remove') : '')));
  };
  drawSteps();
  const addStep = h('button', { type: 'button', class: 'btn ghost', onclick: () => {
    if (steps.length < 8) { steps.push(''); drawSteps(); inputs.lastChild.querySelector('input').focus(); }
  } }, '+ Add step');
  const windowSel = h('select', { id: 'funnel-window', 'data-focus': 'funnel-window' },
    ...WINDOWS.map(([v, l]) => h('option', { value: v, selected: v === state.window }, l)));
  const form = h('form', { class: 'funnel-form', onsubmit: (e) => {
    e.preventDefault();
    update({ steps: steps.filter(Boolean), window: windowSel.value });
  } }, inputs, pages, h('div', { class: 'funnel-actions' }, addStep,
    h('label', { for: 'funnel-window' }, 'Completed'), windowSel,
    h('button', { type: 'submit', class: 'btn primary', 'data-focus': 'funnel-show' }, 'Show funnel')));
  if (settings.funnels.length) {
    const current = settings.funnels.find((f) => same(f, state));
    head.append(h('div', { class: 'saved' }, h('label', { for: 'saved-funnel' }, 'Saved funnels'),
      h('select', { id: 'saved-funnel', 'data-focus': 'saved-funnel', onchange: (e) => {
        const f = settings.funnels.find((x) => x.name === e.target.value);
        if (f) update({ steps: f.steps, window: f.window });
      } }, h('option', { value: '' }, current ? '' : 'Choose…'),
      ...settings.funnels.map((f) => h('option', { value: f.name, selected: current === f }, f.name)))));
  }
  head.append(form, h('p', { class: 'muted' }, 'Visitors who did every step in order. A step is ',
    h('code', {}, 'page:/path'), ' (', h('code', {}, '*'), ' for any characters) or ', h('code', {}, 'event:name'),
    ', optionally ', h('code', {}, 'event:name:key=value'), '.'));
  stats('breakdown/page', { limit: 30 }).then((b) => {
    for (const r of b.rows || []) pages.append(h('option', { value: `page:${r.value}` }));
    for (const g of settings.goals) pages.append(h('option', { value: g.match }, g.name));
  }).catch(() => {});

  if (state.steps.length < 2) {
    out.append(h('p', { class: 'notice' }, 'Give at least two steps, then Show funnel.'));
    return;
  }
  out.setAttribute('aria-busy', 'true');
  try {
    const f = await stats('funnel', { step: state.steps, window: state.window });
    out.append(funnelBars(f));
    const links = h('p', { class: 'exports' }, 'Download: ',
      h('a', { class: 'export', href: csvURL('funnel', { step: state.steps, window: state.window }), download: `${state.site}-funnel.csv` }, 'Funnel (CSV)'));
    out.append(links);
    if (settings.can_edit) out.append(saveFunnelForm(settings));
  } catch (e) {
    out.append(errorText(e));
  }
  out.removeAttribute('aria-busy');
}

function same(f, s) {
  return f.window === s.window && f.steps.length === s.steps.length && f.steps.every((x, i) => x === s.steps[i]);
}

/** The funnel as bars: each step's visitors against the first's, and the drop-off between steps. */
function funnelBars(f) {
  const first = f.steps[0].visitors || 0;
  const list = h('ol', { class: 'funnel', 'aria-label': 'Funnel' });
  f.steps.forEach((s, i) => {
    if (i > 0) {
      const prev = f.steps[i - 1];
      const lost = s.visitors !== null && prev.visitors !== null ? prev.visitors - s.visitors : null;
      list.append(h('li', { class: 'dropoff' },
        s.conversion_from_previous === null ? `Fewer than ${f.k} visitors went on` :
          `${fmt('rate', s.conversion_from_previous)} went on \u00b7 ${fmt('visitors', lost)} dropped off`,
        s.median_seconds_from_previous !== null ? ` \u00b7 median ${duration(s.median_seconds_from_previous)} later` : ''));
    }
    const width = first && s.visitors !== null ? (s.visitors / first) * 100 : 0;
    const fill = h('span', { class: 'fill' });
    fill.style.width = `${Math.max(width ? 1 : 0, Math.round(width))}%`;
    list.append(h('li', { class: 'step' },
      h('div', { class: 'step-label' }, h('span', { class: 'n' }, `${i + 1}`), h('code', {}, s.step)),
      h('div', { class: 'step-bar' }, fill,
        h('span', { class: 'step-num' }, num('visitors', s.visitors, f.k), ' visitors',
          s.conversion_from_first !== null && i > 0 ? ` \u00b7 ${fmt('rate', s.conversion_from_first)} of step 1` : ''))));
  });
  return h('section', { class: 'card pad funnel-card', 'aria-label': 'Funnel result' },
    h('h2', {}, `Visitors through ${f.steps.length} steps, ${WINDOWS.find(([v]) => v === f.window)[1]}`), list);
}

function saveFunnelForm(settings) {
  const current = settings.funnels.find((f) => same(f, state));
  const name = h('input', { type: 'text', id: 'funnel-name', maxlength: '100', value: current ? current.name : '', placeholder: 'Signup funnel' });
  const msg = h('span', { class: 'muted', role: 'status' });
  return h('form', { class: 'inline-form save-funnel', onsubmit: async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    if (!n) return;
    try {
      await saveAnalysis('funnels', [...settings.funnels.filter((f) => f.name !== n), { name: n, steps: state.steps, window: state.window }]);
      msg.textContent = `Saved as \u201c${n}\u201d.`;
    } catch (err) {
      msg.textContent = err.message;
      msg.className = 'error';
    }
  } }, h('label', { for: 'funnel-name' }, 'Save as'), name, h('button', { type: 'submit', class: 'btn' }, 'Save funnel'), msg);
}

// ---------------------------------------------------------------------------
// Retention

/** The retention view: new visitors by week or month of their first visit, and their return. */
export async function retentionView(el, { filtersBar }) {
  const sel = h('select', { id: 'retention-interval', 'data-focus': 'retention-interval', onchange: (e) => update({ interval: e.target.value }) },
    h('option', { value: 'week', selected: state.interval === 'week' }, 'Weekly cohorts'),
    h('option', { value: 'month', selected: state.interval === 'month' }, 'Monthly cohorts'));
  const out = h('section', { class: 'card pad retention', 'aria-label': 'Retention cohorts' });
  el.append(filtersBar(), h('div', { class: 'retention-head' }, h('label', { class: 'sr-only', for: 'retention-interval' }, 'Cohorts by'), sel,
    h('p', { class: 'muted' }, 'Visitors new in the range (no visit before it), by the ', state.interval,
      ' of their first visit, and the share who came back in each later ', state.interval, '.')), out);
  out.setAttribute('aria-busy', 'true');
  try {
    const r = await stats('retention', { interval: state.interval });
    out.append(heatTable(r), h('p', { class: 'exports' }, 'Download: ',
      h('a', { class: 'export', href: csvURL('retention', { interval: state.interval }), download: `${state.site}-retention.csv` }, 'Cohorts (CSV)')));
  } catch (e) {
    out.append(errorText(e));
  }
  out.removeAttribute('aria-busy');
}

function heatTable(r) {
  if (!r.cohorts.length) return h('p', { class: 'empty' }, 'Nothing in this period.');
  const width = Math.max(0, ...r.cohorts.map((c) => c.returning.length));
  const unit = r.interval === 'month' ? 'Month' : 'Week';
  const head = h('tr', {}, h('th', { scope: 'col' }, 'Cohort'), h('th', { scope: 'col', class: 'num' }, 'New visitors'),
    ...Array.from({ length: width }, (_, i) => h('th', { scope: 'col', class: 'num' }, `${unit} ${i + 1}`)));
  const rows = r.cohorts.map((c) => h('tr', {},
    h('th', { scope: 'row' }, fmtBucket(new Date(c.cohort + 'T00:00:00Z'), r.interval, true)),
    h('td', { class: 'num' }, num('visitors', c.visitors, r.k)),
    ...Array.from({ length: width }, (_, i) => {
      const cell = c.returning[i];
      if (!cell) return h('td', { class: 'num blank' });
      if (cell.share === null) return h('td', { class: 'num heat none', title: `Fewer than ${r.k} visitors` }, `< ${r.k}`);
      const td = h('td', { class: cell.share > 50 ? 'num heat hot' : 'num heat', title: `${fmt('visitors', cell.visitors)} visitors came back` }, fmt('rate', cell.share));
      td.style.setProperty('--share', String(cell.share / 100));
      return td;
    })));
  return h('div', { class: 'scroll' }, h('table', { class: 'heat-table' }, h('thead', {}, head), h('tbody', {}, ...rows)));
}
