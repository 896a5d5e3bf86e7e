package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

const password = "correct horse battery"

var (
	hashOnce sync.Once
	pwHash   string
)

// passwordHash is the bcrypt hash of password, made once.
func passwordHash(t *testing.T) string {
	t.Helper()
	hashOnce.Do(func() { pwHash, _ = auth.HashPassword(password) })
	if pwHash == "" {
		t.Fatal("no password hash")
	}
	return pwHash
}

// loginFixture is the HTTP edge over logins kept in a real ClickHouse.
type loginFixture struct {
	t    *testing.T
	app  *fiber.App
	db   *clickhouse.DB
	auth *auth.Auth
}

// newLoginFixture builds the edge; tweak changes its dependencies.
func newLoginFixture(t *testing.T, tweak func(*httpapi.Deps)) *loginFixture {
	t.Helper()
	db := chtest.DB(t)
	f := &loginFixture{t: t, db: db, auth: auth.New(db, []byte(secret), nil)}
	f.reload()
	d := httpapi.Deps{Auth: f.auth}
	if tweak != nil {
		tweak(&d)
	}
	f.app = newServer(t, d)
	return f
}

func (f *loginFixture) reload() {
	f.t.Helper()
	if err := f.auth.Reload(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *loginFixture) addUser(email, role string, sites ...string) {
	f.t.Helper()
	roles := map[string]string{}
	for _, s := range sites {
		roles[s] = "viewer"
	}
	if err := f.db.PutUser(context.Background(), model.User{Email: email, PasswordHash: passwordHash(f.t), Role: role, SiteRoles: roles}); err != nil {
		f.t.Fatal(err)
	}
	f.reload()
}

func (f *loginFixture) do(method, path string, headers ...string) response {
	f.t.Helper()
	return do(f.t, f.app, method, path, "", headers...)
}

// login posts the form (headers are name, value pairs) and returns the
// session cookie, if one was set.
func (f *loginFixture) login(email, pw, next string, headers ...string) (*http.Cookie, *http.Response) {
	f.t.Helper()
	form := url.Values{"email": {email}, "password": {pw}, "next": {next}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.app.Test(req, -1)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "crumb_session" && c.Value != "" {
			return c, resp
		}
	}
	return nil, resp
}

// sessionOf returns the CSRF token of a session cookie, or fails.
func (f *loginFixture) csrfOf(cookie *http.Cookie) string {
	f.t.Helper()
	sess := f.do("GET", "/dashboard/api/session", "Cookie", "crumb_session="+cookie.Value)
	csrf, _ := sess.body["csrf"].(string)
	if sess.code != 200 || csrf == "" {
		f.t.Fatalf("session: %d %s", sess.code, sess.raw)
	}
	return csrf
}

func TestDashboardRoutes_RefuseWithoutCredentials(t *testing.T) {
	f := newLoginFixture(t, nil)
	checked := 0
	for _, r := range f.app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/v1/") && !strings.HasPrefix(r.Path, "/dashboard/") && r.Path != "/api/v1" {
			continue
		}
		if r.Method == "HEAD" || r.Method == "OPTIONS" || r.Method == "TRACE" || r.Method == "CONNECT" {
			continue
		}
		path := strings.NewReplacer(":site", "site1", ":dimension", "pages", ":id", "x", ":consent", "x", "*", "x").Replace(r.Path)
		for _, accept := range []string{"application/json", "text/html"} {
			res := f.do(r.Method, path, "Accept", accept)
			if res.code != 401 && res.code != 403 {
				t.Errorf("%s %s (Accept %s) without credentials: %d", r.Method, r.Path, accept, res.code)
			}
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d protected routes found", checked)
	}
	t.Logf("%d protected routes refuse anonymous requests", checked)
}

// The server's own address leads to the dashboards (and from there, to
// the login when there is no session).
func TestRoot_LeadsToTheDashboards(t *testing.T) {
	f := newLoginFixture(t, nil)
	if res := f.do("GET", "/"); res.code != 302 || res.header.Get("Location") != "/dashboard/" {
		t.Errorf("GET / = %d, Location %q", res.code, res.header.Get("Location"))
	}
}

