package dashboards_test

// Browser tests of the dashboard UI: headless Chromium against the real
// crumb server and ClickHouse with the fixture of fixture_test.go. They
// check what a user sees (text in the page) and where the page went.

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

func TestDashboard(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *harness)
	}{
		{"LoginForm", testLogin},
		{"Overview", testOverview},
		{"DateRange", testDateRange},
		{"FilterByClick", testFilter},
		{"Keyboard", testKeyboard},
		{"Paths", testPaths},
		{"Goals", testGoals},
		{"Funnels", testFunnels},
		{"Retention", testRetention},
		{"ComparedRows", testComparedRows},
		{"Imported", testImported},
		{"Withheld", testWithheld},
		{"Consent", testConsent},
		{"Proof", testProof},
		{"ExportCSV", testExport},
		{"Logout", testLogout},
		{"ShareLink", testShare},
		{"BusyAnswersRetried", testBusyAnswers},
		{"NarrowAndDark", testNarrowAndDark},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, h) })
	}
}

// dashboard opens the overview of the fixture's site, logged in, and
// waits until its numbers are in.
func (h *harness) dashboard(t *testing.T, query string, opts ...tabOption) *tab {
	t.Helper()
	tb := h.newTab(t, append([]tabOption{loggedIn}, opts...)...)
	tb.open("/dashboard/?site=" + siteID + query)
	return tb
}

// kpi waits for the overview's tile of metric to show a number and returns it.
func (tb *tab) kpi(metric string) int {
	tb.T.Helper()
	sel := fmt.Sprintf(`.kpi[data-metric=%q] .value`, metric)
	tb.WaitJS("the "+metric+" tile", fmt.Sprintf(`document.querySelector(%q) && /\d/.test(document.querySelector(%q).innerText)`, sel, sel))
	return number(tb.T, tb.text(sel))
}

// number reads the integer a tile shows ("1,234").
func number(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.NewReplacer(",", "", "\u202f", "", " ", "").Replace(s))
	if err != nil {
		t.Fatalf("%q is not a whole number", s)
	}
	return n
}

// query returns the parameters of the page's address.
func (tb *tab) query() url.Values {
	tb.T.Helper()
	u, err := url.Parse(tb.url())
	if err != nil {
		tb.T.Fatal(err)
	}
	return u.Query()
}

// choose picks value in the <select> sel, as a user does.
func (tb *tab) choose(sel, value string) {
	tb.T.Helper()
	tb.Do(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.focus(); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))
}

