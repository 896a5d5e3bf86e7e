package trackerjs_test

// Browser tests of t.js: headless Chromium against the real crumb server.
// Each scenario checks what the browser holds (cookies, DOM, JS state,
// console) and what reached crumb and ClickHouse.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/testkit/crumbtest"
)

func TestBrowser(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *harness)
	}{
		{"NothingBeforeDecision", testNothingBeforeDecision},
		{"RejectAll", testRejectAll},
		{"AcceptAll", testAcceptAll},
		{"CustomizePerformanceOnly", testCustomize},
		{"Withdraw", testWithdraw},
		{"PolicyChanged", testPolicyChanged},
		{"DecisionOnAnOlderBanner", testOlderBanner},
		{"LifetimeExpired", testLifetimeExpired},
		{"GPC", testGPC},
		{"GPCAfterAccept", testGPCAfterAccept},
		{"ConsentModeOrder", testConsentMode},
		{"SPANavigation", testSPA},
		{"NoReferrerPolicy", testNoReferrer},
		{"EngagementOnPageHide", testEngagement},
		{"EventTypes", testEventTypes},
		{"Keyboard", testKeyboard},
		{"ServerUnreachable", testServerUnreachable},
		{"DecisionWhileServerDown", testDecisionWhileDown},
		{"German", testGerman},
		{"Impressions", testImpressions},
		{"Localhost", testLocalhost},
		{"IncludedTwice", testIncludedTwice},
		{"QueueAndEvents", testQueue},
		{"AnonymousCounting", testAnonymous},
		{"NarrowScreen", testNarrow},
		{"DemoSite", testDemo},
		{"StrictCSP", testStrictCSP},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, h) })
	}
}

// decisionRow is a stored consent decision.
type decisionRow struct {
	ConsentID                           uuid.UUID
	Action, TextsHash, Language, Path   string
	Policy                              uint32
	Performance, Functionality, Targets uint8
	GPC                                 uint8
}

