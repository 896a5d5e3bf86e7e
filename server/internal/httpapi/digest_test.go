package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/notify"
)

// TestDigestSubscriptionAndUnsubscribeLink: a login subscribes to a site's
// digest from the dashboard; API tokens cannot; the unsubscribe link of
// the digest asks on GET, stops the digests on POST without logging in,
// and an unknown link changes nothing.
func TestDigestSubscriptionAndUnsubscribeLink(t *testing.T) {
	var n *notify.Service
	f := newLoginFixture(t, func(d *httpapi.Deps) {
		n = &notify.Service{Store: nil, PublicURL: "https://crumb.example.test"}
		d.Notify = n
	})
	n.Store = f.db
	f.addUser("ana@example.com", "viewer", "site1")
	cookie, _ := f.login("ana@example.com", password, "/dashboard/")
	csrf := f.csrfOf(cookie)
	session := []string{"Cookie", "crumb_session=" + cookie.Value}
	write := append(session, "X-CSRF-Token", csrf, "Content-Type", "application/json", "Origin", "http://example.com")
	if res := do(t, f.app, "GET", "/api/v1/sites/site1/digest", "", session...); res.code != 200 || res.body["every"] != "" || res.body["email"] != "ana@example.com" || res.body["mail"] != false {
		t.Fatalf("digest settings: %d %s", res.code, res.raw)
	}
	if res := do(t, f.app, "PUT", "/api/v1/sites/site1/digest", `{"every":"week"}`, write...); res.code != 200 || res.body["every"] != "week" {
		t.Fatalf("subscribe: %d %s", res.code, res.raw)
	}
	if res := do(t, f.app, "PUT", "/api/v1/sites/site1/digest", `{"every":"daily"}`, write...); res.code != 400 {
		t.Errorf("every=daily: %d %s", res.code, res.raw)
	}
	if res := do(t, f.app, "PUT", "/api/v1/sites/site1/digest", `{"every":"month"}`, session...); res.code != 403 {
		t.Errorf("a write without the CSRF token: %d %s", res.code, res.raw)
	}
	r, ok, err := n.RecipientOf(context.Background(), "site1", "ana@example.com")
	if err != nil || !ok || r.Every != "week" || len(r.Token) < 32 {
		t.Fatalf("stored recipient %+v %v %v", r, ok, err)
	}
	page := "/unsubscribe/" + r.Token
	if res := do(t, f.app, "GET", page, ""); res.code != 200 || !strings.Contains(res.raw, "Stop the e-mail digests of <strong>Example</strong> to <strong>ana@example.com</strong>") {
		t.Fatalf("unsubscribe page: %d %s", res.code, res.raw)
	}
	if r, _, _ := n.RecipientOf(context.Background(), "site1", "ana@example.com"); r.Unsubscribed {
		t.Fatal("opening the link unsubscribed (a link scanner would)")
	}
	// A mail client's one-click unsubscribe: a POST without cookies.
	if res := do(t, f.app, "POST", page, "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded"); res.code != 200 || !strings.Contains(res.raw, "gets no more digests") {
		t.Fatalf("unsubscribe: %d %s", res.code, res.raw)
	}
	if r, _, _ := n.RecipientOf(context.Background(), "site1", "ana@example.com"); !r.Unsubscribed || r.Every != "" {
		t.Errorf("after unsubscribing: %+v", r)
	}
	if res := do(t, f.app, "GET", "/api/v1/sites/site1/digest", "", session...); res.body["every"] != "" {
		t.Errorf("the dashboard still shows %v", res.body["every"])
	}
	if res := do(t, f.app, "POST", "/unsubscribe/"+strings.Repeat("0", 48), ""); res.code != 404 || !strings.Contains(res.raw, "not valid") {
		t.Errorf("an unknown link: %d %s", res.code, res.raw)
	}
}
