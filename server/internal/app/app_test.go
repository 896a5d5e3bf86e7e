package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/app"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/geoip/geoipbuild"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

const (
	chromeUA    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	iphoneUA    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	googlebotUA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	visitorIP   = "81.2.69.160"
	secret      = "0123456789abcdef0123456789abcdef"
)

type fixture struct {
	t    *testing.T
	app  *app.App
	db   *clickhouse.DB
	site model.Site
	// consentID is the ID the server gave the consent of the last accept.
	consentID string
}

// newFixture builds the real server on a fresh database, with tiny GeoIP
// files and one site for example.com.
func newFixture(t *testing.T, tweak func(*config.Serve, *model.Site)) *fixture {
	t.Helper()
	db := chtest.DB(t)
	dir := t.TempDir()
	loc := geoip.Location{Country: "GB", Region: "England", City: "London", ASN: 20712, Provider: "Andrews & Arnold Ltd"}
	entries := map[netip.Prefix]geoip.Location{netip.MustParsePrefix("81.2.69.0/24"): loc}
	city, asn := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := geoipbuild.WriteTestCity(city, entries); err != nil {
		t.Fatal(err)
	}
	if err := geoipbuild.WriteTestASN(asn, entries); err != nil {
		t.Fatal(err)
	}
	cfg := config.Serve{
		Common:    config.Common{DataDir: dir},
		GeoIPCity: city, GeoIPASN: asn,
		// app.Test connects from 0.0.0.0: trust it as a proxy so that the
		// tests can set the visitor's address in X-Forwarded-For.
		TrustedProxies: config.CIDRList{netip.MustParsePrefix("0.0.0.0/32")},
		BufferMax:      1000, BatchSize: 500, FlushInterval: time.Hour, SyncInterval: time.Second,
		SitesRefresh: time.Hour, DNSResolver: "off", // the AS organisation decides domain types
	}
	site := model.NewSite("site1", "example.com", "Example", time.Now())
	if tweak != nil {
		tweak(&cfg, &site)
	}
	ctx := context.Background()
	if err := db.PutSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, &cfg, db, []byte(secret), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &fixture{t: t, app: a, db: db, site: site}
}

type response struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

