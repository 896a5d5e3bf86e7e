// The banner's main scenarios in Firefox (Debian's firefox-esr), driven
// over WebDriver BiDi by puppeteer-core: TestFirefox (firefox_test.go)
// starts crumb and the shop's pages, runs this script and checks what
// crumb stored. It prints one JSON object: each scenario's observations.
//
//   CRUMB_SCENARIOS='{"base":"http://www.shop.test:PORT","sites":{…}}' \
//   NODE_PATH=…/node_modules node scenarios.cjs
'use strict';

const puppeteer = require('puppeteer-core');

const cfg = JSON.parse(process.env.CRUMB_SCENARIOS);
const firefox = process.env.CRUMB_FIREFOX || '/usr/bin/firefox-esr';

const SHADOW = `document.querySelector('crumb-consent') && document.querySelector('crumb-consent').shadowRoot`;
const FIRST = `(${SHADOW} && ${SHADOW}.querySelector('.b:not(.m)'))`;
const FOCUSED = `(document.activeElement && document.activeElement.shadowRoot ? document.activeElement.shadowRoot.activeElement : document.activeElement)`;

async function launch(gpc) {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: firefox,
    headless: true,
    extraPrefsFirefox: {
      // The shop and crumb are on loopback; nothing else resolves.
      'network.dns.localDomains': 'www.shop.test,crumb.test',
      // Firefox's own Global Privacy Control: navigator.globalPrivacyControl
      // and the Sec-GPC request header.
      'privacy.globalprivacycontrol.enabled': gpc,
      'privacy.globalprivacycontrol.functionality.enabled': gpc,
      'intl.accept_languages': 'en-US, en',
    },
  });
}

async function waitFor(page, expr, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await page.evaluate(`!!(${expr})`)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cookies(page) {
  const out = {};
  for (const c of await page.cookies()) out[c.name] = c.value;
  return out;
}

// decision returns the stored decision cookie, decoded.
async function decision(page) {
  const c = (await cookies(page)).crumb_consent;
  return c ? JSON.parse(decodeURIComponent(c)) : null;
}

async function confirmed(page) {
  const end = Date.now() + 10000;
  for (;;) {
    const d = await decision(page);
    if (d && d.p === 0) return d;
    if (Date.now() > end) throw new Error(`decision not confirmed: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function clickButton(page, text) {
  const b = await page.evaluateHandle(`[...${FIRST}.querySelectorAll('button')].find(b => b.textContent == ${JSON.stringify(text)})`);
  await b.asElement().click();
}

async function open(browser, site, file = 'page.html', init = null) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (init) await page.evaluateOnNewDocument(init);
  await page.goto(`${cfg.base}/s/${site}/${file}`, { waitUntil: 'load' });
  await waitFor(page, FIRST, 'the banner');
  return { ctx, page, errors };
}

const scenarios = {
  // Before a decision: the banner, focused; nothing gated ran, no ID.
  async before(browser) {
    const { ctx, page, errors } = await open(browser, cfg.sites.before);
    await new Promise((r) => setTimeout(r, 500));
    const out = {
      ua: await page.evaluate('navigator.userAgent'),
      buttons: await page.evaluate(`[...${FIRST}.querySelectorAll('button')].map(b => b.textContent)`),
      focusedInBanner: await page.evaluate(`${FOCUSED} === ${FIRST}`),
      log: await page.evaluate('window.log'),
      cookies: await cookies(page),
      errors,
    };
    await ctx.close();
    return out;
  },
  async reject(browser) {
    const { ctx, page, errors } = await open(browser, cfg.sites.reject);
    await clickButton(page, 'Reject all');
    const d = await confirmed(page);
    await page.goto(`${cfg.base}/s/${cfg.sites.reject}/page.html`, { waitUntil: 'load' });
    await new Promise((r) => setTimeout(r, 500));
    const out = { decision: d, bannerAgain: await page.evaluate(`!!${FIRST}`), log: await page.evaluate('window.log'), cookies: await cookies(page), errors };
    await ctx.close();
    return out;
  },
  async accept(browser) {
    const { ctx, page, errors } = await open(browser, cfg.sites.accept);
    await clickButton(page, 'Accept all');
    const d = await confirmed(page);
    await waitFor(page, `document.cookie.includes('crumb_vid=')`, 'the visitor cookie');
    await new Promise((r) => setTimeout(r, 300));
    const out = { decision: d, log: await page.evaluate('window.log'), cookies: await cookies(page), errors };
    await ctx.close();
    return out;
  },
  // Keyboard only: Tab from the banner to "Reject all", then Enter.
  async keyboard(browser) {
    const { ctx, page, errors } = await open(browser, cfg.sites.keyboard);
    const focus = () => page.evaluate(`(() => { const f = ${FOCUSED}; return !f ? '' : f.getAttribute('role') == 'dialog' ? 'dialog' : (f.getAttribute('aria-label') || f.textContent) })()`);
    const steps = [await focus()];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      steps.push(await focus());
    }
    await page.keyboard.press('Enter');
    const d = await confirmed(page);
    const out = { steps, decision: d, errors };
    await ctx.close();
    return out;
  },
  // A page whose Content-Security-Policy allows no inline style: the
  // banner is styled all the same, and takes the focus.
  async strict(browser) {
    const { ctx, page, errors } = await open(browser, cfg.sites.strict, 'strict.html', `window.violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ' ' + e.blockedURI))`);
    await new Promise((r) => setTimeout(r, 300));
    const out = {
      style: await page.evaluate(`(() => { const s = getComputedStyle(${FIRST}); return s.position + ' ' + s.backgroundColor })()`),
      focusedInBanner: await page.evaluate(`${FOCUSED} === ${FIRST}`),
      violations: await page.evaluate('window.violations'),
      errors,
    };
    await clickButton(page, 'Reject all');
    out.decision = await confirmed(page);
    await ctx.close();
    return out;
  },
};

(async () => {
  const out = {};
  const browser = await launch(false);
  try {
    for (const name of ['before', 'reject', 'accept', 'keyboard', 'strict']) out[name] = await scenarios[name](browser);
  } finally {
    await browser.close();
  }
  // Global Privacy Control on: the browser sends it, "Accept all" leaves
  // targeting off.
  const gpcBrowser = await launch(true);
  try {
    const { ctx, page, errors } = await open(gpcBrowser, cfg.sites.gpc);
    const navigatorGPC = await page.evaluate('navigator.globalPrivacyControl');
    await clickButton(page, 'Accept all');
    const d = await confirmed(page);
    out.gpc = { navigatorGPC, decision: d, cookies: await cookies(page), errors };
    await ctx.close();
  } finally {
    await gpcBrowser.close();
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
