package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
)

// onSite are the headers of a request from a page of site1, as a browser
// sends them.
var onSite = []string{"Origin", "https://example.com", "User-Agent", chromeUA}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decide posts a decision to node n; consentID and key are "" for a new
// consent.
func decide(t *testing.T, n *node, action, consentID, key string, seq int, categories ...string) httpResult {
	t.Helper()
	body := map[string]any{"site": "site1", "policy_version": 1, "action": action, "url": "https://example.com/", "seq": seq}
	if consentID != "" {
		body["consent_id"], body["consent_key"] = consentID, key
	}
	if categories != nil {
		body["categories"] = categories
	}
	return n.send("POST", "/api/consent", jsonBody(t, body), onSite...)
}

// pageviewWith posts one page view with a consent token to node n and
// returns the status.
func pageviewWith(t *testing.T, n *node, visitor, token string) int {
	t.Helper()
	return n.send("POST", "/api/events", jsonBody(t, map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(),
		"consent": token, "events": []any{pageview("https://example.com/")}}), onSite...).code
}

// TestWithdrawal_StopsTheTokenOnEveryNode: a withdrawal made on one node,
// or a later decision without performance, stops the consent's token on
// every node within 10 s; a new consent given afterwards works everywhere.
func TestWithdrawal_StopsTheTokenOnEveryNode(t *testing.T) {
	f := newFixture(t, func(c *config.Serve, _ *model.Site) { c.FlushInterval = 200 * time.Millisecond })
	a, b := serve(t, f.app), serve(t, f.secondNode())

	for _, tc := range []struct {
		name       string
		action     string
		categories []string
	}{
		{"withdraw", "withdraw", nil},
		{"custom without performance", "custom", []string{"functionality"}},
		{"reject all", "reject_all", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			visitor := uuid.NewString()
			first := decide(t, a, "accept_all", "", "", 1)
			id, _ := first.body["consent_id"].(string)
			key, _ := first.body["consent_key"].(string)
			tok, _ := first.body["token"].(string)
			if first.code != 202 || id == "" || key == "" || tok == "" {
				t.Fatalf("accept all: %d %v", first.code, first.body)
			}
			if code := pageviewWith(t, b, visitor, tok); code != 202 {
				t.Fatalf("the token on the other node before the withdrawal: %d", code)
			}
			res := decide(t, a, tc.action, id, key, 2, tc.categories...)
			if res.code != 202 || res.body["consent_id"] != id || res.body["token"] != nil {
				t.Fatalf("%s: %d %v", tc.action, res.code, res.body)
			}
			if code := pageviewWith(t, a, visitor, tok); code != 403 {
				t.Fatalf("the token on the node of the withdrawal: %d, want 403", code)
			}
			start := time.Now()
			eventually(t, "the other node refuses the withdrawn token", func() bool { return pageviewWith(t, b, visitor, tok) == 403 })
			t.Logf("refused on the other node after %v", time.Since(start).Round(10*time.Millisecond))

			// The visitor changes their mind again: the new token works on
			// both nodes.
			time.Sleep(5 * time.Millisecond)
			again := decide(t, b, "accept_all", id, key, 3)
			newTok, _ := again.body["token"].(string)
			if again.code != 202 || newTok == "" || again.body["consent_id"] != id {
				t.Fatalf("accept all again: %d %v", again.code, again.body)
			}
			for _, n := range []*node{a, b} {
				if code := pageviewWith(t, n, visitor, newTok); code != 202 {
					t.Fatalf("the new token: %d", code)
				}
			}
		})
	}
}