func (h *harness) decisions(t *testing.T, site string) []decisionRow {
	t.Helper()
	h.flush(t)
	rows, err := h.db.Conn().Query(context.Background(), `SELECT consent_id, toString(action), texts_hash, language, path, policy_version,
		performance, functionality, targeting, gpc FROM consent_decisions WHERE site_id = ? ORDER BY ts, action`, site)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []decisionRow
	for rows.Next() {
		var d decisionRow
		if err := rows.Scan(&d.ConsentID, &d.Action, &d.TextsHash, &d.Language, &d.Path, &d.Policy, &d.Performance, &d.Functionality, &d.Targets, &d.GPC); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// eventRow is a stored event.
type eventRow struct {
	Type, Host, Path, RefHost, RefPath, Browser, Device, Screen, Lang string
	Visitor, Session, Consent                                         uuid.UUID
	Name, Term, Link                                                  string
	Keys, Values                                                      []string
	Duration                                                          uint32
	Status                                                            uint16
}

func (h *harness) events(t *testing.T, site string) []eventRow {
	t.Helper()
	h.flush(t)
	rows, err := h.db.Conn().Query(context.Background(), `SELECT toString(type), hostname, path, referrer_host, referrer_path, browser, device, screen,
		language, visitor_id, session_id, consent_id, name, search_term, link_url, prop_keys, prop_values, duration_ms, status
		FROM events WHERE site_id = ? ORDER BY ts, type`, site)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var e eventRow
		if err := rows.Scan(&e.Type, &e.Host, &e.Path, &e.RefHost, &e.RefPath, &e.Browser, &e.Device, &e.Screen, &e.Lang,
			&e.Visitor, &e.Session, &e.Consent, &e.Name, &e.Term, &e.Link, &e.Keys, &e.Values, &e.Duration, &e.Status); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func eventsOfType(es []eventRow, typ string) []eventRow {
	var out []eventRow
	for _, e := range es {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// acceptAll loads page p and clicks "Accept all"; it returns once the page
// view has reached crumb.
func (tb *tab) acceptAll(p string) {
	tb.T.Helper()
	tb.open(p)
	tb.WaitJS("the banner", firstLayer)
	tb.Click(button(firstLayer, "Accept all"))
	tb.h.waitEvents(tb.T, tb.site, "pageview", 1)
}

func testNothingBeforeDecision(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site, withInit(`window.globalsBefore = Object.getOwnPropertyNames(window)`))
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	h.waitRequests(t, site, "/api/impressions", 1)

	// No globals but window.crumb (log, dataLayer, gtag and the frame are the page's own).
	globals := eval[[]string](tb, `Object.getOwnPropertyNames(window).filter(k => !globalsBefore.includes(k) &&
		!['globalsBefore', 'log', 'dataLayer', 'gtag', 'frame', '0'].includes(k))`)
	if !slices.Equal(globals, []string{"crumb"}) {
		t.Errorf("new globals: %q", globals)
	}

	// The first layer: a labelled, described, non-modal dialog with focus in it.
	dlg := eval[map[string]string](tb, `(() => { const d = `+firstLayer+`; return {role: d.getAttribute('role'), modal: d.getAttribute('aria-modal'),
		label: d.getRootNode().getElementById(d.getAttribute('aria-labelledby')).textContent,
		desc: d.getRootNode().getElementById(d.getAttribute('aria-describedby')).textContent,
		focused: String(`+focused+` === d), buttons: [...d.querySelectorAll('button')].map(b => b.textContent).join('|'),
		policy: d.querySelector('a').href} })()`)
	want := map[string]string{"role": "dialog", "modal": "false", "label": "Cookies on this site", "focused": "true",
		"buttons": "Accept all|Reject all|Customize", "policy": "https://shop.test/privacy"}
	for k, v := range want {
		if dlg[k] != v {
			t.Errorf("first layer %s = %q, want %q", k, dlg[k], v)
		}
	}
	if !strings.Contains(dlg["desc"], "strictly necessary") {
		t.Errorf("description: %q", dlg["desc"])
	}
	// Equal weight: the three buttons look the same.
	styles := eval[[]string](tb, `[...`+firstLayer+`.querySelectorAll('button')].map(b => { const s = getComputedStyle(b), r = b.getBoundingClientRect();
		return [s.backgroundColor, s.color, s.fontSize, s.fontWeight, s.borderTopWidth, Math.round(r.width), Math.round(r.height)].join() })`)
	if len(styles) != 3 || styles[0] != styles[1] || styles[1] != styles[2] {
		t.Errorf("buttons differ: %q", styles)
	}
	// The page stays usable: the banner does not cover it and is not modal.
	if got := eval[string](tb, `document.elementFromPoint(100, 60).id || document.elementFromPoint(100, 60).tagName`); got == "CRUMB-CONSENT" {
		t.Error("the banner covers the top of the page")
	}
	tb.Click(`document.getElementById('field')`)
	tb.Key("abc")
	if got := eval[string](tb, `document.getElementById('field').value`); got != "abc" {
		t.Errorf("typing into the page gave %q", got)
	}

	if got := eval[[]string](tb, `log`); len(got) != 0 {
		t.Errorf("gated tags ran before a decision: %v", got)
	}
	if got := eval[bool](tb, `!!document.getElementById('frame').getAttribute('src')`); got {
		t.Error("gated iframe loaded before a decision")
	}
	for name := range tb.cookies() {
		t.Errorf("cookie %q set before a decision", name)
	}
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["decided"] != false || got["performance"] != false || got["necessary"] != true {
		t.Errorf("get() = %v", got)
	}
	h.quiet(t, site, 0)
	if n := len(h.requests(site, "/api/consent")); n != 0 {
		t.Errorf("%d decisions sent without a click", n)
	}
	tb.NoPageErrors()
}

func testRejectAll(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	time.Sleep(300 * time.Millisecond) // the visitor reads the banner
	tb.Click(button(firstLayer, "Reject all"))
	h.waitRequests(t, site, "/api/consent", 1)
	// The decision says how long the banner was shown; the stored one
	// does not keep it.
	if ms, _ := h.requests(site, "/api/consent")[0].Body["decision_ms"].(float64); ms < 300 || ms > 60_000 {
		t.Errorf("decision_ms = %v, want the time the banner was shown", h.requests(site, "/api/consent")[0].Body["decision_ms"])
	}

	st := tb.confirmed()
	if st == nil || len(st["c"].([]any)) != 0 || st["v"] != float64(1) {
		t.Fatalf("stored decision: %v", st)
	}
	if _, kept := st["m"]; kept {
		t.Errorf("the stored decision keeps the time to decision: %v", st)
	}
	c := tb.cookies()
	for _, n := range []string{"crumb_vid", "crumb_sid"} {
		if _, ok := c[n]; ok {
			t.Errorf("cookie %s set after reject all", n)
		}
	}
	cc := c["crumb_consent"]
	if cc.Path != "/" || cc.SameSite != "Lax" || cc.Secure {
		t.Errorf("consent cookie attributes: path %q samesite %q secure %v", cc.Path, cc.SameSite, cc.Secure)
	}
	// A refusal lasts as long as a consent: the site's lifetime (182 days).
	if days := (time.Unix(int64(cc.Expires), 0).Sub(time.Now()).Hours()) / 24; days < 181 || days > 183 {
		t.Errorf("consent cookie expires in %.1f days, want 182", days)
	}
	tb.WaitJS("the settings button", fab)
	if got := eval[bool](tb, `!!`+firstLayer); got {
		t.Error("first layer still shown after the decision")
	}

	// Next page: no banner, nothing runs, nothing is sent.
	tb.open("page.html")
	tb.WaitJS("the settings button", fab)
	if got := eval[bool](tb, `!!`+firstLayer); got {
		t.Error("banner shown again after a refusal")
	}
	if got := eval[[]string](tb, `log`); len(got) != 0 {
		t.Errorf("gated tags ran after reject all: %v", got)
	}
	h.quiet(t, site, 0)

	ds := h.decisions(t, site)
	if len(ds) != 1 || ds[0].Action != "reject_all" || ds[0].Performance+ds[0].Functionality+ds[0].Targets != 0 ||
		ds[0].ConsentID.String() != st["id"] || ds[0].TextsHash == "" || ds[0].Path != "/s/"+site+"/page.html" {
		t.Errorf("decisions: %+v", ds)
	}
	if n := h.count(t, `SELECT count() FROM events WHERE site_id = ?`, site); n != 0 {
		t.Errorf("%d events stored after reject all", n)
	}
	if n := len(h.requests(site, "/api/impressions")); n != 1 {
		t.Errorf("%d impressions, want 1", n)
	}
	tb.NoPageErrors()
}

func testAcceptAll(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html")
	tb.WaitJS("the gated tags", `log.length == 3`)
	if got := eval[[]string](tb, `log`); !slices.Equal(got, []string{"perf-external", "perf-inline", "targeting"}) {
		t.Errorf("gated tags ran as %v", got)
	}
	tb.WaitJS("the gated iframe", `document.getElementById('frame').contentDocument && document.getElementById('frame').contentDocument.getElementById('in-frame')`)

	c := tb.cookies()
	vid, sid := c["crumb_vid"], c["crumb_sid"]
	if vid == nil || sid == nil {
		t.Fatalf("no visitor/session cookie: %v", c)
	}
	if _, err := uuid.Parse(vid.Value); err != nil || uuid.MustParse(vid.Value).Version() != 4 {
		t.Errorf("visitor id %q is not a UUID v4", vid.Value)
	}
	if days := time.Until(time.Unix(int64(vid.Expires), 0)).Hours() / 24; days < 181 || days > 183 {
		t.Errorf("visitor cookie lasts %.1f days, want the consent's 182", days)
	}
	if mins := time.Until(time.Unix(int64(sid.Expires), 0)).Minutes(); mins < 29 || mins > 31 {
		t.Errorf("session cookie lasts %.1f minutes, want 30", mins)
	}
	st := tb.stored()
	if st["k"] == nil || st["k"] == "" || st["p"] != float64(0) {
		t.Errorf("stored decision has no token: %v", st)
	}
	got := eval[map[string]any](tb, `crumb.consent.get()`)
	if got["decided"] != true || got["performance"] != true || got["targeting"] != true || got["consentId"] != st["id"] || got["policyVersion"] != float64(1) {
		t.Errorf("get() = %v", got)
	}

	es := h.events(t, site)
	pv := eventsOfType(es, "pageview")
	if len(pv) != 1 {
		t.Fatalf("page views: %+v", es)
	}
	e := pv[0]
	if e.Path != "/s/"+site+"/page.html" || e.Host != "www.shop.test" || e.Browser != "Chrome" || e.Device != "desktop" ||
		e.Screen == "" || e.Lang != "en-US" || e.Visitor.String() != vid.Value || e.Session.String() != sid.Value || e.Consent.String() != st["id"] {
		t.Errorf("page view: %+v", e)
	}
	ds := h.decisions(t, site)
	if len(ds) != 1 || ds[0].Action != "accept_all" || ds[0].Performance+ds[0].Functionality+ds[0].Targets != 3 || ds[0].GPC != 0 || ds[0].Language != "en" {
		t.Errorf("decisions: %+v", ds)
	}

	// Next page: the stored decision applies at once, with no banner.
	tb.open("page.html")
	tb.WaitJS("the gated tags", `log.length == 3`)
	tb.WaitJS("the settings button", fab)
	if eval[bool](tb, `!!`+firstLayer) {
		t.Error("banner shown again after accept all")
	}
	h.waitEvents(t, site, "pageview", 2)
	tb.NoPageErrors()
}

func testCustomize(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	tb.Click(button(firstLayer, "Customize"))
	tb.WaitJS("the settings", settings)

	// Nothing pre-ticked; necessary on and disabled.
	sw := eval[[]string](tb, `[...`+settings+`.querySelectorAll('input')].map(i => [i.id, i.getAttribute('role'), i.checked, i.disabled].join())`)
	want := []string{"cr-necessary,switch,true,true", "cr-performance,switch,false,false", "cr-functionality,switch,false,false", "cr-targeting,switch,false,false"}
	if !slices.Equal(sw, want) {
		t.Errorf("switches: %q", sw)
	}
	// Cookie lists.
	cookies := eval[string](tb, settings+`.querySelectorAll('details')[1].textContent`)
	// Crumb's own two (the visitor's and the visit's random IDs) and the
	// site's three.
	for _, s := range []string{"Cookies (5)", "crumb_vid", "crumb_sid", "30 minutes", "_ga", "Google", "Distinguishes visitors", "2 years"} {
		if !strings.Contains(cookies, s) {
			t.Errorf("performance cookie list %q lacks %q", cookies, s)
		}
	}
	tb.Click(settings + `.querySelector('#cr-performance')`)
	tb.Click(button(settings, "Save choices"))
	h.waitEvents(t, site, "pageview", 1)
	tb.WaitJS("the performance tags", `log.length == 2`)
	time.Sleep(300 * time.Millisecond)
	if got := eval[[]string](tb, `log`); !slices.Equal(got, []string{"perf-external", "perf-inline"}) {
		t.Errorf("gated tags ran as %v", got)
	}
	if eval[bool](tb, `!!document.getElementById('frame').getAttribute('src')`) {
		t.Error("functionality iframe loaded without consent")
	}
	ds := h.decisions(t, site)
	if len(ds) != 1 || ds[0].Action != "custom" || ds[0].Performance != 1 || ds[0].Functionality != 0 || ds[0].Targets != 0 {
		t.Errorf("decisions: %+v", ds)
	}
	// Reopened, the settings show the choice.
	tb.Click(fab)
	tb.WaitJS("the settings", settings)
	sw = eval[[]string](tb, `[...`+settings+`.querySelectorAll('input')].map(i => String(i.checked))`)
	if !slices.Equal(sw, []string{"true", "true", "false", "false"}) {
		t.Errorf("switches after the choice: %v", sw)
	}
	tb.NoPageErrors()
}

func testWithdraw(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html")
	tb.WaitJS("the gated tags", `log.length == 3`)
	tb.Do(`document.cookie = 'session_id=s1;path=/'; document.cookie = '_fn=zoom;path=/'`)
	before := tb.cookies()
	for _, n := range []string{"_ga", "_ga_ABC", "_perf", "_ads", "_ads_wide", "_fn", "crumb_vid", "crumb_sid"} {
		if before[n] == nil {
			t.Fatalf("cookie %s missing before the withdrawal: %v", n, before)
		}
	}
	n := len(h.eventsOf(site, ""))
	tb.Do(`crumb.consent.withdraw()`)
	after := tb.cookies()
	for _, n := range []string{"_ga", "_ga_ABC", "_perf", "_ads", "_ads_wide", "_fn", "crumb_vid", "crumb_sid"} {
		if c := after[n]; c != nil {
			t.Errorf("cookie %s (domain %s) kept after the withdrawal", n, c.Domain)
		}
	}
	if after["session_id"] == nil || after["crumb_consent"] == nil {
		t.Errorf("necessary cookies lost: %v", after)
	}
	// Nothing more is sent.
	tb.Do(`crumb.track('after', {x: '1'}); history.pushState({}, '', 'elsewhere.html')`)
	h.quiet(t, site, n)
	h.waitRequests(t, site, "/api/consent", 2)
	ds := h.decisions(t, site)
	if len(ds) != 2 || ds[1].Action != "withdraw" || ds[1].Performance+ds[1].Functionality+ds[1].Targets != 0 || ds[1].ConsentID != ds[0].ConsentID {
		t.Errorf("decisions: %+v", ds)
	}
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["performance"] != false || got["decided"] != true {
		t.Errorf("get() after withdraw = %v", got)
	}
	tb.NoPageErrors()
}

// A visitor who decides on a banner shown before the site published a new
// policy: the proof names the banner they saw (its hash, under the older
// version), not the new one nor none.
func testOlderBanner(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	s := h.site(t, site)
	s.PolicyVersion = 2
	s.Banner.Texts = map[string]map[string]string{"en": {"title": "New cookies"}}
	s.UpdatedAt = time.Now()
	h.putSite(t, s)
	tb.Click(button(firstLayer, "Reject all"))
	req := h.waitRequests(t, site, "/api/consent", 1)[0]
	shown, _ := req.Body["texts_hash"].(string)
	ds := h.decisions(t, site)
	if shown == "" || len(ds) != 1 || ds[0].Policy != 1 || ds[0].TextsHash != shown {
		t.Errorf("sent %q; stored %+v; kept %d", shown, ds, h.count(t, "SELECT count() FROM banner_versions WHERE site_id = ? AND texts_hash = ?", site, shown))
	}
	tb.NoPageErrors()
}

func testPolicyChanged(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html")

	s := h.site(t, site)
	s.PolicyVersion = 2
	s.UpdatedAt = time.Now()
	h.putSite(t, s)

	// The page still open: its next events are refused, it stops and asks again.
	n := len(h.eventsOf(site, ""))
	tb.Do(`crumb.track('after-bump')`)
	tb.WaitJS("the banner again", firstLayer)
	if txt := eval[string](tb, firstLayer+`.textContent`); !strings.Contains(txt, "Our privacy policy has changed") {
		t.Errorf("no changed notice: %q", txt)
	}
	if r := h.requests(site, "/api/events"); r[len(r)-1].Status != 403 {
		t.Errorf("last events request answered %d, want 403", r[len(r)-1].Status)
	}
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["decided"] != false {
		t.Errorf("get() = %v", got)
	}
	tb.Do(`crumb.track('after-refusal')`)
	h.quiet(t, site, n+1)

	// A new page: the banner with the notice, and nothing sent.
	tb.clearCache()
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	if txt := eval[string](tb, firstLayer+`.textContent`); !strings.Contains(txt, "Our privacy policy has changed") {
		t.Errorf("no changed notice on the next page: %q", txt)
	}
	if got := eval[[]string](tb, `log`); len(got) != 0 {
		t.Errorf("gated tags ran under the old policy: %v", got)
	}
	h.quiet(t, site, n+1)
	tb.Click(button(firstLayer, "Accept all"))
	h.waitEvents(t, site, "pageview", 2)
	ds := h.decisions(t, site)
	if len(ds) != 2 || ds[1].Policy != 2 || ds[1].TextsHash == "" {
		t.Errorf("decisions: %+v", ds)
	}
	if st := tb.stored(); st["v"] != float64(2) {
		t.Errorf("stored policy version %v", st["v"])
	}
	tb.NoPageErrors("403")
}

func testLifetimeExpired(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html")
	// Age the decision past the 182 days.
	tb.Do(`(() => { const c = document.cookie.split('; ').find(c => c.startsWith('crumb_consent=')).slice(14);
		const x = JSON.parse(decodeURIComponent(c)); x.t -= 183 * 864e5;
		document.cookie = 'crumb_consent=' + encodeURIComponent(JSON.stringify(x)) + ';path=/;max-age=86400'; })()`)
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	if txt := eval[string](tb, firstLayer+`.textContent`); strings.Contains(txt, "has changed") {
		t.Errorf("expired decision shown as a policy change: %q", txt)
	}
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["decided"] != false {
		t.Errorf("get() = %v", got)
	}
	if got := eval[[]string](tb, `log`); len(got) != 0 {
		t.Errorf("gated tags ran on an expired decision: %v", got)
	}
	h.quietType(t, site, "pageview", 1)
	tb.NoPageErrors()
}

const gpcOn = `Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true, configurable: true});`

func testGPC(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site, withInit(gpcOn))
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	if txt := eval[string](tb, firstLayer+`.textContent`); !strings.Contains(txt, "Global Privacy Control") {
		t.Errorf("no GPC note: %q", txt)
	}
	imp := h.waitRequests(t, site, "/api/impressions", 1)
	if imp[0].Body["gpc"] != true {
		t.Errorf("impression without gpc: %v", imp[0].Body)
	}
	tb.Click(button(firstLayer, "Accept all"))
	h.waitEvents(t, site, "pageview", 1)
	tb.WaitJS("the performance tags", `log.length == 2`)
	time.Sleep(200 * time.Millisecond)
	if got := eval[[]string](tb, `log`); slices.Contains(got, "targeting") {
		t.Errorf("targeting ran under GPC: %v", got)
	}
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["targeting"] != false || got["performance"] != true {
		t.Errorf("get() = %v", got)
	}
	// The settings show targeting off, with the note; turning it on is an explicit choice.
	tb.Click(fab)
	tb.WaitJS("the settings", settings)
	if eval[bool](tb, settings+`.querySelector('#cr-targeting').checked`) {
		t.Error("targeting switched on under GPC")
	}
	if txt := eval[string](tb, settings+`.textContent`); !strings.Contains(txt, "Global Privacy Control") {
		t.Error("no GPC note in the settings")
	}
	// Scrolled to the middle of the dialog first, clear of its sticky
	// buttons, as a visitor scrolls to it.
	tb.Do(settings + `.querySelector('#cr-targeting').scrollIntoView({block: 'center'})`)
	tb.Click(settings + `.querySelector('#cr-targeting')`)
	tb.Click(button(settings, "Save choices"))
	tb.WaitJS("the targeting tag", `log.includes('targeting')`)
	h.waitRequests(t, site, "/api/consent", 2)
	ds := h.decisions(t, site)
	if len(ds) != 2 || ds[0].Action != "accept_all" || ds[0].GPC != 1 || ds[0].Targets != 0 || ds[0].Performance != 1 ||
		ds[1].Action != "custom" || ds[1].GPC != 1 || ds[1].Targets != 1 {
		t.Errorf("decisions: %+v", ds)
	}
	tb.NoPageErrors()
}

// A visitor who accepted everything and later turns Global Privacy Control
// on has opted out of targeting: on the next page the targeting tag does
// not run, its category is off, and the opt-out is recorded as a decision
// under the same consent, with no question asked.
func testGPCAfterAccept(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html")
	tb.WaitJS("the targeting tag", `log.includes('targeting')`)
	withInit(gpcOn)(tb)
	tb.open("page.html")
	h.waitRequests(t, site, "/api/consent", 2)
	time.Sleep(200 * time.Millisecond)
	if got := eval[[]string](tb, `log`); slices.Contains(got, "targeting") {
		t.Errorf("targeting ran after GPC was turned on: %v", got)
	}
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["targeting"] != false || got["performance"] != true {
		t.Errorf("get() = %v", got)
	}
	if eval[bool](tb, firstLayer+` != null`) {
		t.Error("the banner asked again")
	}
	ds := h.decisions(t, site)
	if len(ds) != 2 || ds[0].Action != "accept_all" || ds[0].Targets != 1 || ds[0].GPC != 0 ||
		ds[1].Action != "custom" || ds[1].Targets != 0 || ds[1].Performance != 1 || ds[1].GPC != 1 || ds[1].ConsentID != ds[0].ConsentID {
		t.Errorf("decisions: %+v", ds)
	}
	// Pages after that keep it, without another decision.
	tb.open("page.html")
	time.Sleep(300 * time.Millisecond)
	if n := len(h.requests(site, "/api/consent")); n != 2 {
		t.Errorf("%d decisions sent, want 2", n)
	}
	tb.NoPageErrors()
}

// dataLayerJS describes the dataLayer: "consent:default:<analytics_storage>:<ad_storage>" for
// Consent Mode calls, the event name for pushed objects.
const dataLayerJS = `dataLayer.map(x => Object.prototype.toString.call(x) == '[object Arguments]' ?
	(x[0] == 'consent' ? x[0] + ':' + x[1] + ':' + x[2].analytics_storage + ':' + x[2].ad_storage : x[0]) : x.event)`

func testConsentMode(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	for _, p := range []string{"page.html", "datalayer.html"} {
		t.Run(p, func(t *testing.T) {
			tb := h.newTab(t, site)
			tb.open(p)
			tb.WaitJS("the banner", firstLayer)
			got := eval[[]string](tb, dataLayerJS)
			want := []string{"consent:default:denied:denied"}
			if p == "page.html" {
				want = []string{"js", "consent:default:denied:denied"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("before the decision: %q, want %q", got, want)
			}
			def := eval[map[string]any](tb, `[...dataLayer].find(x => x[1] == 'default')[2]`)
			if def["security_storage"] != "granted" || def["wait_for_update"] != float64(500) || def["ad_user_data"] != "denied" ||
				def["ad_personalization"] != "denied" || def["functionality_storage"] != "denied" || def["personalization_storage"] != "denied" {
				t.Errorf("default: %v", def)
			}
			tb.Click(button(firstLayer, "Accept all"))
			tb.WaitJS("the targeting tag", `dataLayer.some(x => x.event == 'targeting-tag')`)
			want = append(want, "consent:update:granted:granted", "targeting-tag")
			if got := eval[[]string](tb, dataLayerJS); !slices.Equal(got, want) {
				t.Errorf("after accept all: %q, want %q", got, want)
			}
			upd := eval[map[string]any](tb, `[...dataLayer].find(x => x[1] == 'update')[2]`)
			for _, k := range []string{"ad_storage", "ad_user_data", "ad_personalization", "analytics_storage", "functionality_storage", "personalization_storage"} {
				if upd[k] != "granted" {
					t.Errorf("update %s = %v", k, upd[k])
				}
			}
			// With a stored decision: default, then update, before the tag.
			tb.open(p)
			tb.WaitJS("the targeting tag", `dataLayer.some(x => x.event == 'targeting-tag')`)
			if got := eval[[]string](tb, dataLayerJS); !slices.Equal(got, want) {
				t.Errorf("next page: %q, want %q", got, want)
			}
		})
	}
}

func testSPA(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html")
	tb.Do(`history.pushState({}, '', 'spa-two.html')`)
	h.waitEvents(t, site, "pageview", 2)
	tb.Do(`history.replaceState({}, '', 'spa-two.html?tab=2')`) // same path: not a new page view
	tb.Do(`history.pushState({}, '', 'spa-three.html')`)
	h.waitEvents(t, site, "pageview", 3)
	tb.Do(`history.back()`)
	h.waitEvents(t, site, "pageview", 4)
	h.quiet(t, site, len(h.eventsOf(site, "")))

	pv := eventsOfType(h.events(t, site), "pageview")
	var paths, refs []string
	for _, e := range pv {
		paths = append(paths, strings.TrimPrefix(e.Path, "/s/"+site+"/"))
		refs = append(refs, strings.TrimPrefix(e.RefPath, "/s/"+site+"/"))
	}
	if !slices.Equal(paths, []string{"page.html", "spa-two.html", "spa-three.html", "spa-two.html"}) {
		t.Errorf("page view paths: %q", paths)
	}
	if !slices.Equal(refs[1:], []string{"page.html", "spa-two.html", "spa-three.html"}) {
		t.Errorf("page view referrers: %q", refs)
	}
	// Each navigation reports the time spent on the page before it.
	if eng := h.eventsOf(site, "engagement"); len(eng) < 3 {
		t.Errorf("engagement events: %v", eng)
	}
	tb.NoPageErrors()
}

// On a site that sends Referrer-Policy: no-referrer, the browser sends no
// referrer from one page of the site to the next. The second page view of
// a visit is still a step inside it, not a Direct arrival: the channel
// panel lists the visit once. A visit that starts anew is Direct again.
func testNoReferrer(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	// The visit arrives from a Google search.
	if _, err := chromedp.Call(tb.Ctx, page.Navigate, page.NavigateParams{URL: tb.url("page.html?referrer-policy=no-referrer"), Referrer: "http://www.google.com/"}); err != nil {
		t.Fatal(err)
	}
	tb.WaitJS("the banner", firstLayer)
	tb.Click(button(firstLayer, "Accept all"))
	h.waitEvents(t, site, "pageview", 1)
	tb.Do(`location.href = 'page.html?referrer-policy=no-referrer&p=2'`) // a link's navigation
	h.waitEvents(t, site, "pageview", 2)
	tb.WaitJS("the second page", `location.search.includes('p=2') && window.crumb && document.readyState == 'complete'`)
	if ref := eval[string](tb, `document.referrer`); ref != "" {
		t.Fatalf("document.referrer %q under no-referrer", ref)
	}
	// 30 minutes later: the session cookie has lapsed. (Leaving the page
	// sends its engagement, which keeps the session alive: the cookie goes
	// after that.)
	tb.Navigate("about:blank")
	h.waitEvents(t, site, "engagement", 2)
	if _, err := chromedp.Call(tb.Ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "crumb_sid", URL: tb.url("")}); err != nil {
		t.Fatal(err)
	}
	if c, ok := tb.cookies()["crumb_sid"]; ok {
		t.Fatalf("session cookie still set: %s", c.Value)
	}
	tb.open("page.html?referrer-policy=no-referrer&p=3")
	h.waitEvents(t, site, "pageview", 3)
	h.quiet(t, site, len(h.eventsOf(site, "")))

	var sent []bool
	for _, e := range h.eventsOf(site, "pageview") {
		c, _ := e["continued"].(bool)
		sent = append(sent, c)
	}
	if !slices.Equal(sent, []bool{false, true, false}) {
		t.Errorf("page views marked continued: %v, want [false true false]", sent)
	}
	h.flush(t)
	rows, err := h.db.Conn().Query(context.Background(), `SELECT path, channel FROM events WHERE site_id = ? AND type = 'pageview' ORDER BY ts`, site)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var p, ch string
		if err := rows.Scan(&p, &ch); err != nil {
			t.Fatal(err)
		}
		got = append(got, ch)
	}
	if !slices.Equal(got, []string{"Organic Search", "Internal", "Direct"}) {
		t.Errorf("stored channels %q, want [Organic Search Internal Direct]", got)
	}
	// The channel panel's visits: the first visit under Organic Search
	// alone, the second under Direct.
	for ch, want := range map[string]uint64{"Organic Search": 1, "Direct": 1} {
		if n := h.count(t, `SELECT toUInt64(uniqExact(session_id)) FROM events WHERE site_id = ? AND type = 'pageview' AND channel = ?`, site, ch); n != want {
			t.Errorf("%s visits: %d, want %d", ch, n, want)
		}
	}
	tb.NoPageErrors()
}

func testEngagement(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html")
	time.Sleep(1200 * time.Millisecond)
	tb.Navigate("about:blank")
	eng := h.waitEvents(t, site, "engagement", 1)
	if d, _ := eng[0]["duration"].(float64); d < 1000 || d > 10000 {
		t.Errorf("engagement duration %v ms", eng[0]["duration"])
	}
	es := eventsOfType(h.events(t, site), "engagement")
	if len(es) != 1 || es[0].Duration < 1000 || es[0].Path != "/s/"+site+"/page.html" {
		t.Errorf("stored engagement: %+v", es)
	}
}

func testEventTypes(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.acceptAll("page.html?q=blue+shoes&utm_source=news")
	h.waitEvents(t, site, "search", 1)
	tb.Do(`crumb.track('signup', {plan: 'pro', seats: 3, empty: null})`)
	tb.Click(`document.getElementById('pdf')`)
	tb.Click(`document.getElementById('bin')`)
	tb.Click(`document.getElementById('inside')`) // same host, not a download: nothing
	h.waitEvents(t, site, "download", 2)
	tb.Click(`document.getElementById('out')`) // leaves the page: the beacon carries it
	h.waitEvents(t, site, "outbound", 1)
	tb.open("notfound.html")
	h.waitEvents(t, site, "error", 1)

	es := h.events(t, site)
	find := func(typ string) []eventRow { return eventsOfType(es, typ) }
	if s := find("search"); len(s) != 1 || s[0].Term != "blue shoes" {
		t.Errorf("search: %+v", s)
	}
	if c := find("custom"); len(c) != 1 || c[0].Name != "signup" || !slices.Equal(c[0].Keys, []string{"plan", "seats"}) || !slices.Equal(c[0].Values, []string{"pro", "3"}) {
		t.Errorf("custom: %+v", c)
	}
	d := find("download")
	if len(d) != 2 || d[0].Link != fmt.Sprintf("http://www.shop.test:%s/files/report.pdf", h.port) || !strings.HasSuffix(d[1].Link, "/files/data.bin") {
		t.Errorf("downloads: %+v", d)
	}
	if o := find("outbound"); len(o) != 1 || o[0].Link != "https://partner.example/offer" {
		t.Errorf("outbound: %+v", o)
	}
	if e := find("error"); len(e) != 1 || e[0].Status != 404 || e[0].Path != "/s/"+site+"/notfound.html" {
		t.Errorf("error: %+v", e)
	}
	if n := len(find("pageview")); n != 2 {
		t.Errorf("%d page views, want 2", n)
	}
	for _, e := range es {
		if e.Visitor == uuid.Nil || e.Session == uuid.Nil {
			t.Errorf("event without IDs: %+v", e)
		}
	}
	// Events that happen together travel together.
	if r := h.requests(site, "/api/events"); len(r[0].events()) != 2 {
		t.Errorf("first request carried %d events, want the page view and the search", len(r[0].events()))
	}
}

func testKeyboard(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	focus := func() string {
		return eval[string](tb, `(() => { const f = `+focused+`; return !f ? '' : f.getAttribute('role') == 'dialog' ? 'dialog ' + f.className :
			(f.id || f.getAttribute('aria-label') || f.textContent) })()`)
	}
	expect := func(want string) {
		t.Helper()
		if got := focus(); got != want {
			t.Fatalf("focus on %q, want %q", got, want)
		}
	}
	// Focus is in the first layer; Tab walks its link and buttons.
	expect("dialog b")
	tb.Key(kb.Tab)
	expect("Privacy policy")
	tb.Key(kb.Tab)
	expect("Accept all")
	tb.Key(kb.Tab)
	expect("Reject all")
	tb.Key(kb.Tab)
	expect("Customize")
	tb.Key(kb.Enter)
	tb.WaitJS("the settings", settings)
	if eval[string](tb, settings+`.getAttribute('aria-modal')`) != "true" {
		t.Error("settings are not a modal dialog")
	}
	expect("dialog b m")
	// Tab goes round inside the dialog.
	var ring []string
	for range 12 {
		tb.Key(kb.Tab)
		ring = append(ring, focus())
	}
	wantRing := []string{"Close", "Cookies (2)", "cr-performance", "Cookies (5)", "cr-functionality", "Cookies (1)", "cr-targeting", "Cookies (2)",
		"Save choices", "Accept all", "Reject all", "Close"}
	if !slices.Equal(ring[:len(wantRing)], wantRing) {
		t.Fatalf("Tab order in the settings: %q", ring)
	}
	// Shift+Tab from the first element goes round to the last.
	tb.Key(kb.Tab, kb.ModifierShift)
	expect("Reject all")
	tb.Key(kb.Tab, kb.ModifierShift)
	expect("Accept all")
	// Escape goes back to the first layer, to the button that opened the settings.
	tb.Key(kb.Escape)
	tb.WaitJS("the first layer", firstLayer)
	expect("Customize")
	tb.Key(kb.Enter)
	tb.WaitJS("the settings", settings)
	tb.Key(kb.Tab)
	tb.Key(kb.Tab)
	tb.Key(kb.Tab)
	expect("cr-performance")
	tb.Key(" ")
	if !eval[bool](tb, settings+`.querySelector('#cr-performance').checked`) {
		t.Fatal("Space did not switch performance on")
	}
	tb.Key(kb.Tab) // cookies of performance
	tb.Key(kb.Enter)
	if !eval[bool](tb, settings+`.querySelectorAll('details')[1].open`) {
		t.Error("Enter did not open the cookie list")
	}
	for focus() != "Save choices" {
		tb.Key(kb.Tab)
	}
	tb.Key(kb.Enter)
	h.waitRequests(t, site, "/api/consent", 1)
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["performance"] != true || got["functionality"] != false {
		t.Errorf("get() = %v", got)
	}
	tb.WaitJS("the settings button", fab)
	if eval[bool](tb, `!!`+settings+` || !!`+firstLayer) {
		t.Error("banner still open")
	}
	// The settings button is reachable by keyboard and gets focus back after Escape.
	for i := 0; focus() != "Cookie settings"; i++ {
		if i > 20 {
			t.Fatal("Tab never reached the settings button")
		}
		tb.Key(kb.Tab)
	}
	tb.Key(kb.Enter)
	tb.WaitJS("the settings", settings)
	tb.Key(kb.Escape)
	tb.WaitJS("the settings closed", `!`+settings)
	expect("Cookie settings")
	// A visible focus ring.
	if o := eval[string](tb, `getComputedStyle(`+fab+`).outlineStyle`); o != "solid" {
		t.Errorf("focused settings button outline %q", o)
	}
	tb.NoPageErrors()
}

func testServerUnreachable(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.open("down.html")
	tb.Do(`crumb.track('x', {a: 'b'}); crumb.consent.show(); crumb.consent.get()`)
	time.Sleep(500 * time.Millisecond)
	if ex := tb.Exceptions(); len(ex) != 0 {
		t.Errorf("uncaught errors: %q", ex)
	}
	if eval[bool](tb, `!!document.querySelector('crumb-consent')`) {
		t.Error("banner shown without a configuration")
	}
	if got := eval[map[string]any](tb, `crumb.consent.get()`); got["decided"] != false {
		t.Errorf("get() = %v", got)
	}
}

func testDecisionWhileDown(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	h.failConsent.Store(true)
	defer h.failConsent.Store(false)
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	tb.Click(button(firstLayer, "Accept all"))
	h.waitRequests(t, site, "/api/consent", 1)
	time.Sleep(300 * time.Millisecond)
	if st := tb.stored(); st["p"] != float64(1) || st["k"] != nil {
		t.Errorf("decision not marked as unsent: %v", st)
	}
	if ex := tb.Exceptions(); len(ex) != 0 {
		t.Errorf("uncaught errors: %q", ex)
	}
	h.quiet(t, site, 0) // no token, no events
	// The choice holds meanwhile; the next page sends it again and starts counting.
	h.failConsent.Store(false)
	tb.open("page.html")
	tb.WaitJS("the settings button", fab)
	if eval[bool](tb, `!!`+firstLayer) {
		t.Error("banner shown again although the visitor decided")
	}
	h.waitRequests(t, site, "/api/consent", 2)
	h.waitEvents(t, site, "pageview", 1)
	if st := tb.stored(); st["p"] != float64(0) || st["k"] == nil {
		t.Errorf("decision not confirmed: %v", st)
	}
	ds := h.decisions(t, site)
	if len(ds) != 1 || ds[0].Action != "accept_all" {
		t.Errorf("decisions: %+v", ds)
	}
}

func testGerman(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site, withLanguage("de-DE,de;q=0.9"))
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	txt := eval[string](tb, firstLayer+`.textContent`)
	for _, s := range []string{"Cookies auf dieser Website", "Alle akzeptieren", "Alle ablehnen", "Anpassen", "Datenschutzerklärung"} {
		if !strings.Contains(txt, s) {
			t.Errorf("German banner lacks %q: %q", s, txt)
		}
	}
	if lang := eval[string](tb, firstLayer+`.lang`); lang != "de" {
		t.Errorf("lang=%q", lang)
	}
	tb.Click(button(firstLayer, "Anpassen"))
	tb.WaitJS("the settings", settings)
	if txt := eval[string](tb, settings+`.textContent`); !strings.Contains(txt, "Cookie-Einstellungen") || !strings.Contains(txt, "Immer aktiv") {
		t.Errorf("German settings: %q", txt)
	}
	tb.Click(button(settings, "Alle ablehnen"))
	h.waitRequests(t, site, "/api/consent", 1)
	if ds := h.decisions(t, site); len(ds) != 1 || ds[0].Language != "de" {
		t.Errorf("decisions: %+v", ds)
	}
}

func testImpressions(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.Navigate(tb.url("frame.html"))
	tb.Do(`document.cookie = 'session_id=abc;path=/'; document.cookie = '_fbp=fb.1.2;path=/'; document.cookie = '_hjid=xyz;path=/'`)
	tb.open("page.html")
	imp := h.waitRequests(t, site, "/api/impressions", 1)
	if v := fmt.Sprint(imp[0].Body); strings.Contains(v, "abc") || strings.Contains(v, "xyz") {
		t.Errorf("impression carries cookie values: %v", v)
	}
	h.flush(t)
	var names []string
	var policy uint32
	var path, lang string
	err := h.db.Conn().QueryRow(context.Background(), `SELECT undeclared_cookies, policy_version, path, language FROM consent_impressions WHERE site_id = ?`, site).Scan(&names, &policy, &path, &lang)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"_fbp", "_hjid"}) || policy != 1 || path != "/s/"+site+"/page.html" || lang != "en" {
		t.Errorf("impression: %q %d %q %q", names, policy, path, lang)
	}
	// Each showing of the first layer counts; a decided visitor sees none.
	tb.open("page.html")
	h.waitRequests(t, site, "/api/impressions", 2)
	tb.Click(button(firstLayer, "Reject all"))
	h.waitRequests(t, site, "/api/consent", 1)
	tb.open("page.html")
	time.Sleep(300 * time.Millisecond)
	if n := len(h.requests(site, "/api/impressions")); n != 2 {
		t.Errorf("%d impressions, want 2", n)
	}
	for _, r := range h.requests(site, "/api/impressions") {
		for _, k := range []string{"visitor", "consent_id", "session"} {
			if _, ok := r.Body[k]; ok {
				t.Errorf("impression carries %s", k)
			}
		}
	}
}

