// A tiny helper to build DOM trees without innerHTML, so that no value from
// the data is ever parsed as HTML, and the formatting of numbers, dates and
// dimension values.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false || c === '') continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const nf0 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

const RATES = new Set(['bounce_rate', 'conversion_rate', 'rate', 'interaction_rate', 'opt_in_performance',
  'opt_in_functionality', 'opt_in_targeting', 'gpc_share_impressions', 'gpc_share_decisions', 'measured_share',
  'estimated_coverage']);

/** Formats a metric value for display. */
export function fmt(metric, v) {
  if (v === undefined || v === null || v === '' || Number.isNaN(v)) return '–';
  if (RATES.has(metric)) return nf.format(v) + '%';
  switch (metric) {
    case 'visit_duration':
    case 'time_on_page':
      return duration(v);
    case 'views_per_visit':
      return nf.format(v);
    default:
      return Math.abs(v) >= 100000 ? compact.format(v) : nf0.format(v);
  }
}

export function duration(s) {
  s = Math.round(s);
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export const labels = {
  visitors: 'Unique visitors', returning_visitors: 'Returning visitors', visits: 'Visits', pageviews: 'Page views',
  anonymous_pageviews: 'Page views without consent', views_per_visit: 'Views per visit', bounce_rate: 'Bounce rate',
  visit_duration: 'Visit duration', time_on_page: 'Time on page', events: 'Events', conversion_rate: 'Conversion rate',
  transitions: 'Transitions: how often visitors made the step', decisions: 'Decisions', impressions: 'Impressions',
  opt_in_performance: 'Opt-in rate: performance', opt_in_functionality: 'Opt-in rate: functionality',
  opt_in_targeting: 'Opt-in rate: targeting',
};

/** Short column headers of breakdown tables. */
export const columns = { ...labels, visitors: 'Visitors', pageviews: 'Views', views_per_visit: 'Views/visit',
  visit_duration: 'Duration', time_on_page: 'Time', conversion_rate: 'Conv. rate', bounce_rate: 'Bounce',
  transitions: 'Steps', opt_in_performance: 'Perf.', opt_in_functionality: 'Func.', opt_in_targeting: 'Targ.' };

const regionNames = safe(() => new Intl.DisplayNames(['en'], { type: 'region' }));
const languageNames = safe(() => new Intl.DisplayNames(['en'], { type: 'language' }));

function safe(f) {
  try {
    return f();
  } catch {
    return null;
  }
}

/** How a dimension's value is shown: country codes and languages by name. */
export function display(dim, value) {
  if (value === '' || value === undefined || value === null) return '(none)';
  if (value.startsWith('(')) return value;
  if (dim === 'country' && /^[A-Z]{2}$/.test(value) && regionNames) return safe(() => regionNames.of(value)) || value;
  if (dim === 'language' && languageNames && /^[a-z]{2,3}(-[A-Za-z0-9]+)?$/.test(value)) return safe(() => languageNames.of(value)) || value;
  return value;
}

/** Today (UTC, as the stats API counts) as YYYY-MM-DD, shifted by days. */
export function isoDay(days = 0) {
  return new Date(Date.now() + days * 864e5).toISOString().slice(0, 10);
}

const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
const monthFmt = new Intl.DateTimeFormat(undefined, { month: 'short', year: 'numeric', timeZone: 'UTC' });
const hourFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' });
const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' });

/** Formats a date (Date or seconds) as a bucket of interval. */
export function fmtBucket(t, interval, long = false) {
  const d = t instanceof Date ? t : new Date(t * 1000);
  switch (interval) {
    case 'hour':
      return long ? `${dayFmt.format(d)}, ${hourFmt.format(d)}` : hourFmt.format(d);
    case 'month':
      return monthFmt.format(d);
    case 'week':
      return long ? `Week of ${dayYearFmt.format(d)}` : dayFmt.format(d);
    default:
      return long ? dayYearFmt.format(d) : dayFmt.format(d);
  }
}

/** A date range as text: "1 Nov – 30 Nov 2026". */
export function fmtRange(from, to) {
  const a = new Date(from + 'T00:00:00Z');
  const b = new Date(to + 'T00:00:00Z');
  if (from === to) return dayYearFmt.format(a);
  return `${dayFmt.format(a)} – ${dayYearFmt.format(b)}`;
}

/** A time stamp (RFC 3339) in UTC. */
export function fmtTime(ts) {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : timeFmt.format(d) + ' UTC';
}

/** Why an answer has no numbers: its filters leave fewer than k visitors. */
export function withheldText(data) {
  const why = data.withheld || '';
  return `${why.charAt(0).toUpperCase()}${why.slice(1)}, so that no one visitor can be seen. Remove a filter to see more.`;
}