// setInput sets an <input> (a date) and fires its change event.
func (tb *tab) setInput(sel, value string) {
	tb.T.Helper()
	tb.Do(fmt.Sprintf(`(() => { const i = document.querySelector(%q); i.value = %q; i.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))
}

// panelRow is a JS expression for the row button showing text in the panel titled title.
func panelRow(title, text string) string {
	return fmt.Sprintf(`[...[...document.querySelectorAll('section.panel')].find(p => p.querySelector('h2').innerText.startsWith(%q))`+
		`.querySelectorAll('button.rowbtn')].find(b => b.innerText.trim() == %q)`, title, text)
}

// loyaltyPanel finds the Loyalty panel (JavaScript).
const loyaltyPanel = `[...document.querySelectorAll('section.panel')].find(p => p.querySelector('h2').innerText == 'Loyalty')`

// panelRows returns the row labels of the panel titled title.
func (tb *tab) panelRows(title string) []string {
	tb.T.Helper()
	return eval[[]string](tb, fmt.Sprintf(`[...[...document.querySelectorAll('section.panel')].find(p => p.querySelector('h2').innerText.startsWith(%q))`+
		`.querySelectorAll('td.label .text')].map(e => e.innerText.trim())`, title))
}

func testLogin(t *testing.T, h *harness) {
	tb := h.newTab(t)
	tb.open("/dashboard/?site=" + siteID + "&period=7d")
	tb.WaitJS("the login page", `location.pathname == '/login' && document.querySelector('form#login')`)
	if next := tb.text("h1"); next != "Crumb" {
		t.Errorf("login page heading %q", next)
	}
	// A wrong password: the page says so and keeps where the user was going.
	type field struct{ sel, val string }
	fill := func(pw string) {
		for _, f := range []field{{"#email", email}, {"#password", pw}} {
			tb.Do(fmt.Sprintf(`document.querySelector(%q).value = ''`, f.sel))
			if err := chromedp.Do(tb.Ctx, chromedp.SendKeys(chromedp.CSS(f.sel), f.val)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill("not the password")
	tb.Click(`document.querySelector('form#login button[type=submit]')`)
	tb.waitText("#error", "wrong e-mail or password")
	if got := eval[string](tb, `document.querySelector('#next').value`); got != "/dashboard/?site="+siteID+"&period=7d" {
		t.Errorf("after a failed login the form goes to %q", got)
	}
	// The right one: the dashboard the user asked for.
	fill(password)
	tb.Key(kb.Enter)
	tb.WaitJS("the dashboard", `location.pathname == '/dashboard/'`)
	if q := tb.query(); q.Get("period") != "7d" {
		t.Errorf("after the login the page is %s", tb.url())
	}
	if n := tb.kpi("visitors"); n == 0 {
		t.Error("no visitors on the dashboard")
	}
	tb.waitText(".topbar", email)
	tb.NoPageErrors(`401`, `favicon.ico`) // the server's 401 page asks for a favicon
}

func testOverview(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	visitors := tb.kpi("visitors")
	if visitors < h.fx.Visitors*9/10 || visitors > h.fx.Visitors*11/10 {
		t.Errorf("the tile shows %d visitors, the fixture has %d", visitors, h.fx.Visitors)
	}
	if pv := tb.kpi("pageviews"); pv <= visitors {
		t.Errorf("%d page views for %d visitors", pv, visitors)
	}
	labels := tb.texts(".kpi .label")
	for _, want := range []string{"Unique visitors", "Visits", "Page views", "Views per visit", "Bounce rate", "Visit duration", "Time on page"} {
		if !containsFold(labels, want) {
			t.Errorf("no %q tile among %q", want, labels)
		}
	}
	tb.waitText(".kpi[data-metric=pageviews] .note", "without consent")
	tb.waitText(".kpi[data-metric=bounce_rate] .value", "%")
	// The chart shows visitors; choosing another tile charts that.
	tb.WaitJS("the chart", `document.querySelector('.chart canvas')`)
	if got := eval[string](tb, `document.querySelector('.chart').getAttribute('aria-label')`); !strings.HasPrefix(got, "Unique visitors over time: 30 points") {
		t.Errorf("chart label %q", got)
	}
	tb.Click(`document.querySelector('.kpi[data-metric=pageviews]')`)
	tb.WaitJS("the page views chart", `(document.querySelector('.chart').getAttribute('aria-label') || '').startsWith('Page views over time')`)
	if got := eval[string](tb, `document.querySelector('.kpi[aria-pressed=true] .label').innerText`); !strings.EqualFold(got, "Page views") {
		t.Errorf("pressed tile %q", got)
	}
	// Realtime: the fixture's visitors of the last minutes.
	tb.waitText("#realtime", "current visitors")
	if n := number(t, strings.Fields(tb.text("#realtime"))[0]); n != 7 {
		t.Errorf("realtime shows %q", tb.text("#realtime"))
	}
	// Every panel has rows, over k visitors each; the Loyalty panel, below
	// the fold, loads once it is scrolled near.
	tb.WaitJS("the panels on screen", `[...document.querySelectorAll('.panel')].filter(p => p.querySelector('h2').innerText != 'Loyalty').every(p => p.querySelector('table'))`)
	if eval[bool](tb, loyaltyPanel+`.querySelector('table') != null`) {
		t.Error("the Loyalty panel, below the fold, loaded before it was scrolled to")
	}
	eval[bool](tb, `(`+loyaltyPanel+`.scrollIntoView(), true)`)
	tb.WaitJS("the panels", `[...document.querySelectorAll('.panel')].every(p => p.querySelector('table'))`)
	for panel, want := range map[string]string{"Sources": "Organic Search", "Pages": "/pricing", "Locations": "Germany", "Devices": "Chrome", "Events": "signup"} {
		if rows := tb.panelRows(panel); !slicesContains(rows, want) {
			t.Errorf("panel %s shows %q, not %q", panel, rows, want)
		}
	}
	// Loyalty: visitors by their number of visits, then visits by the
	// days since their visitor was last seen, with the share of new
	// visits; the rows are not filters.
	if rows := tb.panelRows("Loyalty"); !slicesContains(rows, "1") {
		t.Errorf("panel Loyalty shows %q", rows)
	}
	tb.Click(`[...document.querySelectorAll('.panel .tabs-small button')].find(b => b.innerText == 'Since last visit')`)
	tb.WaitJS("the days since the last visit", `[...document.querySelectorAll('.panel td.label')].some(td => td.innerText == 'first visit')`)
	if note := tb.text(".panel-note"); !strings.HasPrefix(note, "New visits ") || !strings.Contains(note, "returning") {
		t.Errorf("the Loyalty panel's note is %q", note)
	}
	// A tab shows another dimension.
	tb.Click(`[...document.querySelectorAll('.panel .tabs-small button')].find(b => b.innerText == 'Devices')`)
	tb.WaitJS("the device rows", `[...document.querySelectorAll('.panel td.label')].some(td => td.innerText == 'mobile')`)
	if got := eval[string](tb, `[...document.querySelectorAll('.panel .tabs-small button')].find(b => b.innerText == 'Devices').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("the Devices tab is aria-pressed=%s", got)
	}
	// Campaigns have their own parameter tabs.
	tb.Click(`[...document.querySelectorAll('.panel .tabs-small button')].find(b => b.innerText == 'Campaigns')`)
	tb.WaitJS("the UTM sources", `[...document.querySelectorAll('.panel td.label')].some(td => td.innerText == 'newsletter')`)
	tb.Click(`[...document.querySelectorAll('.subtabs button')].find(b => b.innerText == 'UTM campaign')`)
	tb.WaitJS("the UTM campaigns", `[...document.querySelectorAll('.panel td.label')].some(td => td.innerText == 'spring-launch')`)
	// A custom event's properties, then one property's values, filter by "key=value".
	tb.Click(`document.querySelector('button.rowaction[aria-label="Properties of signup"]')`)
	tb.WaitJS("the properties of signup", `document.querySelector('nav.crumbs') && [...document.querySelectorAll('.panel.wide td.label .text')].some(e => e.innerText == 'plan')`)
	tb.Click(panelRow("Events", "plan"))
	tb.WaitJS("the plans", `[...document.querySelectorAll('.panel.wide td.label .text')].some(e => e.innerText == 'pro')`)
	if plans := tb.panelRows("Events"); !slicesContains(plans, "free") {
		t.Errorf("plans %q", plans)
	}
	tb.waitText("nav.crumbs", "signup")
	tb.Click(panelRow("Events", "pro"))
	tb.waitText(".filters .chip", "Event property is plan=pro")
	if sign := tb.kpi("visitors"); sign >= visitors || sign < 5 {
		t.Errorf("%d visitors chose the pro plan, of %d", sign, visitors)
	}
	// The footer credits the geolocation data.
	tb.waitText("footer", "IP Geolocation by DB-IP")
	tb.NoPageErrors()
}

func testDateRange(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	month := tb.kpi("visitors")
	tb.choose("#period", "7d")
	tb.WaitJS("period=7d in the address", `location.search.includes('period=7d')`)
	week := tb.kpi("visitors")
	if week >= month {
		t.Errorf("%d visitors in 7 days, %d in 30", week, month)
	}
	from7 := time.Now().UTC().AddDate(0, 0, -6)
	tb.waitText(".range-text", from7.Format("Jan 2"))
	if pts := eval[string](tb, `document.querySelector('.chart').getAttribute('aria-label')`); !strings.Contains(pts, "7 points") {
		t.Errorf("7-day chart: %q", pts)
	}

	// A custom range: the 30 days before the last 30.
	tb.choose("#period", "custom")
	tb.WaitJS("the date inputs", `document.querySelector('input#from') && document.querySelector('input#to')`)
	from, to := time.Now().UTC().AddDate(0, 0, -59).Format("2006-01-02"), time.Now().UTC().AddDate(0, 0, -30).Format("2006-01-02")
	tb.setInput("#from", from)
	tb.WaitJS("from in the address", fmt.Sprintf(`location.search.includes('from=%s')`, from))
	tb.setInput("#to", to)
	tb.WaitJS("to in the address", fmt.Sprintf(`location.search.includes('to=%s')`, to))
	q := tb.query()
	if q.Get("period") != "custom" || q.Get("from") != from || q.Get("to") != to {
		t.Errorf("custom range address %s", tb.url())
	}
	tb.WaitJS("the custom chart", `(document.querySelector('.chart').getAttribute('aria-label') || '').includes('30 points')`)
	if before := tb.kpi("visitors"); before == 0 || before == month {
		t.Errorf("%d visitors in the custom range, %d in the last 30 days", before, month)
	}
	// Dates the wrong way round are swapped, not refused.
	tb.setInput("#from", time.Now().UTC().Format("2006-01-02"))
	tb.WaitJS("the swapped range", fmt.Sprintf(`location.search.includes('from=%s')`, to))
	if tb.text(".kpis ~ .error, .chart .error") != "" {
		t.Errorf("error: %s", tb.text(".chart .error"))
	}

	// Comparison with the previous period: deltas on the tiles, a dashed series.
	tb.choose("#period", "30d")
	tb.Click(`document.querySelector('.switch input')`)
	tb.WaitJS("compare=1", `location.search.includes('compare=1')`)
	tb.WaitJS("the deltas", `/[↑↓]|new/.test(document.querySelector('.kpi[data-metric=visitors] .delta').innerText)`)
	tb.waitText(".chart-legend", "Previous period")
	tb.NoPageErrors()
}

func testFilter(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	all := tb.kpi("visitors")
	allViews := tb.kpi("pageviews")
	tb.WaitJS("the countries", panelRow("Locations", "Germany"))
	tb.Click(panelRow("Locations", "Germany"))
	tb.waitText(".filters .chip", "Country is Germany")
	if f := tb.query()["filter"]; len(f) != 1 || f[0] != "country:is:DE" {
		t.Errorf("address %s holds filters %q", tb.url(), f)
	}
	de := tb.kpi("visitors")
	if de >= all || de < h.fx.VisitorsDE*9/10 || de > h.fx.VisitorsDE*11/10 {
		t.Errorf("Germany: %d visitors (fixture %d), everyone %d", de, h.fx.VisitorsDE, all)
	}
	if views := tb.kpi("pageviews"); views >= allViews {
		t.Errorf("Germany: %d page views, everyone %d", views, allViews)
	}
	tb.WaitJS("the filtered countries", `document.querySelector('section.panel[aria-labelledby] table') && `+
		`[...document.querySelectorAll('section.panel')].find(p => p.querySelector('h2').innerText == 'Locations').querySelectorAll('tbody tr').length == 1`)
	// The filter survives a reload: it is in the address.
	tb.open(strings.TrimPrefix(tb.url(), h.base))
	tb.waitText(".filters .chip", "Country is Germany")
	if again := tb.kpi("visitors"); again != de {
		t.Errorf("after a reload %d visitors, before %d", again, de)
	}
	// The operator cycles like the API's: is not, contains, is.
	tb.Click(`document.querySelector('.chip button.op')`)
	tb.waitText(".filters .chip", "Country is not Germany")
	if f := tb.query()["filter"]; len(f) != 1 || f[0] != "country:is_not:DE" {
		t.Errorf("address %s holds filters %q", tb.url(), f)
	}
	tb.WaitJS("the other countries", fmt.Sprintf(`document.querySelector('.kpi[data-metric=visitors] .value').innerText.replace(/\D/g, '') == '%d'`, all-de))
	tb.Click(`document.querySelector('.chip button.op')`)
	tb.WaitJS("the contains filter", `location.search.includes('filter=country%3Acontains%3ADE') && document.querySelector('.chip input.val').value == 'DE'`)
	if n := tb.kpi("visitors"); n != de {
		t.Errorf("country contains DE: %d visitors, is DE: %d", n, de)
	}
	// The value of a contains filter is edited in place: E is Germany,
	// Spain and others.
	tb.setInput(".chip input.val", "E")
	tb.WaitJS("the edited value", `location.search.includes('filter=country%3Acontains%3AE')`)
	if n := tb.kpi("visitors"); n <= de || n > all {
		t.Errorf("country contains E: %d visitors, is DE: %d, everyone %d", n, de, all)
	}
	tb.setInput(".chip input.val", "DE")
	tb.WaitJS("the value back", `location.search.includes('filter=country%3Acontains%3ADE')`)
	tb.Click(`document.querySelector('.chip button.op')`)
	tb.waitText(".filters .chip", "Country is Germany")
	// A second filter from another panel, then remove the first. The
	// click waits for every panel on screen: one that fills later moves
	// the rows below it.
	tb.WaitJS("the channels", panelRow("Sources", "Direct")+` && !document.querySelector('[aria-busy=true]')`)
	tb.Click(panelRow("Sources", "Direct"))
	tb.waitText(".filters", "Channel is Direct")
	if f := tb.query()["filter"]; len(f) != 2 {
		t.Errorf("filters %q", f)
	}
	tb.Click(`document.querySelector('.chip button.remove[aria-label^="Remove filter Country"]')`)
	tb.WaitJS("the country filter gone", `!document.querySelector('.filters').innerText.includes('Germany')`)
	tb.Click(`document.querySelector('.chip button.remove')`)
	tb.WaitJS("no filters", `!document.querySelector('.filters')`)
	if f := tb.query()["filter"]; len(f) != 0 {
		t.Errorf("filters left in the address: %q", f)
	}
	if back := tb.kpi("visitors"); back != all {
		t.Errorf("without filters %d visitors, at first %d", back, all)
	}
	// The browser's back button restores the filter.
	if err := chromedp.Do(tb.Ctx, chromedp.NavigateBack()); err != nil {
		t.Fatal(err)
	}
	tb.waitText(".filters", "Channel is Direct")
	tb.NoPageErrors()
}

func testKeyboard(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	tb.kpi("visitors")
	tb.WaitJS("the rows", `document.querySelector('button.rowbtn')`)
	// Tab from the top of the page to the first row: every control on the
	// way is reachable, and the focus is visible.
	tb.Do(`document.activeElement && document.activeElement.blur()`)
	var focused string
	for i := 0; i < 60; i++ {
		tb.Key(kb.Tab)
		focused = eval[string](tb, `document.activeElement.className + '|' + document.activeElement.innerText`)
		if strings.HasPrefix(focused, "rowbtn|") {
			break
		}
	}
	if !strings.HasPrefix(focused, "rowbtn|") {
		t.Fatalf("tabbing never reached a row; focus is on %q", focused)
	}
	if outline := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Error("the focused row shows no outline")
	}
	value := strings.TrimPrefix(focused, "rowbtn|")
	tb.Key(kb.Enter)
	tb.waitText(".filters .chip", "is "+value)
	// The focus moved to the new filter's remove button: Enter removes it.
	if got := eval[string](tb, `document.activeElement.getAttribute('aria-label') || ''`); !strings.HasPrefix(got, "Remove filter") {
		t.Fatalf("after filtering the focus is on %q", got)
	}
	tb.Key(kb.Enter)
	tb.WaitJS("no filters", `!document.querySelector('.filters')`)
	// Panel tabs are buttons that say which is pressed.
	tb.Do(`[...document.querySelectorAll('.tabs-small button')].find(b => b.innerText == 'Entry pages').focus()`)
	tb.Key(kb.Enter)
	tb.WaitJS("entry pages", `[...document.querySelectorAll('.tabs-small button')].find(b => b.innerText == 'Entry pages').getAttribute('aria-pressed') == 'true'`)
	tb.WaitJS("the entry page rows", `[...document.querySelectorAll('th')].some(th => th.innerText.toLowerCase() == 'entry page')`)
	tb.NoPageErrors()
}

