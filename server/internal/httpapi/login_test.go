package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/model"
)

const password = "correct horse battery"

// loginFixture is the HTTP edge over an in-memory store of logins.
type loginFixture struct {
	t     *testing.T
	app   *fiber.App
	store *memStore
	auth  *auth.Auth
}

func newLoginFixture(t *testing.T) *loginFixture {
	t.Helper()
	f := &loginFixture{t: t, store: newStore("site1")}
	f.auth = auth.New(f.store, []byte(secret), nil)
	f.reload()
	f.app = newServer(t, httpapi.Deps{Auth: f.auth})
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
	hash, err := auth.HashPassword(password)
	if err != nil {
		f.t.Fatal(err)
	}
	roles := map[string]string{}
	for _, s := range sites {
		roles[s] = "viewer"
	}
	f.store.putUser(model.User{Email: email, PasswordHash: hash, Role: role, SiteRoles: roles})
}

func (f *loginFixture) do(method, path string, headers ...string) response {
	f.t.Helper()
	return do(f.t, f.app, method, path, "", headers...)
}

// login posts the form and returns the session cookie.
func (f *loginFixture) login(email, pw string) (*http.Cookie, *http.Response) {
	f.t.Helper()
	form := url.Values{"email": {email}, "password": {pw}, "next": {"/dashboard/"}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.app.Test(req, -1)
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
	f := newLoginFixture(t)
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

func TestLogin_SessionCSRFAndLogout(t *testing.T) {
	f := newLoginFixture(t)
	f.addUser("ana@example.org", "viewer", "site1")
	f.reload()
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
	sess := f.do("GET", "/dashboard/api/session", "Cookie", "crumb_session="+cookie.Value)
	csrf, _ := sess.body["csrf"].(string)
	if sess.code != 200 || csrf == "" || !strings.Contains(sess.raw, "site1") {
		t.Fatalf("session: %d %s", sess.code, sess.raw)
	}
	if page := f.do("GET", "/dashboard/", "Cookie", "crumb_session="+cookie.Value); page.code != 200 ||
		!strings.Contains(page.header.Get("Content-Security-Policy"), "script-src 'self'") || page.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("dashboard page: %d %v", page.code, page.header)
	}
	if res := f.do("POST", "/logout", "Cookie", "crumb_session="+cookie.Value); res.code != 403 {
		t.Fatalf("logout without CSRF token: %d", res.code)
	}
	res := f.do("POST", "/logout", "Cookie", "crumb_session="+cookie.Value, "X-CSRF-Token", csrf)
	if res.code != 200 || !strings.Contains(res.header.Get("Set-Cookie"), "crumb_session=;") {
		t.Fatalf("logout: %d %v", res.code, res.header)
	}
	if res := f.do("GET", "/dashboard/api/session", "Cookie", "crumb_session="+cookie.Value+"x"); res.code != 401 {
		t.Fatalf("tampered session: %d", res.code)
	}
	// Changing the password ends the session.
	f.addUser("ana@example.org", "viewer", "site1")
	f.reload()
	if res := f.do("GET", "/dashboard/api/session", "Cookie", "crumb_session="+cookie.Value); res.code != 401 {
		t.Fatalf("session after a password change: %d", res.code)
	}
}

func TestLogin_JSONAnswers(t *testing.T) {
	f := newLoginFixture(t)
	f.addUser("cy@example.org", "admin")
	f.reload()
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

func TestLogin_RateLimited(t *testing.T) {
	f := newLoginFixture(t)
	f.addUser("bob@example.org", "admin")
	f.reload()
	var last *http.Response
	for i := 0; i < 11; i++ {
		_, last = f.login("bob@example.org", "nope nope nope")
	}
	if last.StatusCode != 429 {
		t.Fatalf("11th failed login: %d", last.StatusCode)
	}
}

func TestShareLinksAndTokens(t *testing.T) {
	f := newLoginFixture(t)
	f.store.putShare(model.ShareLink{ID: "pub123", SiteID: "site1", Name: "public"})
	tok, id, hash := auth.NewToken()
	f.store.putToken(model.Token{ID: id, Hash: hash, Name: "ci", SiteID: "site1"})
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
	f.store.putShare(model.ShareLink{ID: "pub123", SiteID: "site1", Revoked: true})
	f.store.putToken(model.Token{ID: id, Hash: hash, Name: "ci", SiteID: "site1", Revoked: true})
	f.reload()
	if res := f.do("GET", "/dashboard/api/session?share=pub123"); res.code != 401 {
		t.Fatalf("revoked share link: %d", res.code)
	}
	if res := f.do("GET", "/dashboard/api/session", "Authorization", "Bearer "+tok); res.code != 401 {
		t.Fatalf("revoked token: %d", res.code)
	}
}
