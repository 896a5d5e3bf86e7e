package dashboards_test

import (
	"os"
	"testing"
)

// TestScreenshots writes PNGs of the dashboard to screenshots/: the
// overview (light and dark, desktop; 360 px), a filtered overview, goals
// and compared rows, the paths, funnels, retention and consent views and
// the login page.
//
//	CRUMB_UPDATE_SCREENSHOTS=1 go test -run TestScreenshots ./dashboards/
func TestScreenshots(t *testing.T) {
	if os.Getenv("CRUMB_UPDATE_SCREENSHOTS") != "1" {
		t.Skip("set CRUMB_UPDATE_SCREENSHOTS=1 to write the screenshots")
	}
	h := newHarness(t)
	if err := os.MkdirAll("screenshots", 0o755); err != nil {
		t.Fatal(err)
	}
	// ready waits until the chart and every panel in or near the viewport
	// (a lazy one further down loads when scrolled to) have loaded.
	ready := func(tb *tab) {
		tb.WaitJS("the dashboard", `document.querySelector('.kpi .value') && [...document.querySelectorAll('.kpi .value')].every(v => /\d/.test(v.innerText)) && !document.querySelector('.loading') && document.querySelector('.chart canvas')`)
		tb.WaitJS("the panels", `[...document.querySelectorAll('.panel')].filter(p => p.getBoundingClientRect().top < innerHeight + 200).every(p => p.querySelector('table, .empty:not(.loading)'))`)
	}
	open := func(w, ht int64, scheme, path string) *tab {
		tb := h.newTab(t, loggedIn, viewport(w, ht, scheme))
		tb.open(path)
		ready(tb)
		return tb
	}
	overview := func(name string, w, ht int64, scheme, path string) {
		open(w, ht, scheme, path).shot(name)
	}
	overview("overview-desktop-light.png", 1280, 2000, "light", "/dashboard/")
	overview("overview-desktop-dark.png", 1280, 2000, "dark", "/dashboard/")
	overview("overview-mobile-light.png", 360, 1600, "light", "/dashboard/")
	overview("overview-filtered.png", 1280, 1400, "light", "/dashboard/?site=shop&period=30d&filter=country%3Ais%3ADE")
	// Comparison, with the tooltip of a day.
	tb := open(1280, 900, "light", "/dashboard/?site=shop&period=7d&compare=1")
	tb.waitText(".chart-legend", "Previous period")
	box := eval[[]float64](tb, `(() => { const r = document.querySelector('.chart .u-over').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	tb.shotAt("overview-compare.png", box[0]+box[2]*0.7, box[1]+box[3]*0.6)

	tb = h.newTab(t, loggedIn, viewport(1280, 900, "light"))
	tb.open("/dashboard/?site=shop&view=paths&period=30d&page=%2Fpricing")
	tb.WaitJS("the paths", `document.querySelectorAll('.panel table').length >= 2`)
	tb.shot("paths.png")

	tb = h.newTab(t, loggedIn, viewport(1280, 720, "light"))
	tb.open("/dashboard/?site=shop&view=funnels&period=30d&step=page%3A%2F&step=page%3A%2Fpricing&step=page%3A%2Fsignup&step=event%3Asignup")
	tb.WaitJS("the funnel", `document.querySelectorAll('.funnel .step').length == 4 && document.querySelector('.save-funnel')`)
	tb.shot("funnels.png")

	tb = h.newTab(t, loggedIn, viewport(1280, 560, "light"))
	tb.open("/dashboard/?site=shop&view=retention&period=30d")
	tb.WaitJS("the cohorts", `document.querySelectorAll('.heat-table tbody tr').length >= 4`)
	tb.shot("retention.png")

	tb = h.newTab(t, loggedIn, viewport(1280, 1100, "light"))
	tb.open("/dashboard/?site=shop&period=30d&compare=1")
	ready(tb)
	tb.WaitJS("the goals and row changes", `document.querySelector('section.goals tbody') && document.querySelectorAll('tbody .row-delta').length >= 5`)
	tb.shot("overview-goals-compared.png")

	// The last 12 months reach back into the days imported from Plausible.
	tb = h.newTab(t, loggedIn, viewport(1280, 900, "light"))
	tb.open("/dashboard/?site=shop&period=12mo")
	ready(tb)
	tb.WaitJS("the imported panel", `[...document.querySelectorAll('section.panel')].some(s => s.querySelector('h2').innerText.startsWith('Imported') && s.querySelector('tbody'))`)
	tb.Do(`[...document.querySelectorAll('section.panel')].find(s => s.querySelector('h2').innerText.startsWith('Imported')).scrollIntoView({block: 'end'})`)
	tb.shot("imported.png")

	tb = h.newTab(t, loggedIn, viewport(1280, 1400, "light"))
	tb.open("/dashboard/?site=shop&view=consent&period=30d")
	tb.WaitJS("the consent view", `document.querySelectorAll('.panel table').length >= 4 && document.querySelector('.chart canvas')`)
	tb.shot("consent.png")

	tb = h.newTab(t, loggedIn, viewport(1280, 800, "dark"))
	tb.open("/dashboard/?site=shop&view=proof")
	tb.WaitJS("the form", `document.querySelector('#consent-id')`)
	tb.Do(`document.querySelector('#consent-id').value = '` + h.fx.Consent.String() + `'`)
	tb.Click(`document.querySelector('form.inline-form button')`)
	tb.WaitJS("the history", `document.querySelector('table.history')`)
	tb.shot("proof-dark.png")

	tb = h.newTab(t, viewport(1280, 800, "light"))
	tb.open("/login")
	tb.WaitJS("the form", `document.querySelector('form#login')`)
	tb.shot("login.png")
}