func testPaths(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	tb.Click(`[...document.querySelectorAll('nav.views a')].find(a => a.innerText == 'Paths')`)
	tb.WaitJS("the paths form", `document.querySelector('#path-page')`)
	if q := tb.query(); q.Get("view") != "paths" {
		t.Errorf("paths view address %s", tb.url())
	}
	tb.Do(`document.querySelector('#path-page').value = ''`)
	if err := chromedp.Do(tb.Ctx, chromedp.SendKeys(chromedp.CSS("#path-page"), "/pricing")); err != nil {
		t.Fatal(err)
	}
	tb.Key(kb.Enter)
	tb.waitText("section.panel h2", "Came to /pricing")
	tb.WaitJS("the previous pages", `document.querySelectorAll('section.panel table').length == 2`)
	came, went := tb.panelRows("Came to"), tb.panelRows("Went on from")
	for _, want := range []string{"/docs", "/features", "(entrance)"} {
		if !slicesContains(came, want) {
			t.Errorf("came to /pricing from %q, not %q", came, want)
		}
	}
	for _, want := range []string{"/signup", "(exit)"} {
		if !slicesContains(went, want) {
			t.Errorf("went on from /pricing to %q, not %q", went, want)
		}
	}
	if q := tb.query(); q.Get("page") != "/pricing" {
		t.Errorf("address %s", tb.url())
	}
	// A next page leads on along the path; (entrance) and (exit) are not links.
	if n := eval[int](tb, `[...document.querySelectorAll('button.rowbtn')].filter(b => b.innerText.startsWith('(')).length`); n != 0 {
		t.Errorf("%d buttons for (entrance), (exit) or (other)", n)
	}
	tb.Click(panelRow("Went on from", "/signup"))
	tb.waitText("section.panel h2", "Came to /signup")
	tb.WaitJS("the signup paths", `document.querySelectorAll('section.panel table').length >= 1`)
	if came := tb.panelRows("Came to"); !slicesContains(came, "/pricing") {
		t.Errorf("came to /signup from %q", came)
	}
	// From the overview: a page row's paths button.
	tb.open("/dashboard/?site=" + siteID)
	tb.WaitJS("the paths buttons", `document.querySelector('button.rowaction[aria-label="Paths through /docs"]')`)
	tb.Click(`document.querySelector('button.rowaction[aria-label="Paths through /docs"]')`)
	tb.waitText("section.panel h2", "Went on from /docs")
	tb.WaitJS("the docs paths", `document.querySelectorAll('section.panel table').length == 2`)
	if went := tb.panelRows("Went on from"); !slicesContains(went, "/docs/install") {
		t.Errorf("went on from /docs to %q", went)
	}
	tb.NoPageErrors()
}

