// The stats API client: every request carries the dashboard state as query
// parameters, the share link (if the page was opened through one) and, for
// writes, the CSRF token of the session.
import { state } from './state.js';

let session = null;

/** Loads who is logged in, their sites and the CSRF token. */
export async function loadSession() {
  session = await get('/dashboard/api/session');
  return session;
}

export function shareID() {
  return new URLSearchParams(location.search).get('share') || '';
}

function headers() {
  const h = { Accept: 'application/json' };
  if (shareID()) h['X-Crumb-Share'] = shareID();
  if (session && session.csrf) h['X-CSRF-Token'] = session.csrf;
  return h;
}

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A busy node (503) or a share link past its rate (429) says when to ask
// again (Retry-After, in seconds): the panel keeps loading and asks again,
// at most three times, waiting at most a minute each time.
const RETRIES = 3;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function fetchRetrying(path) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { headers: headers(), credentials: 'same-origin' });
    if ((res.status !== 503 && res.status !== 429) || attempt >= RETRIES) return res;
    const after = Number(res.headers.get('Retry-After'));
    await sleep(1000 * Math.min(60, after > 0 ? after : 5));
  }
}

export async function get(path) {
  const res = await fetchRetrying(path);
  if (res.status === 401 && shareID()) throw new APIError(401, 'This share link is not valid (any more).');
  if (res.status === 401) {
    location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
    throw new APIError(401, 'log in');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new APIError(res.status, body.error || res.statusText);
  return body;
}

export async function post(path) {
  const res = await fetch(path, { method: 'POST', headers: headers(), credentials: 'same-origin' });
  return res.ok;
}

/** PUTs body as JSON; the answer's JSON, or an APIError with its message. */
export async function put(path, body) {
  const res = await fetch(path, { method: 'PUT', headers: { ...headers(), 'Content-Type': 'application/json' },
    credentials: 'same-origin', body: JSON.stringify(body) });
  const out = await res.json().catch(() => ({}));
  if (!res.ok) throw new APIError(res.status, out.error || res.statusText);
  return out;
}

/** The site's goals and saved funnels, and whether this user may change them. */
export function analysisSettings() {
  return get(`/api/v1/sites/${encodeURIComponent(state.site)}/analysis`);
}

/** Replaces the site's goals or saved funnels (what: 'goals' or 'funnels'). */
export function saveAnalysis(what, list) {
  return put(`/api/v1/sites/${encodeURIComponent(state.site)}/${what}`, { [what]: list });
}

/** The dimensions consent analytics can be filtered by. */
export const CONSENT_FILTERS = new Set(['country', 'device', 'page', 'language']);

/**
 * The query string of the current state, plus extra parameters. Consent
 * requests (consent: true) carry only the filters consent analytics know.
 */
export function query(extra = {}, { consent = false } = {}) {
  const p = new URLSearchParams();
  p.set('period', state.period);
  if (state.period === 'custom') {
    p.set('from', state.from);
    p.set('to', state.to);
  }
  if (state.compare) p.set('compare', state.compare === 'year' ? 'previous_year' : 'previous_period');
  for (const f of state.filters) {
    if (!consent || CONSENT_FILTERS.has(f.dimension)) p.append('filter', `${f.dimension}:${f.op}:${f.value}`);
  }
  for (const [k, v] of Object.entries(extra)) {
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else if (v !== undefined && v !== '') p.set(k, v);
  }
  return p;
}

function consentPath(path) {
  return path.startsWith('consent/');
}

/** GET /api/v1/stats/{site}/{path}?{state}. */
export function stats(path, extra) {
  return get(`/api/v1/stats/${encodeURIComponent(state.site)}/${path}?${query(extra, { consent: consentPath(path) })}`);
}

/** GET /api/v1/stats/{site}/realtime: the whole site, whatever the view's period and filters. */
export function realtime(limit) {
  return get(`/api/v1/stats/${encodeURIComponent(state.site)}/realtime?limit=${limit}`);
}

/** The URL of the same request as CSV, for export links. */
export function csvURL(path, extra = {}) {
  const p = query({ ...extra, format: 'csv' }, { consent: consentPath(path) });
  if (shareID()) p.set('share', shareID());
  return `/api/v1/stats/${encodeURIComponent(state.site)}/${path}?${p}`;
}

/** The logged-in user's e-mail digest of the site: {email, every, mail}. */
export function digestSettings() {
  return get(`/api/v1/sites/${encodeURIComponent(state.site)}/digest`);
}

/** Subscribes the logged-in user: every is 'week', 'month' or ''. */
export function saveDigest(every) {
  return put(`/api/v1/sites/${encodeURIComponent(state.site)}/digest`, { every });
}