func TestLogin_SessionCSRFAndLogout(t *testing.T) {
	f := newLoginFixture(t, nil)
	f.addUser("ana@example.org", "viewer", "site1")
	if c, resp := f.login("ana@example.org", "wrong password!", "/dashboard/"); c != nil || resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Fatalf("wrong password: %d %v", resp.StatusCode, resp.Header)
	}
	cookie, resp := f.login("ana@example.org", password, "/dashboard/")
	if cookie == nil || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure {
		t.Fatalf("session cookie over plain HTTP not HttpOnly, SameSite=Strict, Path=/ and not Secure: %+v", cookie)
	}
	csrf := f.csrfOf(cookie)
	if page := f.do("GET", "/dashboard/", "Cookie", "crumb_session="+cookie.Value); page.code != 200 ||
		!strings.Contains(page.header.Get("Content-Security-Policy"), "script-src 'self'") || page.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("dashboard page: %d %v", page.code, page.header)
	}
	own := []string{"Cookie", "crumb_session=" + cookie.Value, "Origin", "http://example.com"}
	if res := f.do("POST", "/logout", own...); res.code != 403 {
		t.Fatalf("logout without CSRF token: %d", res.code)
	}
	if res := f.do("GET", "/dashboard/api/session", "Cookie", "crumb_session="+cookie.Value+"x"); res.code != 401 {
		t.Fatalf("tampered session: %d", res.code)
	}
	res := f.do("POST", "/logout", append(own, "X-CSRF-Token", csrf)...)
	if res.code != 200 || !strings.Contains(res.header.Get("Set-Cookie"), "crumb_session=;") {
		t.Fatalf("logout: %d %v", res.code, res.header)
	}
	if res := f.do("GET", "/dashboard/api/session", "Cookie", "crumb_session="+cookie.Value); res.code != 401 {
		t.Fatalf("session after logout: %d", res.code)
	}
	// A new password (here written by another node) ends the session.
	cookie, _ = f.login("ana@example.org", password, "/dashboard/")
	f.csrfOf(cookie)
	hash, err := auth.HashPassword("another password!")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutUser(context.Background(), model.User{Email: "ana@example.org", PasswordHash: hash, Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	f.reload()
	if res := f.do("GET", "/dashboard/api/session", "Cookie", "crumb_session="+cookie.Value); res.code != 401 {
		t.Fatalf("session after a password change: %d", res.code)
	}
}

func TestLogin_JSONAnswers(t *testing.T) {
	f := newLoginFixture(t, nil)
	f.addUser("cy@example.org", "admin")
	post := func(pw string) response {
		form := url.Values{"email": {"cy@example.org"}, "password": {pw}}
		return do(t, f.app, "POST", "/login", form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
	}
	if res := post("wrong password!"); res.code != 401 || res.body["error"] != "wrong e-mail or password" {
		t.Fatalf("wrong password: %d %s", res.code, res.raw)
	}
	if res := post(password); res.code != 200 || res.body["status"] != "logged in" || !strings.Contains(res.header.Get("Set-Cookie"), "crumb_session=") {
		t.Fatalf("login: %d %s %v", res.code, res.raw, res.header)
	}
}

// failUntilThrottled makes failed JSON logins for email, from the
// X-Forwarded-For address xff(i) of the i-th attempt, until one is refused
// with 429, and returns that answer and how many failed before it. The
// limits let 4 failures through at once, then ask for a 1 s wait, then 2 s:
// a slow password check cannot outlast more than one of them.
func (f *loginFixture) failUntilThrottled(email string, xff func(i int) string) (response, int) {
	f.t.Helper()
	for i := 0; i < 8; i++ {
		form := url.Values{"email": {email}, "password": {"nope nope nope"}}
		res := do(f.t, f.app, "POST", "/login", form.Encode(), "Content-Type", "application/x-www-form-urlencoded",
			"Accept", "application/json", "X-Forwarded-For", xff(i))
		switch res.code {
		case 429:
			return res, i
		case 401:
		default:
			f.t.Fatalf("failed login %d: %d %s", i+1, res.code, res.raw)
		}
	}
	f.t.Fatal("8 failed logins in a row, none refused")
	return response{}, 0
}

func TestLogin_ThrottlesTheClientBehindATrustedProxy(t *testing.T) {
	// Fiber's test connection comes from 0.0.0.0: the proxy here.
	f := newLoginFixture(t, func(d *httpapi.Deps) { d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")} })
	f.addUser("bob@example.org", "admin")
	res, failed := f.failUntilThrottled("bob@example.org", func(int) string { return "203.0.113.7" })
	if failed < 4 || res.header.Get("Retry-After") == "" || !strings.Contains(res.body["error"].(string), "too many failed logins; try again in") {
		t.Fatalf("refusal after %d failures: %v %s", failed, res.header, res.raw)
	}
	// A browser is sent back to the form with the message.
	if _, resp := f.login("bob@example.org", "nope nope nope", "/dashboard/", "X-Forwarded-For", "203.0.113.7"); resp.StatusCode != 303 ||
		!strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Fatalf("throttled browser: %d %v", resp.StatusCode, resp.Header)
	}
	// Bob, from his own address behind the same proxy, is not held back.
	if c, resp := f.login("bob@example.org", password, "/dashboard/", "X-Forwarded-For", "81.2.69.160"); c == nil {
		t.Fatalf("bob's own login: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestLogin_IgnoresForwardedForFromUntrustedPeers(t *testing.T) {
	f := newLoginFixture(t, nil)
	f.addUser("bob@example.org", "admin")
	// A new X-Forwarded-For each time does not escape the limit.
	f.failUntilThrottled("bob@example.org", func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) })
}

func TestLogin_CrossSiteRequestsAreRefused(t *testing.T) {
	f := newLoginFixture(t, func(d *httpapi.Deps) { d.PublicURL = "https://crumb.example/" })
	f.addUser("ana@example.org", "admin")
	for _, tc := range []struct {
		name    string
		headers []string
		code    int
	}{
		{"foreign Origin", []string{"Origin", "https://evil.example"}, 403},
		{"look-alike Origin", []string{"Origin", "https://crumb.example.evil.example"}, 403},
		{"public URL over http", []string{"Origin", "http://crumb.example"}, 403},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"sibling subdomain", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"hidden Origin", []string{"Origin", "null"}, 403},
		{"hidden Origin, cross-site", []string{"Origin", "null", "Sec-Fetch-Site", "cross-site"}, 403},
		{"public URL", []string{"Origin", "https://crumb.example"}, 303},
		{"the Host", []string{"Origin", "http://example.com"}, 303},
		{"same-origin fetch", []string{"Origin", "null", "Sec-Fetch-Site", "same-origin"}, 303},
		{"no browser headers (curl)", nil, 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp := f.login("ana@example.org", password, "/dashboard/", tc.headers...)
			if resp.StatusCode != tc.code || (tc.code == 403) != (c == nil) {
				t.Fatalf("login: %d, cookie %v; want %d", resp.StatusCode, c != nil, tc.code)
			}
		})
	}
	tok, id, hash := auth.NewToken()
	if err := f.db.PutToken(context.Background(), model.Token{ID: id, Hash: hash, Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	f.reload()
	cookie, _ := f.login("ana@example.org", password, "/dashboard/")
	csrf := f.csrfOf(cookie)
	session := []string{"Cookie", "crumb_session=" + cookie.Value, "X-CSRF-Token", csrf}
	if res := f.do("POST", "/logout", append(session, "Origin", "https://evil.example")...); res.code != 403 || res.body["error"] == nil {
		t.Fatalf("cross-site logout: %d %s", res.code, res.raw)
	}
	if res := f.do("POST", "/logout", session...); res.code != 403 {
		t.Fatalf("logout with the cookie but no Origin or Sec-Fetch-Site: %d", res.code)
	}
	// Stats API writes are checked when they ride on the cookie, not on a token.
	if res := f.do("POST", "/api/v1/stats/site1/overview", append(session, "Origin", "https://evil.example")...); res.code != 403 {
		t.Fatalf("cross-site stats write with the cookie: %d", res.code)
	}
	if res := f.do("POST", "/api/v1/stats/site1/overview", "Authorization", "Bearer "+tok, "Origin", "https://evil.example"); res.code != 404 {
		t.Fatalf("stats write with a token: %d %s", res.code, res.raw)
	}
	if res := f.do("POST", "/logout", append(session, "Sec-Fetch-Site", "same-origin")...); res.code != 200 {
		t.Fatalf("same-origin logout: %d %s", res.code, res.raw)
	}
}

func TestSessionCookie_SecureAndHSTSOverHTTPS(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}
	for _, tc := range []struct {
		name      string
		publicURL string
		trusted   []netip.Prefix
		proto     string
		https     bool
	}{
		{"plain http", "http://crumb.example", proxy, "", false},
		{"https public URL", "https://crumb.example", nil, "", true},
		{"trusted proxy says https", "", proxy, "https", true},
		{"untrusted peer says https", "", nil, "https", false},
		{"trusted proxy says http", "", proxy, "http", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoginFixture(t, func(d *httpapi.Deps) { d.PublicURL, d.TrustedProxies = tc.publicURL, tc.trusted })
			f.addUser("ana@example.org", "admin")
			var headers []string
			if tc.proto != "" {
				headers = []string{"X-Forwarded-Proto", tc.proto}
			}
			c, resp := f.login("ana@example.org", password, "/dashboard/", headers...)
			if c == nil || c.Secure != tc.https || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Fatalf("session cookie: %+v", c)
			}
			hsts := resp.Header.Get("Strict-Transport-Security")
			if health := f.do("GET", "/healthz", headers...); health.header.Get("Strict-Transport-Security") != hsts {
				t.Fatalf("HSTS on /healthz %q, on the login %q", health.header.Get("Strict-Transport-Security"), hsts)
			}
			if want := map[bool]string{true: "max-age=31536000"}[tc.https]; hsts != want {
				t.Fatalf("Strict-Transport-Security = %q", hsts)
			}
		})
	}
}