func testConsent(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	tb.Click(`[...document.querySelectorAll('nav.views a')].find(a => a.innerText == 'Consent')`)
	tb.WaitJS("the consent tiles", `document.querySelectorAll('.kpi.static').length >= 6`)
	tiles := map[string]string{}
	for _, s := range tb.texts(".kpi.static") {
		lines := strings.Split(s, "\n")
		tiles[strings.ToLower(lines[0])] = strings.TrimSpace(lines[1])
	}
	for _, cat := range []string{"performance", "functionality", "targeting"} {
		v := tiles[cat]
		if !strings.HasSuffix(v, "%") || v == "0%" {
			t.Errorf("opt-in rate of %s: %q (tiles %q)", cat, v, tiles)
		}
	}
	if n := number(t, tiles["impressions"]); n < 200 {
		t.Errorf("%d impressions", n)
	}
	// Time to decide: the median of the decisions made in the banner, 1 to
	// 16 s in the fixture, and its distribution.
	if v := tiles["time to decide"]; !strings.HasSuffix(v, " s") || v < "1" {
		t.Errorf("time to decide: %q (tiles %q)", v, tiles)
	}
	tb.waitText("section.panel", "Time to decision")
	if rows := tb.panelRows("Time to decision"); !slicesContains(rows, "2-5 s") || !slicesContains(rows, "60 s or more") {
		t.Errorf("time to decision: %q", rows)
	}
	tb.waitText(".mix-legend", "Accepted all")
	tb.waitText(".mix-legend", "Rejected all")
	tb.WaitJS("the opt-in chart", `document.querySelector('.chart canvas')`)
	tb.waitText(".chart-legend", "Targeting")
	tb.WaitJS("the consent panels", `document.querySelectorAll('section.panel table').length >= 5`)
	if rows := tb.panelRows("By country"); !slicesContains(rows, "Germany") {
		t.Errorf("by country: %q", rows)
	}
	tb.waitText("section.panel", "_hjSessionUser")
	// Filter by a country from the consent view.
	all := number(t, tiles["impressions"])
	tb.Click(panelRow("By country", "Germany"))
	tb.waitText(".filters .chip", "Country is Germany")
	tb.WaitJS("the German tiles", `document.querySelectorAll('.kpi.static').length >= 6`)
	if de := number(t, strings.Split(tb.texts(".kpi.static")[0], "\n")[1]); de >= all || de == 0 {
		t.Errorf("%d impressions from Germany, %d in all", de, all)
	}
	// A filter consent analytics cannot apply is shown as such, not as an error.
	tb.open("/dashboard/?site=" + siteID + "&view=consent&filter=channel%3Ais%3ADirect")
	tb.waitText(".notice", "the other filters do not apply here")
	tb.WaitJS("the consent tiles", `document.querySelectorAll('.kpi.static').length >= 6`)
	if n := eval[int](tb, `document.querySelectorAll('.error').length`); n != 0 {
		t.Errorf("%d errors: %s", n, tb.text(".error"))
	}
	tb.NoPageErrors()
}

