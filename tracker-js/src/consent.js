// The visitor's decision: stored in the first-party cookie crumb_consent,
// sent to the server as proof, and applied to Consent Mode, gated tags,
// declared cookies and the tracker.
import { S, CATS, d, uuid, clip } from './state.js';
import { getCookie, setCookie, delCookie, cookieNames, matches } from './cookies.js';
import { post, getJSON } from './net.js';
import { gcmUpdate } from './gcm.js';
import { gate } from './gate.js';
import { mode } from './tracker.js';

const KEY = 'crumb_consent';
const lifetime = () => (S.cfg ? S.cfg.consent_lifetime_days : 182) * 864e5;

/**
 * A stored decision: {id: consent ID, h: the consent's key (proof of
 * holding it, from the server), n: the decision's number on the consent,
 * v: policy version, c: granted categories, t: decision time (ms), g: GPC,
 * a: action, k: consent token, p: 1 while the server has not confirmed it,
 * b: the hash of the banner it was made on}.
 */
export function read() {
  try {
    const x = JSON.parse(decodeURIComponent(getCookie(KEY)));
    return x && x.id && x.c ? x : null;
  } catch (e) {
    return null;
  }
}

const save = (x) => setCookie(KEY, encodeURIComponent(JSON.stringify(x)), (x.t + lifetime() - Date.now()) / 1000);

/** valid tells whether decision x still holds under the site's configuration. */
export const valid = (x) => x && x.v == S.cfg.policy_version && x.t + lifetime() > Date.now();

/** grants maps decision x to {performance, functionality, targeting}. */
export function grants(x) {
  const g = {};
  for (const c of CATS) g[c] = !!(x && x.c.includes(c));
  return g;
}

/** config loads the site's banner configuration in the browser's languages. */
export const config = (fresh) =>
  getJSON(`/api/sites/${S.site}/config?lang=${encodeURIComponent((navigator.languages || [navigator.language]).join(','))}`, fresh);

/** get is crumb.consent.get(): the current state of consent. */
export function get() {
  const x = S.dec;
  return {
    decided: !!x,
    necessary: true,
    ...grants(x),
    policyVersion: x ? x.v : S.cfg ? S.cfg.policy_version : 0,
    consentId: x && x.h ? x.id : null,
    // With consentId, what GET and DELETE /api/me need (X-Crumb-Consent-Key).
    consentKey: x && x.h ? x.h : null,
  };
}

function emit() {
  const s = get();
  for (const f of S.fns) {
    try {
      f(s);
    } catch (e) {}
  }
  dispatchEvent(new CustomEvent('crumb:consent', { detail: s }));
}

/**
 * apply puts decision x into effect. prev are the categories granted before:
 * the cookies of each one no longer granted are deleted.
 */
export function apply(x, prev) {
  const g = grants(x);
  mode(g.performance && x.k);
  for (const c of CATS) if (prev && prev[c] && !g[c]) clear(c);
  gcmUpdate(g);
  gate(g);
  emit();
}

// clear deletes the cookies the site lists for category c; for performance
// also the visitor and session IDs.
function clear(c) {
  const cat = S.cfg && S.cfg.categories.find((k) => k.id == c);
  for (const k of cat ? cat.cookies : []) delCookie(k.name);
  if (c == 'performance') ['crumb_vid', 'crumb_sid'].forEach(delCookie);
}

/**
 * decide records the visitor's choice: action is accept_all, reject_all,
 * custom (with the chosen categories) or withdraw.
 */
export function decide(action, chosen, ms) {
  const cfg = S.cfg;
  const prev = S.dec || S.old;
  const offered = cfg ? cfg.categories.map((k) => k.id).filter((c) => CATS.includes(c)) : [];
  const c =
    action == 'accept_all'
      ? offered.filter((k) => !(S.gpc && k == 'targeting')) // GPC: targeting only by an explicit choice
      : action == 'custom'
        ? offered.filter((k) => chosen.includes(k))
        : [];
  const x = {
    id: prev && prev.h ? prev.id : uuid(),
    h: prev && prev.h,
    n: prev && prev.h ? (prev.n || 1) + 1 : 1,
    v: cfg ? cfg.policy_version : prev ? prev.v : 0,
    b: cfg && cfg.texts_hash,
    c,
    t: Date.now(),
    g: S.gpc,
    a: action,
    p: 1,
  };
  if (ms) x.m = Math.min(ms, 86400000);
  S.dec = x;
  S.old = null;
  save(x);
  apply(x, grants(prev));
  send(x);
}

// Decisions go to the server one after the other: the first one's answer
// carries the consent's ID and key, which the next one needs.
let chain = Promise.resolve();

/** send records decision x on the server; a token arrives if performance is granted. */
export function send(x) {
  chain = chain.then(() => push(x)).catch(() => {});
}

function push(x) {
  // The consent this browser holds: from an earlier answer, or stored.
  const held = S.hold || (x.h ? { id: x.id, h: x.h } : null);
  return post('/api/consent', {
    site: S.site,
    consent_id: held ? held.id : undefined,
    consent_key: held ? held.h : undefined,
    seq: held ? x.n : 1,
    policy_version: x.v,
    texts_hash: x.b,
    action: x.a,
    categories: x.c,
    gpc: x.g,
    url: location.href,
    lang: S.cfg ? S.cfg.lang : navigator.language,
    decision_ms: x.m,
  }).then((r) => {
    if (!r || r.s == 429 || r.s > 499) return; // not recorded: sent again on a later page
    if (r.s == 202 && r.j.consent_key) S.hold = { id: r.j.consent_id, h: r.j.consent_key };
    if (S.dec != x) {
      // A newer decision is on its way; it will go under this consent.
      if (S.dec && S.hold) Object.assign(S.dec, { id: S.hold.id, h: S.hold.h }), save(S.dec);
      return;
    }
    x.p = 0;
    delete x.m; // sent: not kept in the stored decision
    if (r.s != 202) return save(x); // refused for good (bad site, origin…): no point in sending it again
    x.id = r.j.consent_id;
    x.h = r.j.consent_key;
    x.k = r.j.token;
    const c = CATS.filter((k) => r.j.granted && r.j.granted[k]);
    const changed = c.join() != x.c.join();
    const prev = grants(x);
    x.c = c;
    save(x);
    if (changed) apply(x, prev);
    else mode(x.c.includes('performance') && x.k);
  });
}

/** impression counts one showing of the banner, with the names of undeclared cookies. */
export function impression() {
  const nec = S.cfg.categories.filter((k) => k.required).flatMap((k) => k.cookies.map((c) => c.name));
  const names = cookieNames().filter((n) => !/^crumb_(consent|vid|sid)$/.test(n) && !nec.some((p) => matches(p, n)));
  post('/api/impressions', {
    site: S.site,
    policy_version: S.cfg.policy_version,
    url: location.href,
    lang: S.cfg.lang,
    gpc: S.gpc,
    undeclared_cookies: names.slice(0, 50).map((n) => clip(n, 128)),
  });
}

/**
 * refused is called when the server refuses events (403: consent missing,
 * invalid or under an older policy): stop, and ask again.
 */
export function refused() {
  mode();
  const x = S.dec;
  if (!x) return;
  // If the visitor ignores the banner, the next page asks the server for a
  // fresh token under the same decision.
  x.p = 1;
  save(x);
  S.old = x;
  S.dec = null;
  config(true).then((cfg) => {
    if (cfg) S.cfg = cfg;
    S.ask(x.v != S.cfg.policy_version);
  }).catch(() => {});
}
