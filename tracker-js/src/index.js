// t.js: Crumb's consent banner and analytics tracker in one script.
//
//   <script defer src="https://crumb.example.com/t.js" data-site="SITE_ID"></script>
//
// Attributes: data-site (required); data-api (the server, default: the
// script's own origin); data-track-localhost (send analytics from
// localhost/127.0.0.1 too); data-no-button (no floating "cookie settings"
// button: the site links to crumb.consent.show() itself).
//
// Calls made before the script has loaded are kept in a queue:
//   window.crumb = window.crumb || {q: []};
//   crumb.q.push(['track', 'signup', {plan: 'pro'}]);
import { S, d, safe } from './state.js';
import { gcmDefault } from './gcm.js';
import { read, valid, apply, config, get, send, refused, decide } from './consent.js';
import { showFirst, show, showFab, choose } from './banner.js';
import { mode, track } from './tracker.js';

const w = window;
const prev = w.crumb;

if (!(prev && prev.consent)) {
  // Before anything else, so that no Google tag runs without the default.
  safe(gcmDefault)();
  const el = d.currentScript || d.querySelector('script[data-site]');
  // What the API calls do; until the configuration has loaded they wait in
  // this queue, with the calls queued before the script loaded.
  const impl = {
    track,
    'consent.show': () => S.cfg && show(),
    'consent.withdraw': () => choose('withdraw', []),
    'consent.on': (e, fn) => e == 'change' && typeof fn == 'function' && S.fns.push(fn),
  };
  let waiting = [];
  const run = safe((c) => (waiting && c[0] != 'consent.on' ? waiting.push(c) : impl[c[0]](...c.slice(1))));
  w.crumb = {
    consent: {
      /** Opens the cookie settings (the second layer). */
      show: () => run(['consent.show']),
      /**
       * Returns the state of consent: {decided, necessary, performance,
       * functionality, targeting, policyVersion, consentId}.
       */
      get: safe(get),
      /**
       * Calls fn(state) when consent is known at page load and whenever the
       * visitor decides. The window event "crumb:consent" carries the same.
       */
      on: (event, fn) => run(['consent.on', event, fn]),
      /** Withdraws every optional category: their cookies are deleted and tracking stops. */
      withdraw: () => run(['consent.withdraw']),
    },
    /** Sends a custom event with up to 20 string properties, if the visitor allowed analytics. */
    track: (name, props) => run(['track', name, props]),
    q: { push: run },
  };
  ((prev && prev.q) || []).forEach(run);

  const init = async () => {
    S.site = el.dataset.site;
    S.base = (el.dataset.api || new URL(el.src).origin).replace(/\/$/, '');
    S.on = /^https?:$/.test(location.protocol) && (!/^(localhost|127\.0\.0\.1|\[::1\])$/.test(location.hostname) || el.hasAttribute('data-track-localhost'));
    S.fab = !el.hasAttribute('data-no-button');
    S.ask = (changed) => showFirst(changed, 1);
    S.refused = refused;
    S.cfg = await config();
    const x = read();
    if (x && (!S.cfg || valid(x))) {
      // The server may be down: then the stored decision still holds.
      S.dec = x;
      if (S.cfg && S.gpc && !x.g && x.c.includes('targeting')) {
        // Global Privacy Control since an "accept" without it: an opt-out
        // of targeting, recorded as a new decision, with no question asked.
        decide('custom', x.c.filter((c) => c != 'targeting'));
        showFab();
      } else {
        apply(x);
        if (S.cfg) {
          showFab();
          if (x.p) send(x);
        }
      }
    } else {
      S.old = x;
      mode();
      if (S.cfg) showFirst(x && x.v != S.cfg.policy_version, 1);
    }
  };
  const start = () =>
    init()
      .catch(() => {})
      .then(() => {
        const q = waiting;
        waiting = null;
        q.forEach(run);
      });
  if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', start);
  else start();
}