func TestShareLinksAndTokens(t *testing.T) {
	f := newLoginFixture(t, nil)
	ctx := context.Background()
	if err := f.db.PutShareLink(ctx, model.ShareLink{ID: "pub123", SiteID: "site1", Name: "public"}); err != nil {
		t.Fatal(err)
	}
	tok, id, hash := auth.NewToken()
	if err := f.db.PutToken(ctx, model.Token{ID: id, Hash: hash, Name: "ci", SiteID: "site1"}); err != nil {
		t.Fatal(err)
	}
	f.reload()
	if res := f.do("GET", "/dashboard/api/session?share=pub123"); res.code != 200 || !strings.Contains(res.raw, "site1") || strings.Contains(res.raw, "csrf") {
		t.Fatalf("share link session: %d %s", res.code, res.raw)
	}
	if res := f.do("GET", "/dashboard/api/session?share=nope"); res.code != 401 {
		t.Fatalf("unknown share link: %d", res.code)
	}
	if res := f.do("GET", "/dashboard/api/session", "Authorization", "Bearer "+tok); res.code != 200 {
		t.Fatalf("token: %d %s", res.code, res.raw)
	}
	if err := f.db.PutShareLink(ctx, model.ShareLink{ID: "pub123", SiteID: "site1", Revoked: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutToken(ctx, model.Token{ID: id, Hash: hash, Name: "ci", SiteID: "site1", Revoked: true}); err != nil {
		t.Fatal(err)
	}
	f.reload()
	if res := f.do("GET", "/dashboard/api/session?share=pub123"); res.code != 401 {
		t.Fatalf("revoked share link: %d", res.code)
	}
	if res := f.do("GET", "/dashboard/api/session", "Authorization", "Bearer "+tok); res.code != 401 {
		t.Fatalf("revoked token: %d", res.code)
	}
}
