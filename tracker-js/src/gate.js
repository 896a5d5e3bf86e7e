// Gated tags: <script type="text/plain" data-category="…"> (inline or with
// src) and <iframe data-src="…" data-category="…">, activated once every
// category they name is granted, in document order, never twice.
import { d } from './state.js';

const done = new WeakSet();
let chain = Promise.resolve();

/** gate activates the waiting tags whose categories g grants. */
export function gate(g) {
  const els = d.querySelectorAll('script[type="text/plain"][data-category],iframe[data-src][data-category]');
  for (const el of els) {
    if (done.has(el) || !el.dataset.category.split(/[\s,]+/).every((c) => c == 'necessary' || g[c])) continue;
    done.add(el);
    // Each tag waits for the one before it: an inline script after an
    // external one runs only once that one has loaded.
    chain = chain.then(() => new Promise((ok) => run(el, ok))).catch(() => {});
  }
}

function run(el, ok) {
  if (el.tagName == 'IFRAME') {
    el.src = el.dataset.src;
    el.removeAttribute('data-src');
    return ok();
  }
  const s = d.createElement('script');
  for (const a of el.attributes) if (a.name != 'type') s.setAttribute(a.name, a.value);
  if (el.dataset.type) s.type = el.dataset.type;
  s.nonce = el.nonce;
  s.async = false;
  if (el.src) {
    s.onload = s.onerror = ok;
    // A script that never answers must not hold up the others for ever.
    setTimeout(ok, 10000);
  } else {
    s.text = el.text;
  }
  el.replaceWith(s);
  if (!el.src) ok();
}
