package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
)

// TestProof_ShowsTheBannerBehindADecision: a decision's texts_hash leads
// to the banner as the visitor was shown it, in the proof API, and still
// does after the site has changed its texts.
func TestProof_ShowsTheBannerBehindADecision(t *testing.T) {
	f := newFixture(t, func(c *config.Serve, _ *model.Site) { c.SitesRefresh = 100 * time.Millisecond })
	token := f.apiToken()
	decide := func() string {
		t.Helper()
		res := f.do("POST", "/api/consent", map[string]any{"site": "site1", "policy_version": 1, "action": "reject_all", "lang": "en"})
		if res.code != 202 {
			t.Fatalf("decision: %d %s", res.code, res.raw)
		}
		f.flush()
		proof := f.stats(token, "/proof/"+res.body["consent_id"].(string), "")
		return proof["decisions"].([]any)[0].(map[string]any)["texts_hash"].(string)
	}
	banner := func(hash string) response {
		t.Helper()
		return f.do("GET", "/api/v1/stats/site1/proof/banner/"+hash, nil, "Authorization", "Bearer "+token)
	}
	title := func(r response) string {
		b, _ := r.body["banner"].(map[string]any)
		texts, _ := b["texts"].(map[string]any)
		s, _ := texts["title"].(string)
		return s
	}
	first := decide()
	if r := banner(first); r.code != 200 || title(r) != "Cookies on this site" || r.body["policy_version"] != 1.0 || r.body["lang"] != "en" {
		t.Fatalf("the banner of the first decision: %d %s", r.code, r.raw)
	}

	// The site rewrites its title under the same policy version.
	s := f.site
	s.Banner.Texts = map[string]map[string]string{"en": {"title": "About cookies"}}
	if err := f.db.PutSite(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	var second string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if second = decide(); second != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new texts never reached the decisions")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		r := banner(second)
		if r.code == 200 {
			if title(r) != "About cookies" {
				t.Fatalf("the banner of the second decision: %s", r.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new banner was never kept: %d %s", r.code, r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := banner(first); r.code != 200 || title(r) != "Cookies on this site" {
		t.Errorf("the first decision's banner after the change: %d %s", r.code, r.raw)
	}
	if r := banner("00000000000000000000000000000000"); r.code != 404 {
		t.Errorf("an unknown hash: %d %s", r.code, r.raw)
	}
	if r := banner("not-a-hash"); r.code != 400 {
		t.Errorf("a malformed hash: %d %s", r.code, r.raw)
	}
}