func (f *fixture) do(method, path string, body any, headers ...string) response {
	f.t.Helper()
	if m, ok := body.(map[string]any); ok && (path == "/api/consent" || path == "/api/impressions") && m["url"] == nil {
		// The page the banner is on, as t.js always sends it.
		m["url"] = "https://example.com/"
	}
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("User-Agent", chromeUA)
	req.Header.Set("X-Forwarded-For", visitorIP)
	req.Header.Set("Origin", "https://example.com") // a page of the site, as browsers send it
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.app.HTTP.Test(req, -1)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (f *fixture) flush() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.app.Buffer.Flush(ctx); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) count(query string, args ...any) uint64 {
	f.t.Helper()
	var n uint64
	if err := f.db.Conn().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// accept records an "accept all" decision and returns its token.
func (f *fixture) accept(consentID string) string {
	f.t.Helper()
	res := f.do("POST", "/api/consent", map[string]any{
		"site": f.site.ID, "consent_id": consentID, "policy_version": f.site.PolicyVersion, "action": "accept_all",
		"url": "https://example.com/pricing?secret=1", "lang": "de-de",
	}, "Origin", "https://example.com")
	if res.code != 202 {
		f.t.Fatalf("consent: %d %s", res.code, res.raw)
	}
	tok, _ := res.body["token"].(string)
	if tok == "" {
		f.t.Fatalf("accept_all returned no token: %s", res.raw)
	}
	f.consentID, _ = res.body["consent_id"].(string)
	if granted, _ := res.body["granted"].(map[string]any); granted["performance"] != true || res.body["Granted"] != nil {
		f.t.Fatalf("accept_all answer lacks granted.performance: %s", res.raw)
	}
	return tok
}

func pageview(url string) map[string]any {
	return map[string]any{"type": "pageview", "url": url, "referrer": "https://www.google.com/search?q=x", "sw": 1920, "lang": "en-GB"}
}

func TestConsentThenEvents_StoredWithEnrichment(t *testing.T) {
	f := newFixture(t, nil)
	consentID, visitor, session := uuid.NewString(), uuid.NewString(), uuid.NewString()
	tok := f.accept(consentID)
	res := f.do("POST", "/api/events", map[string]any{
		"site": f.site.ID, "visitor": visitor, "session": session, "consent": tok,
		"events": []any{
			pageview("https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring&email=a@b.c#top"),
			map[string]any{"type": "custom", "url": "https://example.com/pricing", "name": "signup", "props": map[string]string{"plan": "pro"}},
			map[string]any{"type": "search", "url": "https://example.com/search?q=Blue+Shoes"},
			map[string]any{"type": "outbound", "url": "https://example.com/", "link": "https://partner.org/offer?id=7"},
			map[string]any{"type": "download", "url": "https://example.com/", "link": "https://example.com/files/report.pdf"},
			map[string]any{"type": "engagement", "url": "https://example.com/pricing", "duration": 12500},
			map[string]any{"type": "error", "url": "https://example.com/missing", "status": 404},
		},
	}, "Origin", "https://example.com")
	if res.code != 202 || res.body["accepted"] != float64(7) {
		t.Fatalf("events: %d %s", res.code, res.raw)
	}
	f.flush()

	var (
		path, host, country, region, city, provider, browser, device, screen, lang, src, channel, utmSource, utmCampaign string
		asn                                                                                                              uint32
		consentStored                                                                                                    uuid.UUID
	)
	err := f.db.Conn().QueryRow(context.Background(), `SELECT path, hostname, country, region, city, provider, asn, browser, device, screen,
		language, source, channel, utm_source, utm_campaign, consent_id FROM events WHERE type = 'pageview'`).Scan(
		&path, &host, &country, &region, &city, &provider, &asn, &browser, &device, &screen, &lang, &src, &channel, &utmSource, &utmCampaign, &consentStored)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{path, host, country, region, city, provider, asn, browser, device, screen, lang, utmSource, utmCampaign, consentStored.String()}
	want := []any{"/pricing", "example.com", "GB", "England", "London", "Andrews & Arnold Ltd", uint32(20712), "Chrome", "desktop", "desktop", "en-GB", "newsletter", "spring", f.consentID}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pageview row:\n got %v\nwant %v", got, want)
	}
	if channel != "Email" {
		t.Errorf("channel = %q, want Email (utm_medium=email)", channel)
	}
	checks := map[string]string{
		"SELECT count() FROM events WHERE type = 'custom' AND name = 'signup' AND prop_values = ['pro']":                                                                             "custom",
		"SELECT count() FROM events WHERE type = 'search' AND search_term = 'blue shoes'":                                                                                            "search",
		"SELECT count() FROM events WHERE type = 'outbound' AND link_url = 'https://partner.org/offer'":                                                                              "outbound without query",
		"SELECT count() FROM events WHERE type = 'download' AND link_url = 'https://example.com/files/report.pdf'":                                                                   "download",
		"SELECT count() FROM events WHERE type = 'engagement' AND duration_ms = 12500":                                                                                               "engagement",
		"SELECT count() FROM events WHERE type = 'error' AND status = 404 AND path = '/missing'":                                                                                     "error",
		"SELECT count() FROM consent_decisions WHERE action = 'accept_all' AND performance = 1 AND country = 'GB' AND path = '/pricing' AND language = 'de-DE' AND texts_hash != ''": "decision",
	}
	for q, what := range checks {
		if n := f.count(q); n != 1 {
			t.Errorf("%s: %d rows, want 1", what, n)
		}
	}
	// Nothing from the query string but UTM and search terms, and no IP.
	if n := f.count("SELECT count() FROM events WHERE position(path, 'email') > 0 OR position(path, '#') > 0"); n != 0 {
		t.Errorf("query string or fragment stored")
	}
	assertNoIP(t, f)
}

// assertNoIP checks that the visitor's address is in no table and no
// buffer file.
func assertNoIP(t *testing.T, f *fixture) {
	t.Helper()
	for _, table := range []string{"events", "consent_decisions", "consent_impressions"} {
		var n uint64
		q := fmt.Sprintf("SELECT count() FROM %s WHERE position(toString(tuple(*)), '%s') > 0", table, visitorIP)
		if err := f.db.Conn().QueryRow(context.Background(), strings.Replace(q, "tuple(*)", "tuple("+columns(t, f, table)+")", 1)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("the IP address is stored in %s", table)
		}
	}
	filepath.Walk(f.app.BufferDir(), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(visitorIP)) {
				t.Errorf("the IP address is in buffer file %s", p)
			}
		}
		return nil
	})
}

