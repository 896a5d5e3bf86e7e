// The dashboard's state lives in the URL, so that every view can be shared,
// bookmarked and reloaded: site, period (or from/to), comparison, filters,
// the open view, the page of the paths view, the funnel's steps and window
// and the retention interval.
export const state = {
  site: '',
  view: 'overview',
  period: '30d',
  from: '',
  to: '',
  compare: '', // '' (off), 'period' or 'year'
  filters: [],
  page: '', // the page of the paths view
  steps: [], // the funnel view's steps (page:/x, event:name[:key=value])
  window: 'visit', // the funnel's window: visit, 1d, 7d, 30d
  interval: 'week', // the retention view's cohorts: week or month
};

const listeners = [];

export function onChange(fn) {
  listeners.push(fn);
}

export function readURL() {
  const p = new URLSearchParams(location.search);
  state.site = p.get('site') || state.site;
  state.view = p.get('view') || 'overview';
  state.period = p.get('period') || '30d';
  state.from = p.get('from') || '';
  state.to = p.get('to') || '';
  state.compare = { 1: 'period', year: 'year' }[p.get('compare')] || '';
  state.page = p.get('page') || '';
  state.steps = p.getAll('step');
  state.window = p.get('window') || 'visit';
  state.interval = p.get('interval') === 'month' ? 'month' : 'week';
  state.filters = p.getAll('filter').map((raw) => {
    const [dimension, op, ...rest] = raw.split(':');
    return { dimension, op, value: rest.join(':') };
  }).filter((f) => f.dimension && f.op);
}

/** The dashboard's URL for the state with changes applied. */
export function href(changes = {}) {
  const s = { ...state, ...changes };
  const p = new URLSearchParams();
  const share = new URLSearchParams(location.search).get('share');
  if (share) p.set('share', share);
  p.set('site', s.site);
  if (s.view !== 'overview') p.set('view', s.view);
  p.set('period', s.period);
  if (s.period === 'custom') {
    p.set('from', s.from);
    p.set('to', s.to);
  }
  if (s.compare) p.set('compare', s.compare === 'year' ? 'year' : '1');
  if (s.page && s.view === 'paths') p.set('page', s.page);
  if (s.view === 'funnels') {
    for (const st of s.steps) p.append('step', st);
    if (s.window !== 'visit') p.set('window', s.window);
  }
  if (s.view === 'retention' && s.interval !== 'week') p.set('interval', s.interval);
  for (const f of s.filters) p.append('filter', `${f.dimension}:${f.op}:${f.value}`);
  return '/dashboard/?' + p;
}

/** Changes the state, records it in the URL and re-renders. */
export function update(changes) {
  Object.assign(state, changes);
  history.pushState(null, '', href());
  listeners.forEach((fn) => fn());
}

export function addFilter(dimension, value, op = 'is') {
  const filters = state.filters.filter((f) => f.dimension !== dimension);
  filters.push({ dimension, op, value });
  update({ filters });
}

export function removeFilter(i) {
  update({ filters: state.filters.filter((_, j) => j !== i) });
}

window.addEventListener('popstate', () => {
  readURL();
  listeners.forEach((fn) => fn());
});
