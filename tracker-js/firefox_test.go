package trackerjs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFirefox runs the banner's main scenarios in a second engine: Debian's
// Firefox ESR, driven over WebDriver BiDi by puppeteer-core
// (firefox/scenarios.cjs; server/scripts/test installs both and sets
// CRUMB_PUPPETEER_DIR and CRUMB_FIREFOX). Before a decision, reject all,
// accept all, keyboard only, and Firefox's own Global Privacy Control,
// which the browser sends both as navigator.globalPrivacyControl and as the
// Sec-GPC header: "Accept all" leaves targeting off, and the proof says
// both carried the signal.
func TestFirefox(t *testing.T) {
	modules, firefox := os.Getenv("CRUMB_PUPPETEER_DIR"), os.Getenv("CRUMB_FIREFOX")
	if modules == "" || firefox == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CRUMB_PUPPETEER_DIR and CRUMB_FIREFOX are not set: run server/scripts/test")
		}
		t.Skip("no Firefox (CRUMB_PUPPETEER_DIR, CRUMB_FIREFOX; server/scripts/test installs them)")
	}
	h := newHarness(t)
	sites := map[string]string{}
	for _, s := range []string{"before", "reject", "accept", "keyboard", "gpc", "strict"} {
		sites[s] = h.newSite(t, nil)
	}
	cfg, _ := json.Marshal(map[string]any{"base": "http://www.shop.test:" + h.port, "sites": sites})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "firefox/scenarios.cjs")
	cmd.Env = append(os.Environ(), "CRUMB_SCENARIOS="+string(cfg), "NODE_PATH="+modules, "CRUMB_FIREFOX="+firefox)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("scenarios: %v\n%s", err, stderr.String())
	}
	t.Logf("Firefox scenarios in %v", time.Since(start).Round(time.Millisecond))
	type decision struct {
		ID string   `json:"id"`
		C  []string `json:"c"`
		G  bool     `json:"g"`
		A  string   `json:"a"`
	}
	var out struct {
		Before struct {
			UA              string
			Buttons         []string
			FocusedInBanner bool
			Log             []string
			Cookies         map[string]string
			Errors          []string
		}
		Reject struct {
			Decision    decision
			BannerAgain bool
			Log         []string
			Cookies     map[string]string
			Errors      []string
		}
		Accept struct {
			Decision decision
			Log      []string
			Cookies  map[string]string
			Errors   []string
		}
		Keyboard struct {
			Steps    []string
			Decision decision
			Errors   []string
		}
		GPC struct {
			NavigatorGPC bool `json:"navigatorGPC"`
			Decision     decision
			Cookies      map[string]string
			Errors       []string
		}
		Strict struct {
			Style           string
			FocusedInBanner bool
			Violations      []string
			Decision        decision
			Errors          []string
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("scenarios' output: %v\n%s", err, stdout.String())
	}
	h.flush(t)

	// Before a decision.
	b := out.Before
	if !strings.Contains(b.UA, "Firefox/") {
		t.Errorf("not Firefox: %s", b.UA)
	}
	if !slices.Equal(b.Buttons, []string{"Accept all", "Reject all", "Customize"}) || !b.FocusedInBanner {
		t.Errorf("first layer: buttons %q, focused %v", b.Buttons, b.FocusedInBanner)
	}
	if len(b.Log) != 0 || len(b.Cookies) != 0 || len(h.eventsOf(sites["before"], "")) != 0 {
		t.Errorf("before a decision: gated tags %v, cookies %v, %d events", b.Log, b.Cookies, len(h.eventsOf(sites["before"], "")))
	}
	// Reject all.
	r := out.Reject
	if r.Decision.A != "reject_all" || len(r.Decision.C) != 0 || r.BannerAgain || len(r.Log) != 0 || r.Cookies["crumb_vid"] != "" {
		t.Errorf("reject all: %+v", r)
	}
	// Accept all.
	a := out.Accept
	if a.Decision.A != "accept_all" || !slices.Contains(a.Decision.C, "targeting") || a.Cookies["crumb_vid"] == "" || len(a.Log) == 0 {
		t.Errorf("accept all: %+v", a)
	}
	h.waitEvents(t, sites["accept"], "pageview", 1)
	// Keyboard only.
	k := out.Keyboard
	if !slices.Equal(k.Steps, []string{"dialog", "Privacy policy", "Accept all", "Reject all"}) || k.Decision.A != "reject_all" {
		t.Errorf("keyboard: steps %q, decision %+v", k.Steps, k.Decision)
	}
	// GPC.
	g := out.GPC
	if !g.NavigatorGPC || !g.Decision.G || slices.Contains(g.Decision.C, "targeting") || !slices.Contains(g.Decision.C, "performance") {
		t.Errorf("GPC: navigator %v, decision %+v", g.NavigatorGPC, g.Decision)
	}
	for _, s := range []struct{ name, action, gpcSource string }{
		{"reject", "reject_all", ""}, {"accept", "accept_all", ""}, {"keyboard", "reject_all", ""}, {"gpc", "accept_all", "both"},
	} {
		targeting := uint64(0)
		if s.name == "accept" {
			targeting = 1
		}
		if n := h.count(t, `SELECT count() FROM consent_decisions WHERE site_id = ? AND toString(action) = ? AND targeting = ? AND gpc_source = ?`,
			sites[s.name], s.action, targeting, s.gpcSource); n != 1 {
			t.Errorf("%s: %d stored decisions %s, targeting %d, gpc_source %q", s.name, n, s.action, targeting, s.gpcSource)
		}
	}
	// A strict Content-Security-Policy.
	st := out.Strict
	if !strings.HasPrefix(st.Style, "fixed ") || strings.HasSuffix(st.Style, "rgba(0, 0, 0, 0)") || !st.FocusedInBanner || len(st.Violations) > 0 || st.Decision.A != "reject_all" {
		t.Errorf("strict CSP: style %q, focused %v, violations %q, decision %+v", st.Style, st.FocusedInBanner, st.Violations, st.Decision)
	}
	for name, errs := range map[string][]string{"before": b.Errors, "reject": r.Errors, "accept": a.Errors, "keyboard": k.Errors, "gpc": g.Errors, "strict": st.Errors} {
		if len(errs) > 0 {
			t.Errorf("%s: page errors %v", name, errs)
		}
	}
}
