package dashboards_test

// The harness of the dashboard's browser tests: the real crumb server (real
// ClickHouse) in-process with a site, a second site, a dashboard user, a
// share link and the traffic fixture, and one headless Chromium whose tests
// each get a fresh browser context (own cookies and cache).

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/crumbhq/crumb/server/testkit/browsertest"
	"github.com/crumbhq/crumb/server/testkit/crumbtest"
)

func TestMain(m *testing.M) { crumbtest.Main(m) }

const (
	secret = "0123456789abcdef0123456789abcdef"

	siteID   = "shop"
	domain   = "shop.example"
	email    = "owner@shop.example"
	password = "correct horse battery"
	shareID  = "pub-shop-2026"
)

type harness struct {
	app     *crumbtest.App
	db      *crumbtest.DB
	base    string // http://127.0.0.1:PORT
	fx      fixture
	session string // a crumb_session cookie value of the user
	browser context.Context
}

// newHarness starts crumb on a fresh database with the fixture, and Chromium.
func newHarness(t *testing.T) *harness {
	t.Helper()
	browser := browsertest.Start(t,
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 900),
	)
	h := &harness{db: crumbtest.NewDB(t), browser: browser}
	ctx := context.Background()

	s := crumbtest.NewSite(siteID, domain)
	s.Name = "Shop"
	s.AnonymousCounting = true
	s.Goals = []crumbtest.Goal{{Name: "Signup", Match: "event:signup"}, {Name: "Pricing page", Match: "page:/pricing"}}
	s.Funnels = []crumbtest.Funnel{{Name: "Pricing to signup", Steps: []string{"page:/", "page:/pricing", "event:signup"}, Window: "visit"}}
	if err := h.db.PutSite(ctx, s); err != nil {
		t.Fatal(err)
	}
	blog := crumbtest.NewSite("staging", "staging.shop.example")
	blog.Name = "Staging"
	if err := h.db.PutSite(ctx, blog); err != nil {
		t.Fatal(err)
	}
	if err := crumbtest.AddUser(ctx, h.db, email, password, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := h.db.PutShareLink(ctx, crumbtest.ShareLink{ID: shareID, SiteID: siteID, Name: "public"}); err != nil {
		t.Fatal(err)
	}
	h.fx = loadFixture(t, h.db, siteID, domain, time.Now())
	// Plausible's numbers for the 20 days before the fixture's own.
	first := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -80)
	imp := &crumbtest.ImportData{Format: "plausible"}
	for d := 0; d < 20; d++ {
		day := first.AddDate(0, 0, d)
		imp.Days = append(imp.Days, crumbtest.ImportDay{Date: day, Visitors: 40, Visits: 50, Pageviews: 120, Bounces: 20, VisitDurationSecond: 3000, HasVisits: true})
		imp.Rows = append(imp.Rows, crumbtest.ImportRow{Date: day, Dim: "page", Value: "/old-home", Visitors: 30, Pageviews: 90},
			crumbtest.ImportRow{Date: day, Dim: "source", Value: "Google", Visitors: 10, Pageviews: 25})
	}
	if _, err := h.db.Import(ctx, siteID, imp); err != nil {
		t.Fatal(err)
	}

	var cfg crumbtest.Config
	cfg.DataDir = t.TempDir()
	cfg.BufferMax, cfg.BatchSize = 10000, 1000
	cfg.FlushInterval, cfg.SyncInterval, cfg.SitesRefresh = time.Hour, time.Second, time.Hour
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("CRUMB_TEST_LOG") != "" { // the server's log, to debug a failing test
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	a, err := crumbtest.NewApp(ctx, &cfg, h.db, []byte(secret), log)
	if err != nil {
		t.Fatal(err)
	}
	h.app = a
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.HTTP.Listener(ln)
	t.Cleanup(func() {
		a.HTTP.ShutdownWithTimeout(5 * time.Second)
		a.Close()
	})
	h.base = "http://" + ln.Addr().String()
	h.session = h.login(t)

	return h
}

// login logs the user in over HTTP (once: logins are rate-limited per
// address) and returns the session cookie's value.
func (h *harness) login(t *testing.T) string {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}, "next": {"/dashboard/"}}
	req, _ := http.NewRequest("POST", h.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "crumb_session" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatalf("login: %s, no session cookie", res.Status)
	return ""
}

// tab is one page in a fresh browser context.
type tab struct {
	*browsertest.Tab
	h *harness
}

type tabOption func(*tab)

// loggedIn gives the tab the user's session cookie.
func loggedIn(tb *tab) {
	tb.T.Helper()
	u, _ := url.Parse(tb.h.base)
	_, err := chromedp.Call(tb.Ctx, network.SetCookie, network.SetCookieParams{Name: "crumb_session", Value: tb.h.session,
		Domain: u.Hostname(), Path: "/", HTTPOnly: ptr(true), SameSite: network.CookieSameSiteStrict})
	if err != nil {
		tb.T.Fatal(err)
	}
}

