package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/model"
)

// TestAnalysisSettings: an admin and the site's editor replace its goals
// and saved funnels from the dashboard; a viewer, an API token and a
// share link read them but are refused changes; bad lists get a 400 with
// the reason and change nothing.
func TestAnalysisSettings(t *testing.T) {
	var saved []model.Site
	f := newLoginFixture(t, func(d *httpapi.Deps) {
		d.SaveSite = func(_ context.Context, s model.Site) error {
			saved = append(saved, s)
			*d.Sites.(testSites)["site1"] = s
			return nil
		}
		site := model.NewSite("site1", "example.com", "Example", time.Now())
		d.Sites = testSites{"site1": &site}
	})
	f.addUser("admin@example.com", "admin")
	f.addUser("viewer@example.com", "viewer", "site1")
	if err := f.db.PutUser(context.Background(), model.User{Email: "editor@example.com", PasswordHash: passwordHash(t), Role: "viewer",
		SiteRoles: map[string]string{"site1": "editor"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.db.PutShareLink(ctx, model.ShareLink{ID: "pub123", SiteID: "site1", Name: "public"}); err != nil {
		t.Fatal(err)
	}
	tok, id, hash := auth.NewToken()
	if err := f.db.PutToken(ctx, model.Token{ID: id, Hash: hash, Name: "ci", SiteID: "site1"}); err != nil {
		t.Fatal(err)
	}
	f.reload()

	put := func(email, what, body string) response {
		t.Helper()
		cookie, _ := f.login(email, password, "/dashboard/")
		if cookie == nil {
			t.Fatalf("%s: no session", email)
		}
		return do(t, f.app, "PUT", "/api/v1/sites/site1/"+what, body, "Cookie", "crumb_session="+cookie.Value,
			"X-CSRF-Token", f.csrfOf(cookie), "Content-Type", "application/json", "Origin", "http://example.com", "Sec-Fetch-Site", "same-origin")
	}
	goals := `{"goals":[{"name":"Signup","match":"event:signup"},{"name":"Docs","match":"page:/docs/*"}]}`
	if res := put("viewer@example.com", "goals", goals); res.code != 403 || !strings.Contains(res.raw, "editors") {
		t.Errorf("a viewer changes goals: %d %s", res.code, res.raw)
	}
	if res := put("admin@example.com", "goals", goals); res.code != 200 || !strings.Contains(res.raw, `"can_edit":true`) || len(saved) != 1 || len(saved[0].Goals) != 2 {
		t.Fatalf("an admin sets goals: %d %s", res.code, res.raw)
	}
	funnels := `{"funnels":[{"name":"Signup","steps":["page:/pricing","event:signup"],"window":"7d"}]}`
	if res := put("editor@example.com", "funnels", funnels); res.code != 200 || len(saved) != 2 || len(saved[1].Funnels) != 1 || len(saved[1].Goals) != 2 {
		t.Fatalf("the editor saves a funnel: %d %s", res.code, res.raw)
	}
	for _, bad := range []struct{ what, body, says string }{
		{"goals", `{"goals":[{"name":"x","match":"click:/a"}]}`, "starts with page: or event:"},
		{"goals", `{"goals":[{"name":"x","match":"page:/a"},{"name":"x","match":"page:/b"}]}`, "two goals"},
		{"goals", `{"goals":[{"name":"","match":"page:/a"}]}`, "name"},
		{"funnels", `{"funnels":[{"name":"one","steps":["page:/a"],"window":"visit"}]}`, "2 to 8 steps"},
		{"funnels", `{"funnels":[{"name":"w","steps":["page:/a","page:/b"],"window":"1y"}]}`, "window"},
		{"funnels", `{"goals":[]}`, "missing"},
		{"funnels", `not json`, "not JSON"},
	} {
		if res := put("admin@example.com", bad.what, bad.body); res.code != 400 || !strings.Contains(res.raw, bad.says) {
			t.Errorf("%s %s: %d %s", bad.what, bad.body, res.code, res.raw)
		}
	}
	if len(saved) != 2 {
		t.Errorf("bad lists saved %d times", len(saved)-2)
	}
	// Reading: a viewer, a token and a share link see the lists and may
	// not change them.
	cookie, _ := f.login("viewer@example.com", password, "/dashboard/")
	if res := do(t, f.app, "GET", "/api/v1/sites/site1/analysis", "", "Cookie", "crumb_session="+cookie.Value); res.code != 200 ||
		!strings.Contains(res.raw, `"can_edit":false`) || !strings.Contains(res.raw, `"page:/docs/*"`) || !strings.Contains(res.raw, `"window":"7d"`) {
		t.Errorf("a viewer reads: %d %s", res.code, res.raw)
	}
	if res := do(t, f.app, "GET", "/api/v1/sites/site1/analysis?share=pub123", ""); res.code != 200 || !strings.Contains(res.raw, `"can_edit":false`) {
		t.Errorf("a share link reads: %d %s", res.code, res.raw)
	}
	for _, creds := range [][]string{{"Authorization", "Bearer " + tok}, {"X-Crumb-Share", "pub123"}} {
		if res := do(t, f.app, "PUT", "/api/v1/sites/site1/goals", goals, creds...); res.code != 403 {
			t.Errorf("PUT with %s: %d %s", creds[0], res.code, res.raw)
		}
	}
}

// TestAnalysisRoutes_BadInput: every malformed funnel, retention or goal
// question gets a 400 whose message names the problem.
func TestAnalysisRoutes_BadInput(t *testing.T) {
	app, _ := newApp(t)
	for q, says := range map[string]string{
		"/funnel?" + period + "&step=page:/":                                          "2 to 8 steps",
		"/funnel?" + period + strings.Repeat("&step=page:/", 9):                       "2 to 8 steps",
		"/funnel?" + period + "&step=page:/&step=click:x":                             "page: or event:",
		"/funnel?" + period + "&step=page:/&step=event:":                              "event:NAME",
		"/funnel?" + period + "&step=page:/&step=event:a:b":                           "KEY=VALUE",
		"/funnel?" + period + "&step=page:/&step=page:/a&window=2d":                   "window",
		"/funnel?" + period + "&funnel=Nope":                                          "no saved funnel",
		"/funnel?" + period + "&funnel=Home+to+signup&step=page:/":                    "not both",
		"/funnel?" + period + "&step=page:" + strings.Repeat("*", 9) + "&step=page:/": "at most 8",
		"/funnel?" + period + "&step=page:/&step=page:/a&filter=goal:contains:x":      "goal:is:NAME",
		"/retention?" + period + "&interval=day":                                      "week or month",
		"/goals?" + period + "&filter=goal:is:Nope":                                   "no goal called",
		"/breakdown/goal?" + period:                                                   "goal is a filter",
		"/breakdown/page?" + period + "&compare=previous_decade":                      "previous_year",
	} {
		res := get(t, app, base+q)
		if res.code != 400 || !strings.Contains(string(res.body), says) {
			t.Errorf("%s: %d %s (want 400 saying %q)", q, res.code, res.body, says)
		}
	}
}
