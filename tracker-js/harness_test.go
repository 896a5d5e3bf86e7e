package trackerjs_test

// The harness of the browser tests: the real crumb server (real ClickHouse)
// in-process, a front server that serves the fixture pages of testdata/ as
// www.shop.test and proxies crumb.test to crumb while recording every API
// request, and one headless Chromium whose tests each get a fresh browser
// context (own cookies and cache).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/crumbhq/crumb/server/testkit/browsertest"
	"github.com/crumbhq/crumb/server/testkit/crumbtest"
)

func TestMain(m *testing.M) { crumbtest.Main(m) }

const (
	// A desktop Chrome: headless Chromium's own user agent is a bot to crumb.
	userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	secret    = "0123456789abcdef0123456789abcdef"
)

// apiRequest is one request the browser made to crumb's API.
type apiRequest struct {
	At     time.Time
	Method string
	Path   string
	Origin string
	Body   map[string]any
	Status int
}

// site returns the site ID the request names.
func (r apiRequest) site() string { s, _ := r.Body["site"].(string); return s }

// events returns the events of a POST /api/events.
func (r apiRequest) events() []map[string]any {
	var out []map[string]any
	list, _ := r.Body["events"].([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

type harness struct {
	app     *crumbtest.App
	db      *crumbtest.DB
	port    string // the front server's port
	dead    string // an address nothing listens on
	browser context.Context

	mu          sync.Mutex
	reqs        []apiRequest
	failConsent atomic.Bool // answer /api/consent with a dropped connection
	nsite       atomic.Int64
}

// newHarness starts crumb, the front server and Chromium for the subtests of t.
func newHarness(t *testing.T) *harness {
	t.Helper()
	browser := browsertest.Start(t,
		chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.UserAgent(userAgent),
		chromedp.WindowSize(1280, 800),
	)
	h := &harness{db: crumbtest.NewDB(t), browser: browser}
	ctx := context.Background()
	var cfg crumbtest.Config
	cfg.DataDir = t.TempDir()
	cfg.BufferMax, cfg.BatchSize = 10000, 1000
	cfg.FlushInterval, cfg.SyncInterval, cfg.SitesRefresh = time.Hour, time.Second, time.Hour
	a, err := crumbtest.NewApp(ctx, &cfg, h.db, []byte(secret), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h.app = a
	crumbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.HTTP.Listener(crumbLn)
	t.Cleanup(func() {
		a.HTTP.ShutdownWithTimeout(5 * time.Second)
		a.Close()
	})

	deadLn, _ := net.Listen("tcp", "127.0.0.1:0")
	h.dead = "http://" + deadLn.Addr().String()
	deadLn.Close()

	target, _ := url.Parse("http://" + crumbLn.Addr().String())
	proxy := httputil.NewSingleHostReverseProxy(target)
	frontLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, h.port, _ = net.SplitHostPort(frontLn.Addr().String())
	front := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// crumb.test is crumb; on other hosts, crumb's own paths (the demo
		// pages, the script, the API) go to crumb too.
		if strings.HasPrefix(r.Host, "crumb.test") || r.URL.Path == "/t.js" || strings.HasPrefix(r.URL.Path, "/demo") || strings.HasPrefix(r.URL.Path, "/api/") {
			h.proxy(proxy, w, r)
			return
		}
		h.fixture(w, r)
	})}
	go front.Serve(frontLn)
	t.Cleanup(func() { front.Close() })

	return h
}

// proxy forwards a request to crumb and records it.
func (h *harness) proxy(p *httputil.ReverseProxy, w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		p.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := apiRequest{At: time.Now(), Method: r.Method, Path: r.URL.Path, Origin: r.Header.Get("Origin")}
	_ = json.Unmarshal(body, &rec.Body)
	if r.URL.Path == "/api/consent" && h.failConsent.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		rec.Status = -1
		h.record(rec)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: 200}
	p.ServeHTTP(sw, r)
	rec.Status = sw.status
	h.record(rec)
}

