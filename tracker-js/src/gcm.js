// Google Consent Mode v2: "default" (all denied) as soon as the script runs,
// "update" on every decision. Only when the page uses gtag or a dataLayer.
const w = window;

const on = () => typeof w.gtag == 'function' || w.dataLayer;
const state = (b) => (b ? 'granted' : 'denied');

// gtag.js wants the Arguments object itself in the dataLayer.
function push() {
  w.dataLayer.push(arguments);
}

function consent(kind, v) {
  if (typeof w.gtag == 'function') w.gtag('consent', kind, v);
  else if (w.dataLayer) push('consent', kind, v);
}

/** gcmDefault denies everything but security storage until the visitor decides. */
export function gcmDefault() {
  const n = 'denied';
  if (on())
    consent('default', {
      ad_storage: n,
      ad_user_data: n,
      ad_personalization: n,
      analytics_storage: n,
      functionality_storage: n,
      personalization_storage: n,
      security_storage: 'granted',
      wait_for_update: 500,
    });
}

/** gcmUpdate maps the granted categories g onto Consent Mode's storage types. */
export function gcmUpdate(g) {
  const ads = state(g.targeting);
  const fn = state(g.functionality);
  if (on())
    consent('update', {
      ad_storage: ads,
      ad_user_data: ads,
      ad_personalization: ads,
      analytics_storage: state(g.performance),
      functionality_storage: fn,
      personalization_storage: fn,
    });
}
