// Analytics: page views (also on History API navigation), engagement time,
// site search, outbound links, downloads, custom events and error pages,
// batched to POST /api/events. Sends nothing without performance consent,
// except page views with no ID at all when the site counts anonymously.
import { S, d, uuid, clip, safe } from './state.js';
import { getCookie, setCookie } from './cookies.js';
import { post, beacon } from './net.js';

const DOWNLOAD = /\.(pdf|zip|docx?|xlsx?|pptx?|csv|mp3|mp4|dmg|exe|msi|gz|tgz|tar|rar|7z|apk)$/i;

let M = null; // null: off; 'anon': anonymous page views; else the consent token
let q = [];
let timer = 0;
let last = location.href;
let lastPath = location.pathname;
let shown = 0; // when the page last became visible, 0 while hidden
let seen = 0; // visible time not yet reported
let installed;

/**
 * mode switches the tracker: with a consent token it tracks with IDs,
 * without one it counts anonymous page views if the site allows that,
 * else it stops at once and drops what was waiting.
 */
export function mode(token) {
  const m = !S.on || !S.cfg ? null : token || (S.cfg && S.cfg.anonymous_counting ? 'anon' : null);
  const was = M;
  M = m;
  q = m ? q : [];
  if (!m) return;
  if (m != 'anon') visitor();
  install();
  if (!was || (was == 'anon' && m != 'anon')) page(d.referrer);
}

// visitor returns the visitor ID, stored for as long as the consent lasts.
function visitor() {
  const v = getCookie('crumb_vid') || uuid();
  setCookie('crumb_vid', v, (S.dec.t + S.cfg.consent_lifetime_days * 864e5 - Date.now()) / 1000);
  return v;
}

// session returns the session ID, which lapses after 30 minutes without events.
function session() {
  const s = getCookie('crumb_sid') || uuid();
  setCookie('crumb_sid', s, 1800);
  return s;
}

function ev(type, x) {
  if (!M || (M == 'anon' && type != 'pageview')) return;
  q.push({ type, ts: Date.now(), url: location.href, sw: screen.width, lang: navigator.language, ...x });
  if (M != 'anon') session();
  if (q.length >= 50) flush();
  timer = timer || setTimeout(safe(flush), 300);
}

// flush sends the waiting events, with sendBeacon when the page is going away.
function flush(unload) {
  clearTimeout(timer);
  timer = 0;
  const tok = M;
  while (q.length && tok) {
    const b = { site: S.site, events: q.splice(0, 50) };
    if (tok != 'anon') Object.assign(b, { visitor: visitor(), session: session(), consent: tok });
    if (unload) beacon('/api/events', b);
    else
      post('/api/events', b).then((r) => {
        if (!r || r.s != 403 || M != tok) return;
        if (tok == 'anon') {
          S.cfg.anonymous_counting = false;
          mode();
        } else S.refused();
      });
  }
}

// page counts a page view, and the search and error status it shows. A
// page view without a referrer while the visit's session runs continues
// the visit (a Referrer-Policy of no-referrer hides the site's own page):
// it is not a new, direct arrival.
function page(ref) {
  last = location.href;
  lastPath = location.pathname;
  ev('pageview', !ref && M != 'anon' && getCookie('crumb_sid') ? { referrer: ref, continued: true } : { referrer: ref });
  const p = new URLSearchParams(location.search);
  for (const k of S.cfg.search_params || []) {
    const t = (p.get(k) || '').trim();
    if (t) {
      ev('search', { term: clip(t, 200) });
      break;
    }
  }
  const m = d.querySelector('meta[name="crumb:status"]');
  if (m) ev('error', { status: +m.content || 404 });
}

// engaged returns the visible time not yet reported, and starts anew.
function engaged(url) {
  const t = seen + (shown && Date.now() - shown);
  seen = 0;
  shown = d.visibilityState == 'visible' && Date.now();
  if (t > 0) ev('engagement', { url, duration: Math.min(t, 864e5) });
}

function nav() {
  if (!M || location.pathname == lastPath) return;
  engaged(last);
  page(last);
}

function click(e) {
  const a = e.target.closest && e.target.closest('a[href]');
  const link = a && a.href;
  if (typeof link != 'string' || !/^https?:/.test(link)) return;
  if (a.hasAttribute('download') || DOWNLOAD.test(a.pathname)) ev('download', { link });
  else if (a.host != location.host) ev('outbound', { link });
}

function hide() {
  engaged(last);
  shown = 0; // pagehide comes before visibilitychange: count nothing in between
  flush(1);
}

function install() {
  if (installed) return;
  installed = 1;
  shown = d.visibilityState == 'visible' && Date.now();
  for (const f of ['pushState', 'replaceState']) {
    const orig = history[f];
    history[f] = function () {
      const r = orig.apply(this, arguments);
      safe(nav)();
      return r;
    };
  }
  addEventListener('popstate', safe(nav));
  d.addEventListener('click', safe(click), true);
  d.addEventListener('auxclick', safe(click), true);
  d.addEventListener(
    'visibilitychange',
    safe(() => {
      if (d.visibilityState == 'hidden') hide();
      else shown = Date.now();
    }),
  );
  addEventListener('pagehide', safe(hide));
  addEventListener(
    'pageshow',
    safe((e) => {
      if (e.persisted && M) {
        shown = Date.now();
        page(d.referrer);
      }
    }),
  );
}

/**
 * track is crumb.track(name, props): a custom event with up to 20 string
 * properties, sent only with performance consent.
 */
export function track(name, props) {
  if (!name) return;
  const p = {};
  let n = 0;
  for (const k in props || {}) {
    if (k && props[k] != null && n++ < 20) p[clip(k, 64)] = clip(String(props[k]), 256);
  }
  ev('custom', { name: clip(String(name), 120), props: p });
}