func (h *harness) record(r apiRequest) {
	h.mu.Lock()
	h.reqs = append(h.reqs, r)
	h.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// fixture serves testdata: /s/SITE/PAGE is testdata/PAGE with {{SITE}},
// {{CRUMB}} and {{DEAD}} filled in; /static/F is testdata/F; /files/* is
// any small file.
func (h *harness) fixture(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "s":
		data, err := os.ReadFile(path.Join("testdata", path.Base(parts[2])))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		page := strings.NewReplacer("{{SITE}}", parts[1], "{{CRUMB}}", "http://crumb.test:"+h.port, "{{DEAD}}", h.dead).Replace(string(data))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if rp := r.URL.Query().Get("referrer-policy"); rp != "" {
			w.Header().Set("Referrer-Policy", rp)
		}
		if parts[2] == "strict.html" {
			// The policy the embedding README gives a site without
			// 'unsafe-inline'.
			crumb := "http://crumb.test:" + h.port
			w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' "+crumb+"; connect-src "+crumb+"; style-src 'self'")
		}
		io.WriteString(w, page)
	case len(parts) == 2 && parts[0] == "static":
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, path.Join("testdata", path.Base(parts[1])))
	case r.URL.Path == "/favicon.ico":
		w.WriteHeader(http.StatusNoContent)
	case parts[0] == "files":
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, "file")
	default:
		http.NotFound(w, r)
	}
}