func testLocalhost(t *testing.T, h *harness) {
	site := h.newSite(t, func(s *crumbtest.Site) { s.Domain = "localhost" })
	tb := h.newTab(t, site, withHost("localhost"))
	tb.acceptAllNoEvents("page.html")
	h.waitRequests(t, site, "/api/consent", 1)
	tb.WaitJS("the gated tags", `log.length == 3`)
	h.quiet(t, site, 0)
	if c := tb.cookies(); c["crumb_vid"] != nil {
		t.Error("visitor cookie set on localhost without data-track-localhost")
	}
	// With data-track-localhost it counts.
	tb.open("local.html")
	h.waitEvents(t, site, "pageview", 1)
}

// acceptAllNoEvents is acceptAll for pages that send no events.
func (tb *tab) acceptAllNoEvents(p string) {
	tb.T.Helper()
	tb.open(p)
	tb.WaitJS("the banner", firstLayer)
	tb.Click(button(firstLayer, "Accept all"))
}

func testIncludedTwice(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.open("twice.html")
	tb.WaitJS("the banner", firstLayer)
	time.Sleep(300 * time.Millisecond)
	if n := eval[int](tb, `document.querySelectorAll('crumb-consent').length`); n != 1 {
		t.Errorf("%d banners", n)
	}
	if n := len(h.requests(site, "/api/impressions")); n != 1 {
		t.Errorf("%d impressions", n)
	}
	tb.Click(button(firstLayer, "Accept all"))
	h.waitEvents(t, site, "pageview", 1)
	h.quiet(t, site, 1)
	tb.NoPageErrors()
}