func testProof(t *testing.T, h *harness) {
	tb := h.dashboard(t, "&view=proof")
	tb.WaitJS("the lookup form", `document.querySelector('#consent-id')`)
	if err := chromedp.Do(tb.Ctx, chromedp.SendKeys(chromedp.CSS("#consent-id"), h.fx.Consent.String())); err != nil {
		t.Fatal(err)
	}
	tb.Click(byText("button", "Look up"))
	tb.waitText(".proof-result", "Accept all")
	res := tb.text(".proof-result")
	for _, want := range []string{h.fx.Consent.String(), "performance, functionality", "v2", "c0ffee42"} {
		if !strings.Contains(res, want) {
			t.Errorf("the history lacks %q:\n%s", want, res)
		}
	}
	// The texts hash leads to the banner the decision was made on.
	if href := eval[string](tb, `document.querySelector('.proof-result td a[href*="/proof/banner/"]').getAttribute('href')`); !strings.Contains(href, "/proof/banner/c0ffee42") {
		t.Errorf("the texts hash links to %q", href)
	}
	// An unknown ID.
	tb.Do(`document.querySelector('#consent-id').value = '7b0f0c52-9a51-4b9e-8e0e-6f1d2f1a5c3d'`)
	tb.Click(byText("button", "Look up"))
	tb.waitText(".proof-result", "No decisions are recorded under this consent ID.")
	// The export links download every decision of the range.
	href := eval[string](tb, `[...document.querySelectorAll('a')].find(a => a.innerText == 'Download CSV').href`)
	body := eval[string](tb, fmt.Sprintf(`fetch(%q).then(r => r.text())`, href))
	if !strings.HasPrefix(body, "decision_id,consent_id,ts,") || !strings.Contains(body, h.fx.Consent.String()) {
		t.Errorf("proof export %s:\n%.300s", href, body)
	}
	tb.NoPageErrors("404")
}

