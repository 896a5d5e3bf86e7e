// A tiny helper to build DOM trees without innerHTML, so that no value from
// the data is ever parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

/** Formats a metric value for display. */
export function fmt(metric, v) {
  if (v === undefined || v === null || v === '') return '–';
  switch (metric) {
    case 'bounce_rate':
    case 'conversion_rate':
    case 'opt_in_rate':
    case 'rate':
      return nf.format(v) + '%';
    case 'visit_duration':
    case 'time_on_page':
    case 'time_to_decision':
      return duration(v);
    case 'views_per_visit':
      return nf.format(v);
    default:
      return v >= 100000 ? compact.format(v) : nf.format(v);
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
  anonymous_pageviews: 'Anonymous page views', views_per_visit: 'Views per visit', bounce_rate: 'Bounce rate',
  visit_duration: 'Visit duration', time_on_page: 'Time on page', events: 'Events', conversion_rate: 'Conversion',
  transitions: 'Transitions',
};