func testQueue(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	tb.open("queue.html")
	tb.WaitJS("the banner", firstLayer)
	tb.Click(button(firstLayer, "Accept all"))
	h.waitEvents(t, site, "pageview", 1)
	changes := eval[[]map[string]any](tb, `changes`)
	events := eval[[]map[string]any](tb, `events`)
	if len(changes) != 1 || changes[0]["performance"] != true || len(events) != 1 || events[0]["targeting"] != true {
		t.Errorf("change callbacks %v, events %v", changes, events)
	}
	// With consent stored, the calls made before the script loaded and
	// while it loaded the configuration are sent.
	tb.open("queue.html")
	c := h.waitEvents(t, site, "custom", 2)
	if c[0]["name"] != "queued" || fmt.Sprint(c[0]["props"]) != "map[from:stub]" || c[1]["name"] != "early" {
		t.Errorf("queued events: %v", c)
	}
	if n := eval[int](tb, `changes.length`); n != 1 {
		t.Errorf("%d change callbacks on a page with a stored decision", n)
	}
}

func testAnonymous(t *testing.T, h *harness) {
	site := h.newSite(t, func(s *crumbtest.Site) { s.AnonymousCounting = true })
	tb := h.newTab(t, site)
	tb.open("page.html?q=shoes")
	pv := h.waitEvents(t, site, "pageview", 1)
	r := h.requests(site, "/api/events")[0]
	for _, k := range []string{"visitor", "session", "consent"} {
		if _, ok := r.Body[k]; ok {
			t.Errorf("anonymous request carries %s: %v", k, r.Body)
		}
	}
	tb.Do(`crumb.track('x')`)
	h.quiet(t, site, 1)
	if len(pv) != 1 || len(tb.cookies()) != 0 {
		t.Errorf("anonymous counting stored cookies: %v", tb.cookies())
	}
	if n := eval[int](tb, `localStorage.length + sessionStorage.length`); n != 0 {
		t.Errorf("anonymous counting stored %d items", n)
	}
	tb.Click(button(firstLayer, "Reject all"))
	h.waitRequests(t, site, "/api/consent", 1)
	tb.open("page.html")
	h.waitEvents(t, site, "pageview", 2)
	es := h.events(t, site)
	if len(es) != 2 || es[0].Visitor != uuid.Nil || es[1].Visitor != uuid.Nil {
		t.Errorf("anonymous events: %+v", es)
	}
	if c := tb.cookies(); c["crumb_vid"] != nil || c["crumb_sid"] != nil {
		t.Errorf("cookies after refusal: %v", c)
	}
}