// viewport sets the tab's size and colour scheme.
func viewport(w, ht int64, scheme string) tabOption {
	return func(tb *tab) {
		tb.T.Helper()
		if err := chromedp.Do(tb.Ctx, chromedp.EmulateViewport(w, ht)); err != nil {
			tb.T.Fatal(err)
		}
		_, err := chromedp.Call(tb.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{
			{Name: "prefers-color-scheme", Value: scheme}, {Name: "prefers-reduced-motion", Value: "reduce"},
		}})
		if err != nil {
			tb.T.Fatal(err)
		}
	}
}

// answerOnce makes the page's first request whose address contains each
// key answer with that status, Retry-After: 1 and a JSON error, as a busy
// node (503) or a share link past its rate (429) would; later requests
// reach crumb. window.__answered counts the answers given.
func answerOnce(status map[string]int) tabOption {
	return func(tb *tab) {
		tb.T.Helper()
		js, err := json.Marshal(status)
		if err != nil {
			tb.T.Fatal(err)
		}
		script := `(() => {
			const status = ` + string(js) + `, done = {}, f = window.fetch;
			window.__answered = 0;
			window.fetch = function (input, init) {
				const u = String((input && input.url) || input);
				for (const k in status) {
					if (!done[k] && u.includes(k)) {
						done[k] = true;
						window.__answered++;
						return Promise.resolve(new Response(JSON.stringify({ error: 'busy, try again' }),
							{ status: status[k], headers: { 'Retry-After': '1', 'Content-Type': 'application/json' } }));
					}
				}
				return f.apply(this, arguments);
			};
		})();`
		if _, err := chromedp.Call(tb.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
			tb.T.Fatal(err)
		}
	}
}

// newTab opens a tab in a new browser context.
func (h *harness) newTab(t *testing.T, opts ...tabOption) *tab {
	t.Helper()
	tb := &tab{Tab: browsertest.NewTab(t, h.browser), h: h}
	for _, o := range opts {
		o(tb)
	}
	return tb
}

// open loads path (relative to crumb) in the tab.
func (tb *tab) open(path string) {
	tb.T.Helper()
	tb.Navigate(tb.h.base + path)
}

// eval evaluates expr in the page and decodes its value into T.
func eval[T any](tb *tab, expr string) T {
	tb.T.Helper()
	return browsertest.Eval[T](tb.Tab, expr)
}

// text returns the visible text of the first element matching the CSS
// selector sel, or "" when there is none.
func (tb *tab) text(sel string) string {
	tb.T.Helper()
	return eval[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ''}).innerText.trim()`, sel))
}

// texts returns the visible texts of the elements matching sel.
func (tb *tab) texts(sel string) []string {
	tb.T.Helper()
	return eval[[]string](tb, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.innerText.trim())`, sel))
}

// waitText waits until an element matching sel shows text containing want.
func (tb *tab) waitText(sel, want string) {
	tb.T.Helper()
	expr := fmt.Sprintf(`[...document.querySelectorAll(%q)].some(e => e.innerText.includes(%q))`, sel, want)
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[bool](expr))
		if err == nil && v {
			return
		}
		if time.Now().After(deadline) {
			got = tb.texts(sel)
			tb.T.Fatalf("timed out waiting for %q in %s; it shows %q", want, sel, got)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// url returns the page's address.
func (tb *tab) url() string { return eval[string](tb, `location.href`) }

// byText is a JS expression for the first element matching sel whose text
// contains s.
func byText(sel, s string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].find(e => e.innerText.includes(%q))`, sel, s)
}

// shot writes a PNG of the viewport to screenshots/.
func (tb *tab) shot(name string) {
	tb.T.Helper()
	// No hover effect where the last click left the pointer.
	tb.shotAt(name, 1, 1)
}

// shotAt writes a PNG of the viewport with the pointer at x, y.
func (tb *tab) shotAt(name string, x, y float64) {
	tb.T.Helper()
	if err := chromedp.Do(tb.Ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y)); err != nil {
		tb.T.Fatal(err)
	}
	tb.Do(`document.activeElement && document.activeElement.blur()`)
	time.Sleep(150 * time.Millisecond)
	png, err := chromedp.Run(tb.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.T.Fatal(err)
	}
	if len(png) > 250<<10 {
		tb.T.Errorf("%s is %d KB, over 250 KB", name, len(png)>>10)
	}
	if err := os.WriteFile("screenshots/"+name, png, 0o644); err != nil {
		tb.T.Fatal(err)
	}
	tb.T.Logf("%s: %d KB", name, len(png)>>10)
}

func ptr[T any](v T) *T { return &v }
