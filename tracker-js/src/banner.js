// The banner, in a shadow root so that the page's styles cannot break it:
// the first layer (non-modal: Accept all / Reject all / Customize), the
// second layer (modal: one switch per category, focus trapped), and the
// persistent "cookie settings" button.
import css from './banner.css';
import { S, CATS, d, safe } from './state.js';
import { decide, grants, impression } from './consent.js';

let host, root, first, modal, fab, opener, changed, back, shown;

const t = (k) => S.cfg.texts[k] || '';

// h creates an element: attributes (true: present, false/null: absent,
// "on…": listeners) and children (strings, elements; falsy ones skipped).
function h(tag, attrs, ...kids) {
  const e = d.createElement(tag);
  for (const k in attrs) {
    const v = attrs[k];
    if (k.startsWith('on')) e.addEventListener(k.slice(2), safe(v));
    else if (v != null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...kids.filter((k) => k || k === 0));
  return e;
}

function mount(el) {
  if (!root) {
    host = d.createElement('crumb-consent');
    root = host.attachShadow({ mode: 'open' });
    // A constructed style sheet: a Content-Security-Policy without
    // 'unsafe-inline' refuses a <style> element, not the CSSOM.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.append(h('style', {}, css));
    }
    d.body.append(host);
  }
  root.append(el);
  return el;
}

const remove = (el) => el && el.remove();
const button = (k, f) => h('button', { type: 'button', onclick: f }, t(k));

// active is the focused element, looking into the banner's shadow root.
const active = () => (d.activeElement == host ? root.activeElement : d.activeElement);

function dialog(modal, label, desc, ...kids) {
  return h('div', { class: 'b' + (modal ? ' m' : ''), role: 'dialog', 'aria-modal': String(modal), 'aria-labelledby': label, 'aria-describedby': desc, tabindex: -1, lang: S.cfg.lang }, ...kids);
}

const gpcNote = () => S.gpc && h('p', { class: 'n' }, t('gpc'));

/** choose records a decision made in the banner and puts focus back where it was. */
export function choose(action, cats) {
  const to = back;
  back = null;
  // How long the banner was shown before the decision.
  const ms = shown != null ? Math.max(1, Math.round(performance.now() - shown)) : undefined;
  shown = null;
  close();
  decide(action, cats, ms);
  showFab();
  if (to && to.isConnected && to != d.body) to.focus();
}

/** showFirst shows the first layer; changed adds the "policy changed" notice. */
export function showFirst(isChanged, count) {
  changed = isChanged;
  close();
  back = back || active();
  const url = S.cfg.policy_url;
  first = mount(
    dialog(
      false,
      'cr-t',
      'cr-d',
      h('h2', { id: 'cr-t' }, t('title')),
      h(
        'div',
        { id: 'cr-d' },
        changed && h('p', { class: 'n' }, t('changed')),
        h('p', {}, t('body'), ' ', /^(https?:|\/)/.test(url) && h('a', { href: url, target: '_blank', rel: 'noopener' }, t('policy'))),
        gpcNote(),
      ),
      h(
        'div',
        { class: 'r' },
        button('accept_all', () => choose('accept_all')),
        button('reject_all', () => choose('reject_all')),
        button('customize', () => show()),
      ),
    ),
  );
  first.focus({ preventScroll: true });
  shown = shown == null ? performance.now() : shown;
  if (count) impression();
}

function cookieList(cs) {
  return (
    cs.length &&
    h(
      'details',
      {},
      h('summary', {}, `${t('cookies')} (${cs.length})`),
      h(
        'ul',
        {},
        ...cs.map((c) => h('li', {}, h('b', {}, c.name), [c.provider, c.duration].filter(Boolean).join(' · '), c.purpose && h('p', {}, c.purpose))),
      ),
    )
  );
}

/** show opens the second layer: one switch per category. */
export function show() {
  const fromFirst = first && first.isConnected;
  if (!fromFirst) shown = performance.now();
  opener = fromFirst ? null : active();
  close();
  const g = grants(S.dec);
  const sw = {};
  const cats = S.cfg.categories.map((c) => {
    const id = 'cr-' + c.id;
    const on = c.required || g[c.id];
    sw[c.id] = h('input', { type: 'checkbox', role: 'switch', id, disabled: c.required, 'aria-describedby': id + '-d' });
    sw[c.id].checked = on;
    return h(
      'section',
      { class: 'k' },
      h('div', { class: 'kr' }, h('label', { for: id }, c.title), c.required && h('span', { class: 'on' }, t('always_on')), sw[c.id]),
      h('p', { id: id + '-d' }, c.description),
      cookieList(c.cookies),
    );
  });
  const box = dialog(
    true,
    'cr-st',
    'cr-sd',
    h('button', { type: 'button', class: 'x', 'aria-label': t('close'), onclick: hide }, '×'),
    h('h2', { id: 'cr-st' }, t('settings_title')),
    h('p', { id: 'cr-sd' }, t('settings_body')),
    gpcNote(),
    ...cats,
    h(
      'div',
      { class: 'r' },
      button('save', () => choose('custom', CATS.filter((c) => sw[c] && sw[c].checked))),
      button('accept_all', () => choose('accept_all')),
      button('reject_all', () => choose('reject_all')),
    ),
  );
  modal = mount(h('div', { class: 'o', onkeydown: (e) => keys(e, box) }, box));
  box.focus({ preventScroll: true });
  back = fromFirst ? back : opener;
}

// keys traps Tab inside the second layer and closes it with Escape.
function keys(e, box) {
  if (e.key == 'Escape') {
    e.preventDefault();
    return hide();
  }
  if (e.key != 'Tab') return;
  const f = [...box.querySelectorAll('button,input:not(:disabled),summary,a[href]')];
  const i = f.indexOf(root.activeElement);
  if (e.shiftKey ? i <= 0 : i == f.length - 1) {
    e.preventDefault();
    f[e.shiftKey ? f.length - 1 : 0].focus();
  }
}

// hide closes the second layer without a decision: back to the first layer
// if there is no decision yet, else back to what opened it.
function hide() {
  close();
  if (!S.dec) {
    showFirst(changed);
    first.querySelectorAll('button')[2].focus();
  } else showFab();
  if (opener && opener.isConnected && opener != d.body && !root.contains(opener)) opener.focus();
  else if (S.dec && fab) fab.focus();
}

function close() {
  [first, modal, fab].forEach(remove);
}

const ICON =
  '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><path fill="currentColor" fill-rule="evenodd" d="M12 2a10 10 0 1 0 10 10 4 4 0 0 1-5-5 4 4 0 0 1-5-5zM8 8.5a1.5 1.5 0 1 0 0 .1zM7.5 15a1.5 1.5 0 1 0 0 .1zM13 17a1.5 1.5 0 1 0 0 .1zM12 11a1 1 0 1 0 0 .1zM16 14a1 1 0 1 0 0 .1z"/></svg>';

/** showFab shows the persistent "cookie settings" button (unless data-no-button). */
export function showFab() {
  if (!S.fab || !S.cfg) return;
  fab = fab || h('button', { type: 'button', class: 'f', 'aria-label': t('reopen'), title: t('reopen'), onclick: show });
  fab.innerHTML = ICON;
  mount(fab);
}
