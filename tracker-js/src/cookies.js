// First-party cookies on the site's own host.
import { d } from './state.js';

/** getCookie returns the value of cookie n, or undefined. */
export function getCookie(n) {
  for (const c of d.cookie.split('; ')) if (c.split('=')[0] == n) return c.slice(n.length + 1);
}

/** setCookie stores n=v for sec seconds (path=/, SameSite=Lax, Secure on https). */
export function setCookie(n, v, sec) {
  d.cookie = `${n}=${v};path=/;max-age=${Math.max(0, sec | 0)};SameSite=Lax${location.protocol == 'https:' ? ';Secure' : ''}`;
}

/** cookieNames lists the names of the cookies this page can see, once each. */
export const cookieNames = () => [...new Set(d.cookie.split('; ').map((c) => c.split('=')[0]).filter(Boolean))];

/** matches tells whether cookie name n matches a declared name p ("_ga_*" matches any "_ga_" prefix). */
export const matches = (p, n) => (p.slice(-1) == '*' ? n.startsWith(p.slice(0, -1)) : p == n);

/**
 * delCookie deletes every cookie matching p, with path=/, for the host
 * itself and each of its parent domains.
 */
export function delCookie(p) {
  const parts = location.hostname.split('.');
  for (const n of cookieNames()) {
    if (!matches(p, n)) continue;
    for (let i = 0; i <= parts.length; i++) {
      d.cookie = `${n}=;path=/;max-age=0${i < parts.length ? ';domain=' + parts.slice(i).join('.') : ''}`;
    }
  }
}
