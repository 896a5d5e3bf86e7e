// Requests to the Crumb server: text/plain bodies (no CORS preflight), no
// credentials, a timeout, and never a rejected promise.
import { S } from './state.js';

/** req resolves to {s: status, j: parsed JSON body} or null when the server is unreachable. */
function req(path, o) {
  const c = new AbortController();
  const t = setTimeout(() => c.abort(), 8000);
  return fetch(S.base + path, { credentials: 'omit', signal: c.signal, ...o })
    .then((r) => r.json().catch(() => ({})).then((j) => ({ s: r.status, j })))
    .catch(() => null)
    .finally(() => clearTimeout(t));
}

/** post sends body as JSON; the request survives the page being closed. */
export const post = (path, body) => req(path, { method: 'POST', body: JSON.stringify(body), keepalive: true });

/** getJSON fetches path and resolves to its JSON body, or null on any failure. */
export const getJSON = (path, fresh) => req(path, fresh ? { cache: 'no-cache' } : {}).then((r) => (r && r.s == 200 ? r.j : null));

/** beacon sends body with navigator.sendBeacon, falling back to post. */
export function beacon(path, body) {
  try {
    if (navigator.sendBeacon(S.base + path, JSON.stringify(body))) return;
  } catch (e) {}
  post(path, body);
}