func testNarrow(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	tb := h.newTab(t, site)
	if err := chromedp.Do(tb.Ctx, chromedp.EmulateViewport(320, 640)); err != nil {
		t.Fatal(err)
	}
	tb.open("page.html")
	tb.WaitJS("the banner", firstLayer)
	fits := `(() => { const els = [el, ...el.querySelectorAll('button,input,h2,p')];
		return els.every(e => { const r = e.getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && r.width > 0 }) })()`
	if !eval[bool](tb, `(() => { const el = `+firstLayer+`; return `+fits+` })()`) {
		t.Error("first layer does not fit 320 px")
	}
	tb.Click(button(firstLayer, "Customize"))
	tb.WaitJS("the settings", settings)
	if !eval[bool](tb, `(() => { const el = `+settings+`; return `+fits+` })()`) {
		t.Error("settings do not fit 320 px")
	}
	// The last button can be scrolled to and used.
	tb.Click(button(settings, "Reject all"))
	h.waitRequests(t, site, "/api/consent", 1)
}

func testDemo(t *testing.T, h *harness) {
	// The demo pages report to the oldest site for localhost.
	h.newSite(t, func(s *crumbtest.Site) { s.Domain = "localhost" })
	demo, ok := h.app.Sites.Demo()
	if !ok {
		t.Fatal("no demo site")
	}
	tb := h.newTab(t, demo.ID, withHost("localhost"))
	base := fmt.Sprintf("http://localhost:%s/demo/", h.port)
	tb.Navigate(base)
	tb.WaitJS("the banner", firstLayer)
	if eval[string](tb, `document.getElementById('ad').className`) != "ad" {
		t.Error("the targeting box changed before consent")
	}
	tb.Click(button(firstLayer, "Accept all"))
	h.waitEvents(t, demo.ID, "pageview", 1)
	tb.WaitJS("the targeting tag", `document.getElementById('ad').className == 'ad on'`)
	tb.WaitJS("the map", `document.querySelector('iframe').contentDocument && document.querySelector('iframe').contentDocument.body.textContent.includes('Embedded map')`)
	tb.WaitJS("the state box", `document.getElementById('state').textContent.includes('"performance": true')`)
	tb.Click(`document.getElementById('signup')`)
	h.waitEvents(t, demo.ID, "custom", 1)
	tb.Click(`document.querySelector('input[type=search]')`)
	tb.Key("espresso\r")
	h.waitEvents(t, demo.ID, "search", 1)
	tb.Navigate(base + "404.html")
	h.waitEvents(t, demo.ID, "error", 1)
	tb.Navigate(base + "pricing.html")
	tb.Click(`document.querySelector('a[download]')`)
	d := h.waitEvents(t, demo.ID, "download", 1)
	if d[0]["link"] != base+"files/price-list.pdf" {
		t.Errorf("download: %v", d[0])
	}
	tb.Navigate(base + "blog.html")
	tb.WaitJS("the settings button", fab)
	tb.Do(`document.querySelector('footer button').click()`)
	tb.WaitJS("the settings", settings)
	tb.NoPageErrors()
}