func testExport(t *testing.T, h *harness) {
	tb := h.dashboard(t, "&filter=device%3Ais%3Adesktop")
	tb.kpi("visitors")
	tb.WaitJS("the countries", panelRow("Locations", "Germany"))
	fetch := func(link string) []string {
		t.Helper()
		href := eval[string](tb, link+`.href`)
		if !strings.Contains(href, "format=csv") || !strings.Contains(href, "filter=device%3Ais%3Adesktop") {
			t.Errorf("CSV link %s", href)
		}
		text := eval[string](tb, fmt.Sprintf(`fetch(%q).then(r => r.ok ? r.text() : 'HTTP ' + r.status)`, href))
		return strings.Split(strings.TrimSpace(text), "\n")
	}
	lines := fetch(`[...document.querySelectorAll('section.panel')].find(p => p.querySelector('h2').innerText == 'Locations').querySelector('a.export')`)
	if lines[0] != "country,visitors,visits,pageviews" {
		t.Errorf("countries CSV header %q", lines[0])
	}
	var de []string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "DE,") {
			de = strings.Split(l, ",")
		}
	}
	if len(de) != 4 {
		t.Fatalf("no DE row in %q", lines)
	}
	if n, err := strconv.Atoi(de[1]); err != nil || n < 5 {
		t.Errorf("DE row %q", de)
	}
	lines = fetch(byText("a.export", "Totals (CSV)"))
	if lines[0] != "metric,value" || !strings.HasPrefix(lines[1], "visitors,") {
		t.Errorf("totals CSV %q", lines)
	}
	v, _ := strconv.Atoi(strings.TrimPrefix(lines[1], "visitors,"))
	if shown := tb.kpi("visitors"); v != shown {
		t.Errorf("the CSV has %d visitors, the tile %d", v, shown)
	}
	tb.NoPageErrors()
}

func testLogout(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	tb.waitText(".topbar", email)
	tb.Click(byText("button", "Log out"))
	tb.WaitJS("the login page", `location.pathname == '/login' && document.querySelector('form#login')`)
	// The session cookie is gone: the dashboard asks for a login again.
	tb.open("/dashboard/?site=" + siteID)
	tb.WaitJS("the login page again", `location.pathname == '/login' && document.querySelector('#next').value.startsWith('/dashboard/')`)
	tb.NoPageErrors(`401`, `favicon.ico`) // the 401 page of the server asks for a favicon
	// The server ended the session too: the old cookie reads nothing.
	again := h.newTab(t, loggedIn)
	again.open("/dashboard/?site=" + siteID)
	again.WaitJS("the login page for the old cookie", `location.pathname == '/login'`)
	h.session = h.login(t) // a new login for the tests that follow
}

func testShare(t *testing.T, h *harness) {
	tb := h.newTab(t)
	tb.open("/share/" + shareID)
	tb.WaitJS("the shared dashboard", `location.pathname == '/dashboard/' && document.querySelector('.kpi')`)
	if n := tb.kpi("visitors"); n == 0 {
		t.Error("no visitors on the shared dashboard")
	}
	tb.waitText(".topbar", "read-only")
	if top := tb.text(".topbar"); strings.Contains(top, "Log out") || strings.Contains(top, email) {
		t.Errorf("the shared dashboard's top bar: %q", top)
	}
	views := tb.texts("nav.views a")
	if containsFold(views, "Proof of consent") || !containsFold(views, "Consent") {
		t.Errorf("views of a share link: %q", views)
	}
	// Filtering works and keeps the share in the address.
	tb.WaitJS("the countries", panelRow("Locations", "Germany"))
	tb.Click(panelRow("Locations", "Germany"))
	tb.waitText(".filters .chip", "Country is Germany")
	if q := tb.query(); q.Get("share") != shareID || len(q["filter"]) != 1 {
		t.Errorf("address %s", tb.url())
	}
	href := eval[string](tb, `document.querySelector('a.export').href`)
	if csv := eval[string](tb, fmt.Sprintf(`fetch(%q).then(r => r.text())`, href)); !strings.Contains(strings.SplitN(csv, "\n", 2)[0], "visitors") {
		t.Errorf("CSV through the share link: %.200s", csv)
	}
	// The proof view is not there, even when asked for.
	tb.open("/dashboard/?share=" + shareID + "&view=proof")
	tb.WaitJS("the overview", `document.querySelector('.kpi')`)
	if tb.text("#consent-id") != "" || eval[bool](tb, `!!document.querySelector('#consent-id')`) {
		t.Error("the share link opened the proof view")
	}
	// The consent view is.
	tb.Click(`[...document.querySelectorAll('nav.views a')].find(a => a.innerText == 'Consent')`)
	tb.WaitJS("the consent tiles", `document.querySelectorAll('.kpi.static').length >= 6`)
	tb.NoPageErrors()
}

// testBusyAnswers: through a share link, the overview's first answer is a
// 503 (busy) and the countries' a 429 (rate), each with Retry-After: 1;
// the panels keep loading, ask again and fill, and no error shows.
func testBusyAnswers(t *testing.T, h *harness) {
	tb := h.newTab(t, answerOnce(map[string]int{"/overview?": 503, "/breakdown/country?": 429}))
	start := time.Now()
	tb.open("/dashboard/?share=" + shareID)
	if n := tb.kpi("visitors"); n != h.fx.Visitors {
		t.Errorf("visitors %d after a busy answer, want %d", n, h.fx.Visitors)
	}
	tb.WaitJS("the countries", panelRow("Locations", "Germany"))
	if time.Since(start) < time.Second {
		t.Errorf("the panels filled in %s, before the Retry-After second", time.Since(start))
	}
	if n := eval[int](tb, `window.__answered`); n != 2 {
		t.Errorf("%d busy answers given, want 2", n)
	}
	if errs := tb.texts(".error"); len(errs) > 0 {
		t.Errorf("errors shown: %q", errs)
	}
	tb.NoPageErrors()
}

