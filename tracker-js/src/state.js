// Shared state and small helpers used by every module.

/**
 * The script's state: where it reports to and what it knows.
 * - site, base: site ID and API origin (from the script tag)
 * - cfg: the site's banner configuration, null until loaded (or if the server is down)
 * - dec: the visitor's valid decision, null while undecided
 * - old: a stored decision that is no longer valid (policy changed, expired)
 * - gpc: the browser sends Global Privacy Control
 * - on: analytics may be sent from this host (not localhost unless data-track-localhost)
 */
export const S = {
  site: '',
  base: '',
  cfg: null,
  dec: null,
  old: null,
  // The consent this browser holds once the server answered: {id, h: key}.
  hold: null,
  gpc: navigator.globalPrivacyControl === true,
  on: false,
  fab: true,
  fns: [],
  // Set by index.js: shows the first layer again after the server refused events.
  ask: null,
  // Set by index.js: what the tracker calls when the server refuses its
  // events under the visitor's consent (consent.js refused).
  refused: null,
};

/** The optional categories, in display order. */
export const CATS = ['performance', 'functionality', 'targeting'];

export const d = document;

/** safe wraps f so that no error ever reaches the host page. */
export const safe = (f) =>
  function () {
    try {
      return f.apply(this, arguments);
    } catch (e) {}
  };

/** uuid returns a random UUID v4 (crypto.randomUUID needs a secure context). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const x = Array.from(b, (v) => (v + 256).toString(16).slice(1)).join('');
  return x.replace(/(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
}

/** clip shortens s to at most n bytes of UTF-8, on a code point boundary. */
export function clip(s, n) {
  let a = Array.from(s).slice(0, n);
  while (new Blob(a).size > n) a.pop();
  return a.join('');
}