func columns(t *testing.T, f *fixture, table string) string {
	rows, err := f.db.Conn().Query(context.Background(), "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ?", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, "toString("+c+")")
	}
	return strings.Join(cols, ", ")
}

func TestEvents_ConsentIsEnforced(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.accept(uuid.NewString())
	reject := f.do("POST", "/api/consent", map[string]any{"site": "site1", "consent_id": uuid.NewString(), "policy_version": 1, "action": "reject_all"})
	if reject.code != 202 || reject.body["token"] != nil {
		t.Fatalf("reject_all: %d %s", reject.code, reject.raw)
	}
	custom := f.do("POST", "/api/consent", map[string]any{"site": "site1", "consent_id": uuid.NewString(), "policy_version": 1, "action": "custom", "categories": []string{"functionality"}})
	noPerfToken := f.signWithoutPerformance(t)
	batch := func(visitor, token string) map[string]any {
		return map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": token, "events": []any{pageview("https://example.com/")}}
	}
	tests := []struct {
		name   string
		body   any
		code   int
		reason string
	}{
		{"visitor without token", batch(uuid.NewString(), ""), 403, "no_consent"},
		{"forged token", batch(uuid.NewString(), forge(tok)), 403, "consent_invalid"},
		{"token without performance", batch(uuid.NewString(), noPerfToken), 403, "no_consent"},
		{"no visitor, no anonymous counting", map[string]any{"site": "site1", "events": []any{pageview("https://example.com/")}}, 403, "no_consent"},
		{"valid token", batch(uuid.NewString(), tok), 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do("POST", "/api/events", tt.body)
			if res.code != tt.code {
				t.Fatalf("code = %d (%s), want %d", res.code, res.raw, tt.code)
			}
			if tt.code != 202 && res.body["error"] == "" {
				t.Fatalf("no error message: %s", res.raw)
			}
		})
	}
	if custom.code != 202 || custom.body["token"] != nil {
		t.Fatalf("custom without performance: %d %s", custom.code, custom.raw)
	}
	// The policy changes: old tokens stop working.
	f.site.PolicyVersion = 2
	if err := f.db.PutSite(context.Background(), f.site); err != nil {
		t.Fatal(err)
	}
	if err := f.app.Sites.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res := f.do("POST", "/api/events", batch(uuid.NewString(), tok)); res.code != 403 || !strings.Contains(res.raw, "policy") {
		t.Fatalf("token of the old policy: %d %s", res.code, res.raw)
	}
	f.flush()
	if n := f.count("SELECT count() FROM events"); n != 1 {
		t.Fatalf("%d events stored, want only the one with valid consent", n)
	}
	if n := f.count("SELECT count() FROM consent_decisions"); n != 3 {
		t.Fatalf("%d decisions stored, want 3", n)
	}
	metrics := f.scrape()
	for _, want := range []string{`crumb_ingest_dropped_total{reason="no_consent"} 3`, `crumb_ingest_dropped_total{reason="consent_invalid"} 1`,
		`crumb_ingest_dropped_total{reason="policy_changed"} 1`, `crumb_ingest_accepted_total{kind="event"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// signWithoutPerformance signs, with the servers' secret, a token whose
// decision did not grant performance; the server never issues one, but a
// client could replay one of another kind.
// forge changes one character of a token's signature (not the last, whose
// low bits a base64 decoder may ignore), always to another one.
func forge(tok string) string {
	i := len(tok) - 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func (f *fixture) signWithoutPerformance(t *testing.T) string {
	signer, err := consent.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return signer.Sign(consent.Claims{SiteID: f.site.ID, ConsentID: uuid.New(), PolicyVersion: f.site.PolicyVersion,
		Granted: model.Categories{Targeting: true}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
}

func TestEvents_AnonymousCounting(t *testing.T) {
	f := newFixture(t, func(_ *config.Serve, s *model.Site) { s.AnonymousCounting = true })
	res := f.do("POST", "/api/events", map[string]any{"site": "site1", "events": []any{
		pageview("https://example.com/a"),
		map[string]any{"type": "custom", "url": "https://example.com/a", "name": "x"},
	}})
	if res.code != 202 || res.body["accepted"] != float64(1) || len(res.body["rejected"].([]any)) != 1 {
		t.Fatalf("anonymous: %d %s", res.code, res.raw)
	}
	f.flush()
	if n := f.count("SELECT count() FROM events WHERE visitor_id = toUUID('00000000-0000-0000-0000-000000000000') AND session_id = toUUID('00000000-0000-0000-0000-000000000000') AND path = '/a'"); n != 1 {
		t.Fatalf("anonymous page view rows = %d", n)
	}
}

func TestIngest_BadInputGetsClear4xx(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.accept(uuid.NewString())
	visitor := uuid.NewString()
	many := make([]any, 51)
	for i := range many {
		many[i] = pageview("https://example.com/")
	}
	tests := []struct {
		name    string
		path    string
		body    any
		headers []string
		code    int
		msg     string
	}{
		{"malformed JSON", "/api/events", `{"site":`, nil, 400, "malformed JSON"},
		{"wrong type", "/api/events", `{"site": 5, "events": []}`, nil, 400, `"site" must be a string`},
		{"no events", "/api/events", map[string]any{"site": "site1", "events": []any{}}, nil, 400, "no events"},
		{"too many events", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": tok, "events": many}, nil, 400, "limit is 50"},
		{"unknown site", "/api/events", map[string]any{"site": "nope", "events": []any{pageview("https://example.com/")}}, nil, 403, "unknown site"},
		{"foreign origin", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": tok, "events": []any{pageview("https://example.com/")}}, []string{"Origin", "https://evil.example"}, 403, "origin"},
		{"bad visitor", "/api/events", map[string]any{"site": "site1", "visitor": "bob", "session": uuid.NewString(), "consent": tok, "events": []any{pageview("https://example.com/")}}, nil, 400, "UUID"},
		{"old timestamp", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": tok, "events": []any{map[string]any{"type": "pageview", "url": "https://example.com/", "ts": time.Now().Add(-48 * time.Hour).UnixMilli()}}}, nil, 400, "timestamp"},
		{"long name", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": tok, "events": []any{map[string]any{"type": "custom", "url": "https://example.com/", "name": strings.Repeat("n", 200)}}}, nil, 400, "name longer"},
		{"relative url", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": tok, "events": []any{map[string]any{"type": "pageview", "url": "/x"}}}, nil, 400, "absolute"},
		{"consent bad action", "/api/consent", map[string]any{"site": "site1", "consent_id": uuid.NewString(), "policy_version": 1, "action": "maybe"}, nil, 400, "action"},
		{"consent bad id", "/api/consent", map[string]any{"site": "site1", "consent_id": "x", "policy_version": 1, "action": "accept_all"}, nil, 400, "consent_id"},
		{"consent unknown category", "/api/consent", map[string]any{"site": "site1", "consent_id": uuid.NewString(), "policy_version": 1, "action": "custom", "categories": []string{"sale"}}, nil, 400, "unknown category"},
		{"impression bad cookies", "/api/impressions", map[string]any{"site": "site1", "undeclared_cookies": []string{""}}, nil, 400, "cookie names"},
		{"me without id", "/api/me?site=site1", nil, nil, 400, "X-Crumb-Visitor"},
		{"me without site", "/api/me", nil, []string{"X-Crumb-Visitor", visitor}, 400, "missing site"},
		{"events without session", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "consent": tok, "events": []any{pageview("https://example.com/")}}, nil, 400, "session"},
		{"long referrer", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": tok, "events": []any{map[string]any{"type": "pageview", "url": "https://example.com/", "referrer": "https://r.example/" + strings.Repeat("r", 2100)}}}, nil, 400, "referrer longer"},
		{"consent newer policy", "/api/consent", map[string]any{"site": "site1", "policy_version": 99, "action": "accept_all"}, nil, 400, "policy_version 99 is newer"},
		{"unknown route", "/api/nothing", nil, nil, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.body == nil {
				method = "GET"
			}
			res := f.do(method, tt.path, tt.body, tt.headers...)
			msg, _ := res.body["error"].(string)
			if res.code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Fatalf("got %d %s; want %d with %q", res.code, res.raw, tt.code, tt.msg)
			}
		})
	}
	// One bad event does not lose the good ones around it.
	res := f.do("POST", "/api/events", map[string]any{"site": "site1", "visitor": visitor, "session": uuid.NewString(), "consent": tok, "events": []any{
		pageview("https://example.com/1"), map[string]any{"type": "teleport", "url": "https://example.com/"}, pageview("https://example.com/3"),
	}})
	if res.code != 202 || res.body["accepted"] != float64(2) || !strings.Contains(res.raw, `"index":1`) {
		t.Fatalf("mixed batch: %d %s", res.code, res.raw)
	}
	f.flush()
	if n := f.count("SELECT count() FROM events WHERE path IN ('/1', '/3')"); n != 2 {
		t.Fatalf("good events stored: %d, want 2", n)
	}
}

func TestIngest_BotsAreDroppedAndCounted(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.accept(uuid.NewString())
	res := f.do("POST", "/api/events", map[string]any{"site": "site1", "visitor": uuid.NewString(), "session": uuid.NewString(), "consent": tok,
		"events": []any{pageview("https://example.com/")}}, "User-Agent", googlebotUA)
	if res.code != 202 || res.header.Get("X-Crumb-Dropped") != "bot" {
		t.Fatalf("bot: %d %v %s", res.code, res.header, res.raw)
	}
	imp := f.do("POST", "/api/impressions", map[string]any{"site": "site1"}, "User-Agent", googlebotUA)
	if imp.code != 202 {
		t.Fatalf("bot impression: %d", imp.code)
	}
	f.flush()
	if n := f.count("SELECT count() FROM events") + f.count("SELECT count() FROM consent_impressions"); n != 0 {
		t.Fatalf("bot traffic stored: %d rows", n)
	}
	if m := f.scrape(); !strings.Contains(m, `crumb_ingest_dropped_total{reason="bot"} 2`) {
		t.Fatal("bot drops not counted")
	}
}

func TestImpressions_StoredWithoutID(t *testing.T) {
	f := newFixture(t, nil)
	res := f.do("POST", "/api/impressions", map[string]any{"site": "site1", "policy_version": 1, "url": "https://example.com/blog?x=1",
		"lang": "fr", "gpc": true, "undeclared_cookies": []string{"_ga", "_fbp"}}, "User-Agent", iphoneUA)
	if res.code != 202 {
		t.Fatalf("impression: %d %s", res.code, res.raw)
	}
	f.flush()
	if n := f.count("SELECT count() FROM consent_impressions WHERE path = '/blog' AND gpc = 1 AND device = 'mobile' AND country = 'GB' AND undeclared_cookies = ['_ga', '_fbp']"); n != 1 {
		t.Fatalf("impression rows = %d", n)
	}
	assertNoIP(t, f)
}

func TestMe_ExportAndErase(t *testing.T) {
	f := newFixture(t, nil)
	consentID := uuid.NewString()
	tok := f.accept(consentID)
	mine, other := uuid.NewString(), uuid.NewString()
	for _, v := range []string{mine, other} {
		res := f.do("POST", "/api/events", map[string]any{"site": "site1", "visitor": v, "session": uuid.NewString(), "consent": tok, "events": []any{pageview("https://example.com/" + v[:4])}})
		if res.code != 202 {
			t.Fatalf("events: %d %s", res.code, res.raw)
		}
	}
	f.flush()
	res := f.do("GET", "/api/me?site=site1", nil, "X-Crumb-Visitor", mine)
	events, _ := res.body["events"].([]any)
	decisions, _ := res.body["consent_decisions"].([]any)
	if res.code != 200 || len(events) != 1 || len(decisions) != 1 || strings.Contains(res.raw, other) {
		t.Fatalf("export: %d %s", res.code, res.raw)
	}
	if del := f.do("DELETE", "/api/me?site=site1", nil, "X-Crumb-Visitor", mine); del.code != 202 {
		t.Fatalf("erase: %d %s", del.code, del.raw)
	}
	f.flush() // the erasure goes to ClickHouse with the buffer's next batch
	deadline := time.Now().Add(30 * time.Second)
	for f.count("SELECT count() FROM events WHERE visitor_id = toUUID(?)", mine) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := f.count("SELECT count() FROM events WHERE visitor_id = toUUID(?)", mine); n != 0 {
		t.Fatalf("erased visitor still has %d events", n)
	}
	if n := f.count("SELECT count() FROM events WHERE visitor_id = toUUID(?)", other); n != 1 {
		t.Fatalf("other visitor lost events: %d", n)
	}
}

func TestBufferFull_503WithRetryAfter(t *testing.T) {
	f := newFixture(t, func(c *config.Serve, s *model.Site) { c.BufferMax = 2; s.AnonymousCounting = true })
	body := map[string]any{"site": "site1", "events": []any{pageview("https://example.com/")}}
	for i := 0; i < 2; i++ {
		if res := f.do("POST", "/api/events", body); res.code != 202 {
			t.Fatalf("request %d: %d", i, res.code)
		}
	}
	res := f.do("POST", "/api/events", body)
	if res.code != 503 || res.header.Get("Retry-After") == "" || !strings.Contains(res.raw, "retry") {
		t.Fatalf("full buffer: %d %v %s", res.code, res.header, res.raw)
	}
	if ready := f.do("GET", "/readyz", nil); ready.code != 503 {
		t.Fatalf("readyz with a full buffer: %d", ready.code)
	}
	f.flush()
	if ready := f.do("GET", "/readyz", nil); ready.code != 200 {
		t.Fatalf("readyz after flush: %d %s", ready.code, ready.raw)
	}
}

func TestRateLimit_429(t *testing.T) {
	f := newFixture(t, func(c *config.Serve, _ *model.Site) { c.RateLimit = 3 })
	var last response
	for i := 0; i < 4; i++ {
		last = f.do("POST", "/api/impressions", map[string]any{"site": "site1"})
	}
	if last.code != 429 || last.body["error"] == nil {
		t.Fatalf("4th request: %d %s", last.code, last.raw)
	}
	// Another address is not limited.
	if res := f.do("POST", "/api/impressions", map[string]any{"site": "site1"}, "X-Forwarded-For", "81.2.69.161"); res.code != 202 {
		t.Fatalf("other address: %d", res.code)
	}
}

func TestSiteConfigAndHealth(t *testing.T) {
	f := newFixture(t, nil)
	res := f.do("GET", "/api/sites/site1/config", nil)
	if res.code != 200 || res.body["policy_version"] != float64(1) || len(res.body["categories"].([]any)) != 4 {
		t.Fatalf("config: %d %s", res.code, res.raw)
	}
	if res := f.do("GET", "/api/sites/nope/config", nil); res.code != 404 {
		t.Fatalf("unknown site config: %d", res.code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if res := f.do("GET", p, nil); res.code != 200 {
			t.Fatalf("%s: %d %s", p, res.code, res.raw)
		}
	}
	pre := f.do("OPTIONS", "/api/events", nil, "Origin", "https://example.com", "Access-Control-Request-Method", "POST")
	if pre.code != 204 || pre.header.Get("Access-Control-Allow-Origin") != "https://example.com" {
		t.Fatalf("preflight: %d %v", pre.code, pre.header)
	}
	for _, tc := range []struct{ path, origin, want string }{
		{"/api/events", "https://evil.example", ""},
		{"/api/me?site=site1", "https://www.example.com", "https://www.example.com"},
		{"/api/me?site=site1", "https://other.org", ""},
		{"/api/sites/site1/config", "https://example.com", "https://example.com"},
		{"/api/sites/site1/config", "https://example.com.evil.org", ""},
	} {
		res := f.do("OPTIONS", tc.path, nil, "Origin", tc.origin, "Access-Control-Request-Method", "GET")
		if got := res.header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("CORS %s from %s: allow-origin %q, want %q", tc.path, tc.origin, got, tc.want)
		}
	}
}

func TestIngest_BodyOverLimitGets413OverRealHTTP(t *testing.T) {
	f := newFixture(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.app.HTTP.Listener(ln)
	resp, err := http.Post("http://"+ln.Addr().String()+"/api/events", "text/plain", strings.NewReader(strings.Repeat("x", 70<<10)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 413 || !strings.Contains(body["error"], "64 KiB") {
		t.Fatalf("got %d %v", resp.StatusCode, body)
	}
}