func testNarrowAndDark(t *testing.T, h *harness) {
	tb := h.dashboard(t, "", viewport(360, 740, "dark"))
	tb.kpi("visitors")
	eval[bool](tb, `(`+loyaltyPanel+`.scrollIntoView(), true)`)
	tb.WaitJS("the panels", `[...document.querySelectorAll('.panel')].every(p => p.querySelector('table'))`)
	if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the page is %d px wide at 360 px", w)
	}
	if cols := eval[int](tb, `getComputedStyle(document.querySelector('.grid')).gridTemplateColumns.split(' ').length`); cols != 1 {
		t.Errorf("%d panel columns at 360 px", cols)
	}
	if bg := eval[string](tb, `getComputedStyle(document.body).backgroundColor`); bg == "rgb(245, 246, 248)" || bg == "rgb(255, 255, 255)" {
		t.Errorf("dark mode background %s", bg)
	}
	// The row labels still have room.
	if w := eval[float64](tb, `document.querySelector('td.label').getBoundingClientRect().width`); w < 140 {
		t.Errorf("row labels are %.0f px wide", w)
	}
	// No view is wider than the screen.
	for _, view := range []string{"paths", "consent", "proof"} {
		tb.Click(fmt.Sprintf(`document.querySelector('nav.views a[href*="view=%s"]')`, view))
		tb.WaitJS(view, fmt.Sprintf(`location.search.includes('view=%s') && document.querySelector('main .card')`, view))
		if view != "proof" {
			tb.WaitJS(view+" tables", `document.querySelector('main table')`)
		}
		if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("the %s view is %d px wide at 360 px", view, w)
		}
	}
	tb.NoPageErrors()
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// api fetches a stats route from the page, as the dashboard does, and
// returns its JSON.
func (tb *tab) api(path string) map[string]any {
	tb.T.Helper()
	return eval[map[string]any](tb, fmt.Sprintf(`fetch('/api/v1/stats/%s/%s', {headers: {Accept: 'application/json'}}).then(r => r.json())`, siteID, path))
}

func testGoals(t *testing.T, h *harness) {
	tb := h.dashboard(t, "")
	all := tb.kpi("visitors")
	// The goals card lists each goal with the API's numbers.
	tb.waitText("section.goals tbody", "Signup")
	g := tb.api("goals?period=30d")
	goals := g["goals"].([]any)
	signup := goals[0].(map[string]any)
	want := fmt.Sprintf("%v", signup["visitors"])
	row := tb.texts("section.goals tbody tr")[0]
	if !strings.Contains(row, "Signup") || !strings.Contains(strings.ReplaceAll(row, ",", ""), want) {
		t.Errorf("goal row %q, API says %v visitors", row, signup["visitors"])
	}
	// A goal filters every panel: the visits that converted.
	tb.Click(byText("section.goals .rowbtn", "Signup"))
	tb.waitText(".filters .chip", "Goal is Signup")
	if f := tb.query()["filter"]; len(f) != 1 || f[0] != "goal:is:Signup" {
		t.Errorf("address %s holds filters %q", tb.url(), f)
	}
	if n := tb.kpi("visitors"); n >= all || n == 0 {
		t.Errorf("converted visitors %d, everyone %d", n, all)
	}
	// An admin adds a goal from the card.
	tb = h.dashboard(t, "")
	tb.waitText("section.goals tbody", "Signup")
	tb.Click(`document.querySelector('section.goals [data-focus=edit-goals]')`)
	tb.setInput("#goal-name", "Install docs")
	tb.setInput("#goal-match", "page:/docs/install")
	tb.Click(byText("section.goals button", "Save goals"))
	tb.waitText("section.goals tbody", "Install docs")
	tb.NoPageErrors()
	// A bad goal is refused with the reason, and nothing changes.
	tb.Click(`document.querySelector('section.goals [data-focus=edit-goals]')`)
	tb.setInput("#goal-name", "Broken")
	tb.setInput("#goal-match", "click:/x")
	tb.Click(byText("section.goals button", "Save goals"))
	tb.waitText("section.goals .error", "page: or event:")
}

func testFunnels(t *testing.T, h *harness) {
	tb := h.dashboard(t, "&view=funnels")
	tb.waitText(".funnel-out", "Give at least two steps")
	// A saved funnel fills the steps and shows its bars.
	tb.choose("#saved-funnel", "Pricing to signup")
	tb.WaitJS("the steps in the address", `new URLSearchParams(location.search).getAll('step').length == 3`)
	tb.waitText(".funnel", "event:signup")
	f := tb.api("funnel?period=30d&step=page:/&step=page:/pricing&step=event:signup")
	steps := f["steps"].([]any)
	nums := tb.texts(".funnel .step-num")
	if len(nums) != 3 {
		t.Fatalf("funnel bars %q", nums)
	}
	for i, s := range steps {
		v := s.(map[string]any)["visitors"]
		if v == nil {
			continue
		}
		if !strings.HasPrefix(strings.ReplaceAll(nums[i], ",", ""), fmt.Sprintf("%v visitors", v)) {
			t.Errorf("step %d shows %q, API says %v", i+1, nums[i], v)
		}
	}
	if drops := tb.texts(".funnel .dropoff"); len(drops) != 2 || !strings.Contains(drops[0], "went on") {
		t.Errorf("drop-offs %q", drops)
	}
	// Another window and a step typed in; saved under a new name.
	tb.choose("#funnel-window", "7d")
	tb.setInput("#step-2", "event:signup")
	tb.setInput("#step-0", "page:/pricing")
	tb.setInput("#step-1", "page:/signup")
	tb.Click(byText(".funnel-form button", "Show funnel"))
	tb.WaitJS("the new funnel", `location.search.includes('window=7d') && location.search.includes('step=page%3A%2Fsignup')`)
	tb.waitText(".funnel-card h2", "within 7 days")
	tb.setInput("#funnel-name", "Pricing, signup page, event")
	tb.Click(byText(".save-funnel button", "Save funnel"))
	tb.waitText(".save-funnel", "Saved as")
	tb.open(strings.TrimPrefix(tb.url(), h.base))
	tb.WaitJS("the saved funnel", `[...document.querySelectorAll('#saved-funnel option')].some(o => o.selected && o.value == 'Pricing, signup page, event')`)
	// CSV of the same numbers.
	tb.WaitJS("the export link", `document.querySelector('.funnel-out a.export')`)
	href := eval[string](tb, `document.querySelector('.funnel-out a.export').href`)
	csv := eval[string](tb, fmt.Sprintf(`fetch(%q).then(r => r.text())`, href))
	if !strings.HasPrefix(csv, "step,visitors,conversion_from_previous") || !strings.Contains(csv, "page:/signup") {
		t.Errorf("funnel CSV %q", csv)
	}
	tb.NoPageErrors()
}