// testStrictCSP: on a page whose Content-Security-Policy allows no inline
// style or script, only Crumb's origin beside its own, the banner shows
// styled (a fixed box with its own background) and takes the focus, and a
// decision is sent.
func testStrictCSP(t *testing.T, h *harness) {
	site := h.newSite(t, nil)
	// Every violation the page reports, recorded by a script the browser
	// runs before the page's own (as DevTools, outside the page's policy).
	tb := h.newTab(t, site, withInit(`window.violations = [];
		document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ' ' + e.blockedURI))`))
	tb.open("strict.html")
	tb.WaitJS("the banner", firstLayer)
	styled := eval[string](tb, `(() => { const s = getComputedStyle(`+firstLayer+`); return s.position + ' ' + s.backgroundColor })()`)
	if !strings.HasPrefix(styled, "fixed ") || strings.HasSuffix(styled, "rgba(0, 0, 0, 0)") {
		t.Errorf("the banner under a strict CSP is not styled: position and background %q", styled)
	}
	if !eval[bool](tb, `(() => { const r = `+firstLayer+`.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.bottom <= innerHeight })()`) {
		t.Error("the banner under a strict CSP is not visible in the viewport")
	}
	if got := eval[string](tb, `(() => { const f = `+focused+`; return f ? f.getAttribute('role') + ' ' + f.className : '' })()`); got != "dialog b" {
		t.Errorf("focus on %q, want the banner", got)
	}
	tb.Click(button(firstLayer, "Reject all"))
	h.waitRequests(t, site, "/api/consent", 1)
	if v := eval[[]string](tb, `window.violations`); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %q", v)
	}
}
