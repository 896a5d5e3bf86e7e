package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/app"
	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
)

// The dashboard logins of these tests, all with password.
const (
	password = "correct horse battery"
	ana      = "ana@example.org"
	bob      = "bob@example.org"
	attacker = "203.0.113.7"
)

var (
	hashOnce sync.Once
	pwHash   string
)

// behindProxy trusts the loopback address the tests connect from as a
// reverse proxy, so that X-Forwarded-For and X-Forwarded-Proto count.
func behindProxy(c *config.Serve, _ *model.Site) {
	c.TrustedProxies = config.CIDRList{netip.MustParsePrefix("127.0.0.1/32")}
}

// addUsers stores admin logins with password and reloads them.
func (f *fixture) addUsers(emails ...string) {
	f.t.Helper()
	hashOnce.Do(func() { pwHash, _ = auth.HashPassword(password) })
	for _, e := range emails {
		if err := f.db.PutUser(context.Background(), model.User{Email: e, PasswordHash: pwHash, Role: "admin"}); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.app.ReloadAuth(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

// node is a crumb server answering real HTTP on a loopback port.
type node struct {
	t    *testing.T
	base string
	host string
}

// serve answers HTTP for a on a new loopback port until the test ends.
func serve(t *testing.T, a *app.App) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.HTTP.Listener(ln)
	t.Cleanup(func() { _ = a.HTTP.Shutdown() })
	return &node{t: t, base: "http://" + ln.Addr().String(), host: ln.Addr().String()}
}

// secondNode is another crumb node on the fixture's database, with its own
// data folder, as behind a load balancer.
func (f *fixture) secondNode() *app.App {
	f.t.Helper()
	cfg := config.Serve{Common: config.Common{DataDir: f.t.TempDir()}, BufferMax: 1000, BatchSize: 500,
		FlushInterval: time.Hour, SyncInterval: time.Second, SitesRefresh: time.Hour, DNSResolver: "off"}
	a, err := app.New(context.Background(), &cfg, f.db, []byte(secret), slog.New(slog.DiscardHandler))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { a.Close() })
	return a
}

type httpResult struct {
	code    int
	header  http.Header
	body    map[string]any
	session string // the crumb_session cookie set, if any
	cookie  *http.Cookie
}

var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send makes a request with body: nil, a form (url.Values) or JSON (a
// string); headers are name, value pairs.
func (n *node) send(method, path string, body any, headers ...string) httpResult {
	n.t.Helper()
	var r io.Reader
	typ := ""
	switch b := body.(type) {
	case url.Values:
		r, typ = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		r, typ = strings.NewReader(b), "text/plain"
	}
	req, err := http.NewRequest(method, n.base+path, r)
	if err != nil {
		n.t.Fatal(err)
	}
	if typ != "" {
		req.Header.Set("Content-Type", typ)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := httpResult{code: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(raw, &out.body)
	for _, c := range resp.Cookies() {
		if c.Name == "crumb_session" && c.Value != "" {
			out.session, out.cookie = c.Value, c
		}
	}
	return out
}

// login posts the login form for email with pw; headers are name, value
// pairs.
func (n *node) login(email, pw, next string, headers ...string) httpResult {
	n.t.Helper()
	return n.send("POST", "/login", url.Values{"email": {email}, "password": {pw}, "next": {next}}, headers...)
}

// stats reads a stats route with the session cookie and returns the status.
func (n *node) stats(session string) int {
	n.t.Helper()
	return n.send("GET", "/api/v1/stats/site1/overview?period=7d", nil, "Cookie", "crumb_session="+session).code
}

// csrf returns the CSRF token of a session.
func (n *node) csrf(session string) string {
	n.t.Helper()
	res := n.send("GET", "/dashboard/api/session", nil, "Cookie", "crumb_session="+session)
	tok, _ := res.body["csrf"].(string)
	if res.code != 200 || tok == "" {
		n.t.Fatalf("session info: %d %v", res.code, res.body)
	}
	return tok
}

// logout posts /logout from the dashboard's own page.
func (n *node) logout(session string) httpResult {
	n.t.Helper()
	return n.send("POST", "/logout", nil, "Cookie", "crumb_session="+session, "X-CSRF-Token", n.csrf(session), "Origin", n.base)
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestLoginLockoutBehindProxy_OnlyTheGuessingClientIsSlowed(t *testing.T) {
	f := newFixture(t, behindProxy)
	f.addUsers(ana, bob)
	n := serve(t, f.app)
	// Behind nginx every request comes from the proxy; the attacker guesses
	// ana's password until refused.
	refused := false
	for i := 0; i < 8 && !refused; i++ {
		res := n.login(ana, "not the password", "/dashboard/", "Accept", "application/json", "X-Forwarded-For", attacker)
		switch res.code {
		case 429:
			refused = true
			if res.header.Get("Retry-After") == "" || !strings.Contains(res.body["error"].(string), "try again in") {
				t.Fatalf("refusal: %v %v", res.header, res.body)
			}
		case 401:
		default:
			t.Fatalf("guess %d: %d %v", i+1, res.code, res.body)
		}
	}
	if !refused {
		t.Fatal("8 wrong guesses from one address in a row, none refused")
	}
	// Everyone else behind the same proxy, ana included, logs in at once.
	if res := n.login(ana, password, "/dashboard/", "Accept", "application/json", "X-Forwarded-For", visitorIP); res.code != 200 || res.session == "" {
		t.Fatalf("ana from her own address: %d %v", res.code, res.body)
	}
	if res := n.login(bob, password, "/dashboard/", "Accept", "application/json", "X-Forwarded-For", "81.2.69.161"); res.code != 200 || res.session == "" {
		t.Fatalf("bob: %d %v", res.code, res.body)
	}
}

func TestOpenRedirectAfterLogin_OnlySameOriginPathsSurvive(t *testing.T) {
	f := newFixture(t, nil)
	f.addUsers(ana)
	n := serve(t, f.app)
	for _, next := range []string{
		`/\evil.example/phish`, "/%09/evil.example", "/\t/evil.example", "//evil.example", "/%2F%2Fevil.example",
		"/%5Cevil.example", "https://evil.example/", "javascript:alert(1)", "evil.example", "/ /evil.example", "",
	} {
		res := n.login(ana, password, next)
		if res.code != 303 || res.header.Get("Location") != "/dashboard/" || res.session == "" {
			t.Errorf("next=%q: %d, Location %q", next, res.code, res.header.Get("Location"))
		}
	}
	if res := n.login(ana, password, "/dashboard/?site=site1&period=30d#consent"); res.header.Get("Location") != "/dashboard/?site=site1&period=30d#consent" {
		t.Errorf("a dashboard path: Location %q", res.header.Get("Location"))
	}
	// A wrong password sends the browser back to the form, with next made safe.
	res := n.login(ana, "not the password", `/\evil.example/phish`)
	if loc := res.header.Get("Location"); res.code != 303 || !strings.HasPrefix(loc, "/login?error=") || !strings.HasSuffix(loc, "&next=%2Fdashboard%2F") {
		t.Errorf("wrong password: %d, Location %q", res.code, loc)
	}
}

func TestLoginCSRF_AForeignSiteCannotLogTheBrowserIn(t *testing.T) {
	f := newFixture(t, func(c *config.Serve, _ *model.Site) { c.PublicURL = "https://crumb.example" })
	f.addUsers(ana)
	n := serve(t, f.app)
	// evil.example auto-submits a form with its own account's password.
	for _, headers := range [][]string{
		{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Origin", "null", "Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
	} {
		res := n.login(ana, password, "/dashboard/", headers...)
		if res.code != 403 || res.session != "" || res.header.Get("Set-Cookie") != "" || !strings.Contains(res.body["error"].(string), "cross-site") {
			t.Errorf("login with %v: %d %v, cookie %q", headers, res.code, res.body, res.session)
		}
	}
	// The dashboards' own login form, at the public URL or at the Host.
	for _, origin := range []string{"https://crumb.example", n.base} {
		if res := n.login(ana, password, "/dashboard/", "Origin", origin, "Sec-Fetch-Site", "same-origin"); res.code != 303 || res.session == "" {
			t.Errorf("login from %s: %d %v", origin, res.code, res.body)
		}
	}
	// A forged logout is refused and leaves the session alive.
	session := n.login(ana, password, "/dashboard/").session
	res := n.send("POST", "/logout", nil, "Cookie", "crumb_session="+session, "X-CSRF-Token", n.csrf(session), "Origin", "https://evil.example")
	if res.code != 403 || n.stats(session) != 200 {
		t.Fatalf("cross-site logout: %d; stats afterwards %d", res.code, n.stats(session))
	}
	// The tracker's routes stay cross-origin: the site's pages post to them.
	if res := n.send("POST", "/api/impressions", `{"site":"site1","url":"https://example.com/"}`, "Origin", "https://example.com", "Sec-Fetch-Site", "cross-site"); res.code != 202 {
		t.Fatalf("impression from the site: %d %v", res.code, res.body)
	}
}

func TestLogoutEndsTheSessionOnEveryNode(t *testing.T) {
	f := newFixture(t, nil)
	f.addUsers(ana)
	a, b := serve(t, f.app), serve(t, f.secondNode())
	res := a.login(ana, password, "/dashboard/")
	if res.session == "" {
		t.Fatalf("login: %d %v", res.code, res.header)
	}
	session := res.session
	if a.stats(session) != 200 || b.stats(session) != 200 {
		t.Fatalf("a fresh session: node a %d, node b %d", a.stats(session), b.stats(session))
	}
	// The store keeps a hash of the session's secret, not the cookie.
	payload, _ := base64.RawURLEncoding.DecodeString(session[:strings.IndexByte(session, '.')])
	secretPart := string(payload[strings.LastIndexByte(string(payload), 0)+1:])
	if n := f.count("SELECT count() FROM sessions WHERE position(concat(session_id, email, secret_hash), ?) > 0", secretPart); n != 0 {
		t.Fatalf("the session's secret is stored in %d rows", n)
	}
	if res := a.logout(session); res.code != 200 {
		t.Fatalf("logout: %d %v", res.code, res.body)
	}
	if code := a.stats(session); code != 401 {
		t.Fatalf("the old cookie on the node that logged out: %d", code)
	}
	eventually(t, "the other node refuses the old cookie", func() bool { return b.stats(session) == 401 })
}

func TestPasswordChangeAndUserRemovalEndSessions(t *testing.T) {
	f := newFixture(t, nil)
	f.addUsers(ana, bob)
	n := serve(t, f.app)
	ana1, ana2, bob1 := n.login(ana, password, "/").session, n.login(ana, password, "/").session, n.login(bob, password, "/").session
	for _, s := range []string{ana1, ana2, bob1} {
		if n.stats(s) != 200 {
			t.Fatal("a fresh session cannot read stats")
		}
	}
	// crumb user password ana@example.org: a new hash, every session revoked.
	ctx := context.Background()
	hash, err := auth.HashPassword("a new password!")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutUser(ctx, model.User{Email: ana, PasswordHash: hash, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	if revoked, err := f.db.RevokeSessions(ctx, ana); err != nil || revoked != 2 {
		t.Fatalf("revoked %d of ana's sessions, %v", revoked, err)
	}
	eventually(t, "ana's sessions end", func() bool { return n.stats(ana1) == 401 && n.stats(ana2) == 401 })
	if n.stats(bob1) != 200 {
		t.Fatal("bob's session ended with ana's password")
	}
	// crumb user remove bob@example.org.
	if err := f.db.DeleteUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob's session ends", func() bool { return n.stats(bob1) == 401 })
	live, err := f.db.Sessions(ctx)
	if err != nil || len(live) != 0 {
		t.Fatalf("live sessions left: %+v, %v", live, err)
	}
}

func TestSessionCookieOverTLS_SecureAndHSTSBehindATrustedProxy(t *testing.T) {
	f := newFixture(t, behindProxy)
	f.addUsers(ana)
	n := serve(t, f.app)
	plain := n.login(ana, password, "/dashboard/")
	if plain.cookie == nil || plain.cookie.Secure || plain.header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("over plain HTTP: cookie %+v, HSTS %q", plain.cookie, plain.header.Get("Strict-Transport-Security"))
	}
	tls := n.login(ana, password, "/dashboard/", "X-Forwarded-Proto", "https")
	if c := tls.cookie; c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("behind a TLS proxy: cookie %+v", c)
	}
	for _, res := range []httpResult{tls, n.send("GET", "/healthz", nil, "X-Forwarded-Proto", "https")} {
		if got := res.header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Fatalf("HSTS behind a TLS proxy = %q", got)
		}
	}
	// X-Forwarded-Proto from a peer that is not a trusted proxy is ignored.
	g := newFixture(t, nil)
	g.addUsers(ana)
	direct := serve(t, g.app).login(ana, password, "/dashboard/", "X-Forwarded-Proto", "https")
	if direct.cookie == nil || direct.cookie.Secure || direct.header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("X-Forwarded-Proto from an untrusted peer: cookie %+v, HSTS %q", direct.cookie, direct.header.Get("Strict-Transport-Security"))
	}
	// An https public URL marks the cookie Secure on its own.
	h := newFixture(t, func(c *config.Serve, _ *model.Site) { c.PublicURL = "https://crumb.example" })
	h.addUsers(ana)
	public := serve(t, h.app).login(ana, password, "/dashboard/")
	if public.cookie == nil || !public.cookie.Secure || public.header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("https public URL: cookie %+v, HSTS %q", public.cookie, public.header.Get("Strict-Transport-Security"))
	}
}