func testRetention(t *testing.T, h *harness) {
	tb := h.dashboard(t, "&view=retention")
	tb.WaitJS("the cohorts", `document.querySelectorAll('.heat-table tbody tr').length >= 4`)
	r := tb.api("retention?period=30d&interval=week")
	first := r["cohorts"].([]any)[0].(map[string]any)
	cells := tb.texts(".heat-table tbody tr:first-child td")
	if v := first["visitors"]; v != nil && strings.ReplaceAll(cells[0], ",", "") != fmt.Sprintf("%v", v) {
		t.Errorf("first cohort shows %q, API says %v", cells[0], v)
	}
	if len(eval[[]string](tb, `[...document.querySelectorAll('.heat-table td.heat:not(.none)')].map(e => e.innerText)`)) == 0 {
		t.Errorf("no returning share shown: %q", tb.texts(".heat-table tbody tr"))
	}
	tb.choose("#retention-interval", "month")
	tb.WaitJS("monthly", `location.search.includes('interval=month')`)
	tb.waitText(".heat-table thead", "New visitors")
	tb.NoPageErrors()
}

func testComparedRows(t *testing.T, h *harness) {
	tb := h.dashboard(t, "&compare=1")
	tb.WaitJS("changes per row", `document.querySelectorAll('section.panel tbody .row-delta').length >= 5`)
	tb.choose("#compare-with", "year")
	tb.WaitJS("compare=year", `location.search.includes('compare=year')`)
	// Nothing a year before: every row is new.
	tb.WaitJS("new rows", `[...document.querySelectorAll('section.panel tbody .row-delta')].length > 0 && `+
		`[...document.querySelectorAll('section.panel tbody .row-delta')].every(e => e.innerText == 'new')`)
	tb.NoPageErrors()
}

// testImported: 20 days imported from Plausible before the fixture's own
// 60 show over the last 12 months as their own series and a note, apart
// from Crumb's totals; the last 30 days show nothing imported.
func testImported(t *testing.T, h *harness) {
	tb := h.dashboard(t, "&period=12mo")
	tb.kpi("visitors")
	tb.waitText(".imported-note", "imported from Plausible")
	tb.waitText(".imported-note", "800 visitors")
	tb.waitText(".chart-legend", "Imported from Plausible")
	// The import's own panel: its values summed over the imported days,
	// as text (imported numbers cannot filter the dashboard).
	const imported = `[...document.querySelectorAll('section.panel')].find(s => s.querySelector('h2').innerText == 'Imported from Plausible')`
	tb.WaitJS("the imported panel's pages", imported+`?.querySelector('tbody')?.innerText.includes('/old-home')`)
	if row := eval[string](tb, imported+`.querySelector('tbody tr').innerText`); !strings.Contains(row, "600") || !strings.Contains(row, "1,800") {
		t.Errorf("imported /old-home row %q, want 600 visitors and 1,800 views", row)
	}
	if n := eval[int](tb, imported+`.querySelectorAll('tbody button').length`); n != 0 {
		t.Errorf("%d buttons in the imported rows", n)
	}
	tb.Click(imported + `.querySelector('button[data-dim=source]')`)
	tb.WaitJS("the imported panel's sources", imported+`.querySelector('tbody')?.innerText.includes('Google')`)
	o := tb.api("overview?period=12mo")
	if im, ok := o["imported"].(map[string]any); !ok || im["days"] != float64(20) || im["pageviews"] != float64(2400) {
		t.Errorf("imported in the overview: %v", o["imported"])
	}
	tb = h.dashboard(t, "&period=30d")
	tb.kpi("visitors")
	if n := eval[int](tb, `document.querySelectorAll('.imported-note').length`); n != 0 {
		t.Errorf("an import note over the last 30 days")
	}
	if eval[bool](tb, imported+` !== undefined`) {
		t.Errorf("an imported panel over the last 30 days")
	}
	tb.NoPageErrors()
}

// testWithheld: filters that leave fewer than k visitors show no numbers
// anywhere on the page, only why.
func testWithheld(t *testing.T, h *harness) {
	tb := h.dashboard(t, "&filter=page%3Ais%3A%2Fno-such-page")
	tb.waitText(".withheld-note", "Fewer than 5 visitors match these filters")
	tb.WaitJS("the chart's note", `document.querySelector('.chart .withheld')`)
	tb.WaitJS("the panels' notes", `document.querySelectorAll('.grid .withheld').length >= 4 && !document.querySelector('.grid .loading')`)
	if n := eval[int](tb, `document.querySelectorAll('.grid table').length`); n != 0 {
		t.Errorf("%d tables of numbers in the panels", n)
	}
	if n := eval[int](tb, `[...document.querySelectorAll('.kpi .value')].filter(v => /\d/.test(v.innerText)).length`); n != 0 {
		t.Errorf("%d numbers in the tiles", n)
	}
	tb.NoPageErrors()
	// The consent view of a country without k consents.
	tb = h.dashboard(t, "&view=consent&filter=country%3Ais%3AZZ")
	tb.waitText(".withheld-note", "Fewer than 5 consents match these filters")
	tb.WaitJS("the consent chart's note", `document.querySelector('.chart .withheld')`)
	tb.NoPageErrors()
}