// TestConsent_OnlyItsHolderAddsToIt: a decision on an existing consent
// needs the key its first answer carried; the server, not the browser,
// names a new consent; events, decisions and impressions need an Origin
// and a page of the site.
func TestConsent_OnlyItsHolderAddsToIt(t *testing.T) {
	f := newFixture(t, nil)
	a, b := serve(t, f.app), serve(t, f.secondNode())
	proposed := uuid.NewString()
	first := a.send("POST", "/api/consent", jsonBody(t, map[string]any{"site": "site1", "consent_id": proposed, "policy_version": 1,
		"action": "accept_all", "url": "https://example.com/"}), onSite...)
	id, _ := first.body["consent_id"].(string)
	key, _ := first.body["consent_key"].(string)
	if first.code != 202 || id == "" || id == proposed || key == "" {
		t.Fatalf("a new consent is named by the server: %d %v", first.code, first.body)
	}
	for _, tc := range []struct {
		name string
		n    *node
		key  string
		code int
	}{
		{"a guessed key", a, "AAAAAAAAAAAAAAAAAAAAAAAA", 403},
		{"another consent's key", a, decide(t, a, "reject_all", "", "", 1).body["consent_key"].(string), 403},
		{"the key, on the other node", b, key, 202},
	} {
		res := decide(t, tc.n, "withdraw", id, tc.key, 2)
		if res.code != tc.code {
			t.Errorf("%s: %d %v, want %d", tc.name, res.code, res.body, tc.code)
		}
	}
	// A decision whose consent ID comes without a key (an older banner)
	// starts a consent of its own.
	res := decide(t, a, "reject_all", id, "", 1)
	if res.code != 202 || res.body["consent_id"] == id {
		t.Errorf("a consent ID without its key: %d %v", res.code, res.body)
	}

	// Requests that did not come from the site's pages.
	tok, _ := first.body["token"].(string)
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		headers    []string
	}{
		{"consent without Origin", "/api/consent", map[string]any{"site": "site1", "policy_version": 1, "action": "accept_all", "url": "https://example.com/"}, []string{"User-Agent", chromeUA}},
		{"consent from another site's page", "/api/consent", map[string]any{"site": "site1", "policy_version": 1, "action": "accept_all", "url": "https://evil.example/"}, onSite},
		{"impression without Origin", "/api/impressions", map[string]any{"site": "site1", "url": "https://example.com/"}, []string{"User-Agent", chromeUA}},
		{"impression from another site's page", "/api/impressions", map[string]any{"site": "site1", "url": "https://evil.example/"}, onSite},
		{"events without Origin", "/api/events", map[string]any{"site": "site1", "events": []any{pageview("https://example.com/")}}, []string{"User-Agent", chromeUA}},
		{"events from a foreign Origin", "/api/events", map[string]any{"site": "site1", "events": []any{pageview("https://example.com/")}}, []string{"Origin", "https://evil.example", "User-Agent", chromeUA}},
	} {
		res := a.send("POST", tc.path, jsonBody(t, tc.body), tc.headers...)
		if res.code != 403 || res.body["error"] == nil {
			t.Errorf("%s: %d %v, want 403 with an error", tc.name, res.code, res.body)
		}
	}
	// An event whose page is not on the site's domains is dropped alone.
	res = a.send("POST", "/api/events", jsonBody(t, map[string]any{"site": "site1", "visitor": uuid.NewString(), "session": uuid.NewString(), "consent": tok,
		"events": []any{pageview("https://evil.example/"), pageview("https://example.com/ok")}}), onSite...)
	if res.code != 202 || res.body["accepted"] != float64(1) {
		t.Errorf("a batch with one foreign page: %d %v", res.code, res.body)
	}
	metrics := f.scrape()
	for _, want := range []string{`reason="no_origin"`, `reason="foreign_url"`, `reason="foreign_origin"`, `reason="consent_not_held"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack a drop reason %s", want)
		}
	}
}

// TestGPC_AsTheBrowserSendsIt: Sec-GPC: 1 counts like the script's flag
// (targeting never granted by "Accept all"), the proof says which carried
// it, and events record it.
func TestGPC_AsTheBrowserSendsIt(t *testing.T) {
	f := newFixture(t, nil)
	a := serve(t, f.app)
	token := f.apiToken()
	type tc struct {
		name           string
		script, header bool
		targeting      bool
		source         string
	}
	var ids []string
	cases := []tc{
		{"header only", false, true, false, "header"},
		{"script only", true, false, false, "script"},
		{"both", true, true, false, "both"},
		{"neither", false, false, true, ""},
	}
	for _, c := range cases {
		headers := onSite
		if c.header {
			headers = append(append([]string{}, onSite...), "Sec-GPC", "1")
		}
		res := a.send("POST", "/api/consent", jsonBody(t, map[string]any{"site": "site1", "policy_version": 1, "action": "accept_all",
			"url": "https://example.com/", "gpc": c.script}), headers...)
		granted, _ := res.body["granted"].(map[string]any)
		if res.code != 202 || granted["targeting"] != c.targeting || granted["performance"] != true {
			t.Fatalf("%s: %d %v", c.name, res.code, res.body)
		}
		ids = append(ids, res.body["consent_id"].(string))
		tok, _ := res.body["token"].(string)
		if code := a.send("POST", "/api/events", jsonBody(t, map[string]any{"site": "site1", "visitor": uuid.NewString(), "session": uuid.NewString(), "consent": tok,
			"events": []any{pageview("https://example.com/" + strings.ReplaceAll(c.name, " ", "-"))}}), headers...).code; code != 202 {
			t.Fatalf("%s: events %d", c.name, code)
		}
	}
	f.flush()
	for i, c := range cases {
		proof := f.stats(token, "/proof/"+ids[i], "")
		d := proof["decisions"].([]any)[0].(map[string]any)
		if d["gpc"] != (c.source != "") || d["gpc_source"] != c.source {
			t.Errorf("%s: proof gpc %v, gpc_source %v, want %q", c.name, d["gpc"], d["gpc_source"], c.source)
		}
		path := "/" + strings.ReplaceAll(c.name, " ", "-")
		if n := f.count("SELECT count() FROM events WHERE path = ? AND gpc = ?", path, boolU8(c.header)); n != 1 {
			t.Errorf("%s: the event's gpc is not %v", c.name, c.header)
		}
	}
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