// requests returns the recorded API requests of site to path.
func (h *harness) requests(site, path string) []apiRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []apiRequest
	for _, r := range h.reqs {
		if r.site() == site && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// eventsOf returns the events of type typ that site's requests carried.
func (h *harness) eventsOf(site, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range h.requests(site, "/api/events") {
		for _, e := range r.events() {
			if typ == "" || e["type"] == typ {
				out = append(out, e)
			}
		}
	}
	return out
}

// waitFor polls cond for up to 5 s.
// waitEvents waits until site has sent n events of type typ.
func (h *harness) waitEvents(t *testing.T, site, typ string, n int) []map[string]any {
	t.Helper()
	browsertest.WaitFor(t, fmt.Sprintf("%d %s event(s)", n, typ), func() bool { return len(h.eventsOf(site, typ)) >= n })
	return h.eventsOf(site, typ)
}

// waitRequests waits until site has made n requests to path.
func (h *harness) waitRequests(t *testing.T, site, path string, n int) []apiRequest {
	t.Helper()
	browsertest.WaitFor(t, fmt.Sprintf("%d request(s) to %s", n, path), func() bool { return len(h.requests(site, path)) >= n })
	return h.requests(site, path)
}

// newSite registers a site for shop.test (or domain) with declared cookies
// in every category; tweak may change it before it is stored.
func (h *harness) newSite(t *testing.T, tweak func(*crumbtest.Site)) string {
	t.Helper()
	s := crumbtest.NewSite(fmt.Sprintf("site%d", h.nsite.Add(1)), "shop.test")
	s.Banner.PolicyURL = "https://shop.test/privacy"
	s.Banner.NecessaryCookies = []crumbtest.Cookie{{Name: "session_id", Provider: "Shop", Purpose: "Keeps you signed in", Duration: "Session"}}
	s.Banner.Categories = []crumbtest.CategoryConfig{
		{ID: "performance", Cookies: []crumbtest.Cookie{
			{Name: "_ga", Provider: "Google", Purpose: "Distinguishes visitors", Duration: "2 years"},
			{Name: "_ga_*", Provider: "Google", Purpose: "Keeps the session state", Duration: "2 years"},
			{Name: "_perf", Provider: "Shop", Purpose: "Measures page speed", Duration: "1 day"},
		}},
		{ID: "functionality", Cookies: []crumbtest.Cookie{{Name: "_fn", Provider: "Maps", Purpose: "Remembers the map's zoom", Duration: "1 year"}}},
		{ID: "targeting", Cookies: []crumbtest.Cookie{
			{Name: "_ads", Provider: "AdNet", Purpose: "Shows relevant ads", Duration: "90 days"},
			{Name: "_ads_wide", Provider: "AdNet", Purpose: "Shows relevant ads across the shop's sites", Duration: "90 days"},
		}},
	}
	if tweak != nil {
		tweak(&s)
	}
	h.putSite(t, s)
	return s.ID
}

func (h *harness) putSite(t *testing.T, s crumbtest.Site) {
	t.Helper()
	ctx := context.Background()
	if err := h.db.PutSite(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := h.app.Sites.Load(ctx); err != nil {
		t.Fatal(err)
	}
}

// site returns the stored settings of site id.
func (h *harness) site(t *testing.T, id string) crumbtest.Site {
	t.Helper()
	s, ok := h.app.Sites.Get(context.Background(), id)
	if !ok {
		t.Fatalf("no site %s", id)
	}
	return *s
}

// flush writes the buffered records to ClickHouse.
func (h *harness) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.app.Buffer.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// count runs a counting query.
func (h *harness) count(t *testing.T, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := h.db.Conn().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// tab is one page in a fresh browser context.
type tab struct {
	*browsertest.Tab
	h    *harness
	site string
	host string
}

type tabOption func(*tab)

// withInit runs script in every document before the page's own scripts.
func withInit(script string) tabOption {
	return func(tb *tab) {
		if _, err := chromedp.Call(tb.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
			tb.T.Fatal(err)
		}
	}
}

// withLanguage makes the browser ask for lang (Accept-Language and navigator.languages).
func withLanguage(lang string) tabOption {
	return func(tb *tab) {
		if _, err := chromedp.Call(tb.Ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent, AcceptLanguage: lang}); err != nil {
			tb.T.Fatal(err)
		}
	}
}

// withHost serves the pages from host (default www.shop.test).
func withHost(host string) tabOption { return func(tb *tab) { tb.host = host } }

// newTab opens a tab in a new browser context for site.
func (h *harness) newTab(t *testing.T, site string, opts ...tabOption) *tab {
	t.Helper()
	tb := &tab{Tab: browsertest.NewTab(t, h.browser), h: h, site: site, host: "www.shop.test"}
	for _, o := range opts {
		o(tb)
	}
	return tb
}

// url returns the address of fixture page p for the tab's site.
func (tb *tab) url(p string) string {
	return fmt.Sprintf("http://%s:%s/s/%s/%s", tb.host, tb.h.port, tb.site, p)
}

// open loads fixture page p and waits until crumb has started.
func (tb *tab) open(p string) {
	tb.T.Helper()
	tb.Navigate(tb.url(p))
	tb.WaitJS("crumb has started", `window.crumb && window.crumb.consent && document.readyState == 'complete'`)
}

// eval evaluates expr in the page and decodes its value into T.
func eval[T any](tb *tab, expr string) T {
	tb.T.Helper()
	return browsertest.Eval[T](tb.Tab, expr)
}

// The banner lives in a shadow root: these expressions reach into it.
const (
	shadow     = `document.querySelector('crumb-consent').shadowRoot`
	firstLayer = shadow + `.querySelector('.b:not(.m)')`
	settings   = shadow + `.querySelector('.m')`
	fab        = shadow + `.querySelector('.f')`
	focused    = `(document.activeElement && document.activeElement.shadowRoot ? document.activeElement.shadowRoot.activeElement : document.activeElement)`
)

// button returns a JS expression for the button labelled text in the
// dialog sel.
func button(sel, text string) string {
	return fmt.Sprintf(`[...%s.querySelectorAll('button')].find(b => b.textContent == %q)`, sel, text)
}

// cookies returns the browser's cookies for the page, by name.
func (tb *tab) cookies() map[string]*network.Cookie {
	tb.T.Helper()
	res, err := chromedp.Call(tb.Ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.url("")}})
	if err != nil {
		tb.T.Fatal(err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// stored returns the decision cookie, decoded.
func (tb *tab) stored() map[string]any {
	tb.T.Helper()
	c, ok := tb.cookies()["crumb_consent"]
	if !ok {
		return nil
	}
	raw, err := url.QueryUnescape(c.Value)
	if err != nil {
		tb.T.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		tb.T.Fatal(err)
	}
	return m
}

// confirmed waits until the server has answered the stored decision (the
// answer names the consent and its key) and returns it.
func (tb *tab) confirmed() map[string]any {
	tb.T.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := tb.stored()
		if st != nil && st["p"] == float64(0) {
			return st
		}
		if time.Now().After(deadline) {
			tb.T.Fatalf("decision not confirmed by the server: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// quiet waits a little and checks that site sent no more events than n.
func (h *harness) quiet(t *testing.T, site string, n int) {
	t.Helper()
	h.quietType(t, site, "", n)
}

// quietType waits a little and checks that site sent n events of type typ
// ("": any type).
func (h *harness) quietType(t *testing.T, site, typ string, n int) {
	t.Helper()
	time.Sleep(700 * time.Millisecond)
	if got := h.eventsOf(site, typ); len(got) != n {
		t.Fatalf("site sent %d %s events, want %d: %v", len(got), typ, n, got)
	}
}

// clearCache drops the browser's HTTP cache (the config is cached 60 s).
func (tb *tab) clearCache() {
	tb.T.Helper()
	if _, err := chromedp.Call(tb.Ctx, network.ClearBrowserCache, cdp.Empty{}); err != nil {
		tb.T.Fatal(err)
	}
}
