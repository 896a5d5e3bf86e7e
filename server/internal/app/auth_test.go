package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
)

const password = "correct horse battery"

func (f *fixture) addUser(email, role string, sites ...string) {
	f.t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		f.t.Fatal(err)
	}
	roles := map[string]string{}
	for _, s := range sites {
		roles[s] = "viewer"
	}
	if err := f.db.PutUser(context.Background(), clickhouse.User{Email: email, PasswordHash: hash, Role: role, SiteRoles: roles}); err != nil {
		f.t.Fatal(err)
	}
}

// login posts the form and returns the session cookie.
func (f *fixture) login(email, pw string) (*http.Cookie, *http.Response) {
	f.t.Helper()
	form := url.Values{"email": {email}, "password": {pw}, "next": {"/dashboard/"}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.app.HTTP.Test(req, -1)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "crumb_session" && c.Value != "" {
			return c, resp
		}
	}
	return nil, resp
}

func TestDashboardRoutes_RefuseWithoutCredentials(t *testing.T) {
	f := newFixture(t, nil)
	checked := 0
	for _, r := range f.app.HTTP.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/v1/") && !strings.HasPrefix(r.Path, "/dashboard/") && r.Path != "/api/v1" {
			continue
		}
		if r.Method == "HEAD" || r.Method == "OPTIONS" || r.Method == "TRACE" || r.Method == "CONNECT" {
			continue
		}
		path := strings.NewReplacer(":site", "site1", ":dimension", "pages", ":id", "x", ":consent", "x", "*", "x").Replace(r.Path)
		for _, accept := range []string{"application/json", "text/html"} {
			res := f.do(r.Method, path, nil, "Accept", accept)
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

func TestLogin_SessionCSRFAndLogout(t *testing.T) {
	f := newFixture(t, nil)
	f.addUser("ana@example.org", "viewer", "site1")
	if err := f.app.ReloadAuth(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, resp := f.login("ana@example.org", "wrong password!"); c != nil || resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "error=") {
		t.Fatalf("wrong password: %d %v", resp.StatusCode, resp.Header)
	}
	cookie, resp := f.login("ana@example.org", password)
	if cookie == nil || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie not HttpOnly/SameSite=Strict: %+v", cookie)
	}
	sess := f.do("GET", "/dashboard/api/session", nil, "Cookie", "crumb_session="+cookie.Value)
	csrf, _ := sess.body["csrf"].(string)
	if sess.code != 200 || csrf == "" || !strings.Contains(sess.raw, "site1") {
		t.Fatalf("session: %d %s", sess.code, sess.raw)
	}
	if page := f.do("GET", "/dashboard/", nil, "Cookie", "crumb_session="+cookie.Value); page.code != 200 ||
		!strings.Contains(page.header.Get("Content-Security-Policy"), "script-src 'self'") || page.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("dashboard page: %d %v", page.code, page.header)
	}
	if res := f.do("POST", "/logout", nil, "Cookie", "crumb_session="+cookie.Value); res.code != 403 {
		t.Fatalf("logout without CSRF token: %d", res.code)
	}
	res := f.do("POST", "/logout", nil, "Cookie", "crumb_session="+cookie.Value, "X-CSRF-Token", csrf)
	if res.code != 200 || !strings.Contains(res.header.Get("Set-Cookie"), "crumb_session=;") {
		t.Fatalf("logout: %d %v", res.code, res.header)
	}
	if res := f.do("GET", "/dashboard/api/session", nil, "Cookie", "crumb_session="+cookie.Value+"x"); res.code != 401 {
		t.Fatalf("tampered session: %d", res.code)
	}
	// Changing the password ends the session.
	f.addUser("ana@example.org", "viewer", "site1")
	f.app.ReloadAuth(context.Background())
	if res := f.do("GET", "/dashboard/api/session", nil, "Cookie", "crumb_session="+cookie.Value); res.code != 401 {
		t.Fatalf("session after a password change: %d", res.code)
	}
}

func TestLogin_RateLimited(t *testing.T) {
	f := newFixture(t, nil)
	f.addUser("bob@example.org", "admin")
	f.app.ReloadAuth(context.Background())
	var last *http.Response
	for i := 0; i < 11; i++ {
		_, last = f.login("bob@example.org", "nope nope nope")
	}
	if last.StatusCode != 429 {
		t.Fatalf("11th failed login: %d", last.StatusCode)
	}
}

func TestShareLinksAndTokens(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.db.PutShareLink(ctx, clickhouse.ShareLink{ID: "pub123", SiteID: "site1", Name: "public"}); err != nil {
		t.Fatal(err)
	}
	tok, id, hash := auth.NewToken()
	if err := f.db.PutToken(ctx, clickhouse.Token{ID: id, Hash: hash, Name: "ci", SiteID: "site1"}); err != nil {
		t.Fatal(err)
	}
	f.app.ReloadAuth(ctx)
	if res := f.do("GET", "/dashboard/api/session?share=pub123", nil); res.code != 200 || !strings.Contains(res.raw, "site1") || strings.Contains(res.raw, "csrf") {
		t.Fatalf("share link session: %d %s", res.code, res.raw)
	}
	if res := f.do("GET", "/dashboard/api/session?share=nope", nil); res.code != 401 {
		t.Fatalf("unknown share link: %d", res.code)
	}
	if res := f.do("GET", "/dashboard/api/session", nil, "Authorization", "Bearer "+tok); res.code != 200 {
		t.Fatalf("token: %d %s", res.code, res.raw)
	}
	if err := f.db.PutShareLink(ctx, clickhouse.ShareLink{ID: "pub123", SiteID: "site1", Revoked: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.PutToken(ctx, clickhouse.Token{ID: id, Hash: hash, Name: "ci", SiteID: "site1", Revoked: true}); err != nil {
		t.Fatal(err)
	}
	f.app.ReloadAuth(ctx)
	if res := f.do("GET", "/dashboard/api/session?share=pub123", nil); res.code != 401 {
		t.Fatalf("revoked share link: %d", res.code)
	}
	if res := f.do("GET", "/dashboard/api/session", nil, "Authorization", "Bearer "+tok); res.code != 401 {
		t.Fatalf("revoked token: %d", res.code)
	}
}
