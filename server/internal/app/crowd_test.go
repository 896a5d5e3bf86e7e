package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/geoip/geoipbuild"
	"github.com/crumbhq/crumb/server/internal/model"
)

// A known crowd goes through the public API exactly as t.js sends it —
// consents, events with their tokens, refusals, anonymous page views,
// withdrawals — and every stats route is compared with a recount of the
// stored rows (uniqExact, plain counts), on the pre-aggregated path (no
// filter) and on the events path (a filter every row meets), before and
// after erasures.

// crowdVisitor is one visitor of the crowd.
type crowdVisitor struct {
	ip, ua          string
	visitor         uuid.UUID
	consentID, key  string
	token           string
	visits          int
	withdraws, rare bool
}

var crowdUAs = []string{chromeUA, iphoneUA,
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"}

var crowdIPs = []string{"81.2.69.160", "2.16.1.10", "5.5.5.20", "31.3.3.30"}

var crowdReferrers = []string{"", "https://www.google.com/search?q=crumb", "https://duckduckgo.com/", "https://www.facebook.com/",
	"https://news.ycombinator.com/item?id=1", ""}

var crowdPages = []string{"/", "/pricing", "/docs", "/blog/consent", "/about"}

func crowdGeo(t *testing.T, c *config.Serve, dir string) {
	t.Helper()
	entries := map[netip.Prefix]geoip.Location{
		netip.MustParsePrefix("81.2.69.0/24"): {Country: "GB", Region: "England", City: "London", ASN: 20712, Provider: "Andrews & Arnold Ltd"},
		netip.MustParsePrefix("2.16.1.0/24"):  {Country: "DE", Region: "Berlin", City: "Berlin", ASN: 3320, Provider: "Deutsche Telekom AG"},
		netip.MustParsePrefix("5.5.5.0/24"):   {Country: "FR", Region: "Île-de-France", City: "Paris", ASN: 3215, Provider: "Orange S.A."},
		netip.MustParsePrefix("31.3.3.0/24"):  {Country: "NL", City: "Amsterdam", ASN: 1136, Provider: "KPN B.V."},
	}
	c.GeoIPCity, c.GeoIPASN = filepath.Join(dir, "crowd-city.mmdb"), filepath.Join(dir, "crowd-asn.mmdb")
	if err := geoipbuild.WriteTestCity(c.GeoIPCity, entries); err != nil {
		t.Fatal(err)
	}
	if err := geoipbuild.WriteTestASN(c.GeoIPASN, entries); err != nil {
		t.Fatal(err)
	}
}

func TestKnownCrowd_EveryRouteEqualsARecountBeforeAndAfterErasure(t *testing.T) {
	geoDir := t.TempDir()
	f := newFixture(t, func(c *config.Serve, s *model.Site) {
		crowdGeo(t, c, geoDir)
		c.BufferMax, c.BatchSize = 100_000, 10_000
		s.K, s.AnonymousCounting = 3, true
	})
	token := f.apiToken()
	r := rand.New(rand.NewPCG(11, 13))
	now := time.Now().UTC()
	start := now.Add(-time.Hour).UnixMilli()

	// The crowd: 120 visitors who accept, 25 who refuse (their page views
	// are counted anonymously), 6 who accept, then withdraw.
	var crowd []*crowdVisitor
	for i := 0; i < 151; i++ {
		v := &crowdVisitor{ip: crowdIPs[r.IntN(len(crowdIPs))], ua: crowdUAs[r.IntN(len(crowdUAs))], visitor: uuid.New(),
			visits: 1 + r.IntN(3), withdraws: i >= 145, rare: i%40 == 0}
		action := "accept_all"
		if i >= 120 && i < 145 {
			action = "reject_all"
		}
		res := f.send(v, "POST", "/api/consent", map[string]any{"site": "site1", "policy_version": 1, "action": action,
			"url": "https://example.com/", "lang": "en-GB", "seq": 1})
		if res.code != 202 {
			t.Fatalf("consent: %d %s", res.code, res.raw)
		}
		v.consentID, v.key = res.body["consent_id"].(string), res.body["consent_key"].(string)
		v.token, _ = res.body["token"].(string)
		crowd = append(crowd, v)
	}
	ms := start
	for _, v := range crowd {
		for visit := 0; visit < v.visits; visit++ {
			session := uuid.New()
			ref := crowdReferrers[r.IntN(len(crowdReferrers))]
			var events []any
			for p := 0; p < 1+r.IntN(4); p++ {
				ms += 1000 + int64(r.IntN(5000))
				page := crowdPages[r.IntN(len(crowdPages))]
				if v.rare && p == 0 {
					page = "/rare-" + v.visitor.String()[:4]
				}
				ev := map[string]any{"type": "pageview", "ts": ms, "url": "https://example.com" + page, "sw": 1280, "lang": "en-GB"}
				if p == 0 {
					ev["referrer"] = ref
				} else if v.token != "" {
					ev["continued"] = true // as t.js marks a visit's later pages
				}
				events = append(events, ev)
				if r.IntN(3) == 0 {
					ms += 100
					events = append(events, map[string]any{"type": "engagement", "ts": ms, "url": "https://example.com" + page, "duration": 2000 + r.IntN(20000)})
				}
				if page == "/pricing" && r.IntN(2) == 0 {
					ms += 100
					events = append(events, map[string]any{"type": "custom", "ts": ms, "url": "https://example.com/pricing", "name": "signup", "props": map[string]string{"plan": "pro"}})
				}
			}
			body := map[string]any{"site": "site1", "events": events}
			if v.token != "" {
				body["visitor"], body["session"], body["consent"] = v.visitor.String(), session.String(), v.token
			} else {
				// Without consent, t.js sends page views alone.
				body["events"] = slices.DeleteFunc(events, func(e any) bool { return e.(map[string]any)["type"] != "pageview" })
			}
			if res := f.send(v, "POST", "/api/events", body); res.code != 202 {
				t.Fatalf("events: %d %s", res.code, res.raw)
			}
		}
	}
	// Withdrawals: the decision is kept, and the consent's token stops at once.
	for _, v := range crowd {
		if !v.withdraws {
			continue
		}
		res := f.send(v, "POST", "/api/consent", map[string]any{"site": "site1", "consent_id": v.consentID, "consent_key": v.key, "seq": 2,
			"policy_version": 1, "action": "withdraw", "url": "https://example.com/", "lang": "en-GB"})
		if res.code != 202 || res.body["consent_id"] != v.consentID {
			t.Fatalf("withdraw: %d %s", res.code, res.raw)
		}
		late := f.send(v, "POST", "/api/events", map[string]any{"site": "site1", "visitor": v.visitor.String(), "session": uuid.NewString(),
			"consent": v.token, "events": []any{map[string]any{"type": "pageview", "url": "https://example.com/after"}}})
		if late.code != 403 || !strings.Contains(late.raw, "withdrew") {
			t.Fatalf("events after the withdrawal: %d %s", late.code, late.raw)
		}
	}
	// Someone who saw a consent ID (in a proof export) cannot add to it.
	stolen := f.send(crowd[0], "POST", "/api/consent", map[string]any{"site": "site1", "consent_id": crowd[0].consentID,
		"consent_key": "guessed", "policy_version": 1, "action": "withdraw", "url": "https://example.com/"})
	if stolen.code != 403 {
		t.Fatalf("decision on a consent not held: %d %s", stolen.code, stolen.raw)
	}
	f.flush()

	c := &crowdCheck{t: t, f: f, token: token}
	c.compareAll("before erasure")

	// The proof of a withdrawn consent lists accept, then withdraw.
	proof := f.stats(token, "/proof/"+crowd[150].consentID, "")
	var actions []string
	for _, d := range proof["decisions"].([]any) {
		actions = append(actions, d.(map[string]any)["action"].(string))
	}
	if fmt.Sprint(actions) != "[accept_all withdraw]" {
		t.Fatalf("proof of a withdrawn consent: %v", actions)
	}

	// Erasures: four visitors by their ID (one of them seen on a rare
	// page only they saw), one consent by its ID and key; one attempt with
	// a consent ID alone is refused.
	erased := []*crowdVisitor{crowd[0], crowd[1], crowd[2], crowd[80]}
	for _, v := range erased {
		if res := f.send(v, "DELETE", "/api/me?site=site1", nil, "X-Crumb-Visitor", v.visitor.String()); res.code != 202 {
			t.Fatalf("erase: %d %s", res.code, res.raw)
		}
	}
	if res := f.send(crowd[3], "DELETE", "/api/me?site=site1", nil, "X-Crumb-Consent", crowd[3].consentID); res.code != 403 {
		t.Fatalf("erasure by consent ID without its key: %d %s", res.code, res.raw)
	}
	byConsent := crowd[130] // a refusal: only its decision is stored
	if res := f.send(byConsent, "DELETE", "/api/me?site=site1", nil, "X-Crumb-Consent", byConsent.consentID, "X-Crumb-Consent-Key", byConsent.key); res.code != 202 {
		t.Fatalf("erasure by consent: %d %s", res.code, res.raw)
	}
	// A visitor who withdrew holds the consent (ID and key) but no longer
	// the visitor ID, which t.js deletes: the consent reaches the events
	// sent under it, to read and to erase.
	gone := crowd[150]
	if !gone.withdraws || gone.token == "" {
		t.Fatal("crowd[150] is not a visitor who consented and withdrew")
	}
	byKey := []string{"X-Crumb-Consent", gone.consentID, "X-Crumb-Consent-Key", gone.key}
	if me := f.send(gone, "GET", "/api/me?site=site1", nil, byKey...); len(me.body["events"].([]any)) == 0 {
		t.Fatalf("a withdrawn consent's events, asked by the consent: none (%s)", me.raw)
	}
	if res := f.send(gone, "DELETE", "/api/me?site=site1", nil, byKey...); res.code != 202 {
		t.Fatalf("erasure by a withdrawn consent: %d %s", res.code, res.raw)
	}
	me := f.send(crowd[0], "GET", "/api/me?site=site1", nil, "X-Crumb-Visitor", crowd[0].visitor.String())
	if st := me.body["erasure"].(map[string]any)["state"]; st != "pending" {
		t.Fatalf("erasure state before it ran: %v (%s)", st, me.raw)
	}
	// The migrations' own mutations (on empty tables) are not counted.
	if n := f.count("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND command NOT LIKE '%WHERE 1 = 1'"); n != 0 {
		t.Fatalf("%d mutations before the erasures ran", n)
	}
	f.flush()
	// One batch: at most one mutation per table (the pre-aggregated
	// tables' rebuild included), none on the tables nothing was erased from.
	if n := f.count("SELECT toUInt64(max(c)) FROM (SELECT table, count() AS c FROM system.mutations WHERE database = currentDatabase() AND command NOT LIKE '%WHERE 1 = 1' GROUP BY table)"); n > 1 {
		t.Errorf("%d mutations of one table for one batch of erasures, want at most 1", n)
	}
	if n := f.count("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'consent_impressions'"); n != 0 {
		t.Errorf("%d mutations of consent_impressions, which holds no ID", n)
	}
	for _, v := range erased {
		me := f.send(v, "GET", "/api/me?site=site1", nil, "X-Crumb-Visitor", v.visitor.String())
		if st := me.body["erasure"].(map[string]any)["state"]; st != "complete" || len(me.body["events"].([]any)) != 0 {
			t.Fatalf("after the erasure: %s", me.raw)
		}
		for _, table := range []string{"events", "visitor_index"} {
			if n := f.count("SELECT count() FROM "+table+" WHERE visitor_id = toUUID(?)", v.visitor.String()); n != 0 {
				t.Errorf("%d rows of an erased visitor in %s", n, table)
			}
		}
		// The keys of its visits' steps (funnels) are rebuilt away too.
		if n := f.count("SELECT count() FROM report_steps WHERE vk = reinterpretAsUInt64(reinterpretAsString(toUUID(?)))", v.visitor.String()); n != 0 {
			t.Errorf("%d funnel steps of an erased visitor", n)
		}
		for _, table := range []string{"consent_decisions", "consent_index"} {
			if n := f.count("SELECT count() FROM "+table+" WHERE consent_id = toUUID(?)", v.consentID); n != 0 {
				t.Errorf("%d rows of an erased consent in %s", n, table)
			}
		}
	}
	for _, table := range []string{"events", "visitor_index"} {
		if n := f.count("SELECT count() FROM "+table+" WHERE visitor_id = toUUID(?)", gone.visitor.String()); n != 0 {
			t.Errorf("%d rows in %s of a visitor erased by their withdrawn consent", n, table)
		}
	}
	if me := f.send(gone, "GET", "/api/me?site=site1", nil, byKey...); !strings.Contains(me.raw, `"events":[]`) || !strings.Contains(me.raw, `"consent_decisions":[]`) {
		t.Errorf("after the erasure by consent: %d %s", me.code, me.raw)
	}
	if res := f.do("GET", "/api/v1/stats/site1/proof/"+byConsent.consentID, nil, "Authorization", "Bearer "+token); res.code != 404 {
		t.Errorf("proof of an erased consent: %d %s", res.code, res.raw)
	}
	c.compareAll("after erasure")
	rare := "/rare-" + crowd[0].visitor.String()[:4]
	for _, path := range []string{"", "?filter=hostname:is:example.com"} {
		b := f.stats(token, "/breakdown/page", path)
		for _, row := range b["rows"].([]any) {
			if row.(map[string]any)["value"] == rare {
				t.Errorf("the page only an erased visitor saw is still listed (%s)", path)
			}
		}
	}
}

// apiToken creates an API token for every site and returns it.
func (f *fixture) apiToken() string {
	f.t.Helper()
	tok, id, hash := auth.NewToken()
	if err := f.db.PutToken(context.Background(), model.Token{ID: id, Hash: hash, Name: "crowd", CreatedAt: time.Now()}); err != nil {
		f.t.Fatal(err)
	}
	if err := f.app.ReloadAuth(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// send is a request from visitor v's browser on the site's page.
func (f *fixture) send(v *crowdVisitor, method, path string, body any, headers ...string) response {
	f.t.Helper()
	return f.do(method, path, body, append([]string{"Origin", "https://example.com", "User-Agent", v.ua, "X-Forwarded-For", v.ip}, headers...)...)
}

// stats GETs a stats route of site1 for the last 7 days.
func (f *fixture) stats(token, route, query string) map[string]any {
	f.t.Helper()
	sep := "?"
	if query != "" {
		query = strings.TrimPrefix(query, "?")
		sep = "?" + query + "&"
	}
	res := f.do("GET", "/api/v1/stats/site1"+route+sep+"period=7d", nil, "Authorization", "Bearer "+token)
	if res.code != 200 {
		f.t.Fatalf("%s: %d %s", route, res.code, res.raw)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(res.raw), &out); err != nil {
		f.t.Fatal(err)
	}
	return out
}

type crowdCheck struct {
	t     *testing.T
	f     *fixture
	token string
}

// paths are the two query paths: pre-aggregated, and events (a filter
// that every row meets).
var crowdPaths = []struct{ name, traffic, consent string }{
	{"pre-aggregated", "", ""},
	{"events", "filter=" + url.QueryEscape("hostname:is:example.com"), "filter=" + url.QueryEscape("device:is_not:none-such")},
}

func (c *crowdCheck) compareAll(when string) {
	c.t.Helper()
	eventsWhere := "site_id = 'site1'"
	visitors := "uniqExactIf(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000'))"
	visits := "uniqExactIf(session_id, session_id != toUUID('00000000-0000-0000-0000-000000000000'))"
	for _, p := range crowdPaths {
		at := when + ", " + p.name + " path"
		// Overview.
		o := c.f.stats(c.token, "/overview", p.traffic)["metrics"].(map[string]any)
		want := c.row("SELECT toUInt64("+visitors+"), toUInt64("+visits+"), toUInt64(countIf(type = 'pageview')), "+
			"toUInt64(countIf(type = 'pageview' AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000'))), toUInt64(count()) FROM events WHERE "+eventsWhere, 5)
		got := []uint64{num(o["visitors"]), num(o["visits"]), num(o["pageviews"]), num(o["anonymous_pageviews"]), num(o["events"])}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			c.t.Errorf("%s: overview visitors, visits, page views, anonymous, events = %v, recount %v", at, got, want)
		}
		// Time series, per day.
		ts := c.f.stats(c.token, "/timeseries", p.traffic+"&metrics=visitors,visits,pageviews")
		days := c.rows("SELECT toString(date), toUInt64("+visitors+"), toUInt64("+visits+"), toUInt64(countIf(type = 'pageview')) FROM events WHERE "+
			eventsWhere+" GROUP BY date", 3)
		for _, pt := range ts["points"].([]any) {
			pm := pt.(map[string]any)
			day := fmt.Sprint(pm["date"])
			want := days[day]
			if want == nil {
				want = []uint64{0, 0, 0}
			}
			got := []uint64{num(pm["visitors"]), num(pm["visits"]), num(pm["pageviews"])}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				c.t.Errorf("%s: time series %s = %v, recount %v", at, day, got, want)
			}
		}
		// Breakdowns: every row shown has k visitors or more and equals
		// the recount; every value with k visitors or more is shown.
		for dim, expr := range map[string]string{
			"page": "path", "country": "country", "browser": "browser", "device": "device", "os": "os",
			"channel": "channel", "source": "source", "provider": "provider", "event": "name", "domain_type": "domain_type",
		} {
			rows := "type = 'pageview'"
			switch dim {
			case "channel", "source":
				rows += " AND channel != 'Internal'"
			case "event":
				rows = "type = 'custom'"
			}
			counted := "countIf(type = 'pageview')"
			if dim == "event" {
				counted = "count()"
			}
			recount := c.rows("SELECT "+expr+" AS v, toUInt64("+visitors+"), toUInt64("+visits+"), toUInt64("+counted+") FROM events WHERE "+
				eventsWhere+" AND "+rows+" AND visitor_id != toUUID('00000000-0000-0000-0000-000000000000') GROUP BY v HAVING "+visitors+" >= 3", 3)
			b := c.f.stats(c.token, "/breakdown/"+dim, p.traffic+"&limit=100")
			// The metrics the rows carry, of visitors, visits and page
			// views (events for custom events).
			metric := "pageviews"
			if dim == "event" {
				metric = "events"
			}
			has := map[string]bool{}
			for _, m := range b["metrics"].([]any) {
				has[m.(string)] = true
			}
			shown := map[string][]uint64{}
			for _, r := range b["rows"].([]any) {
				rm := r.(map[string]any)
				v := rm["value"].(string)
				if v == "(none)" {
					v = ""
				}
				shown[v] = []uint64{num(rm["visitors"]), num(rm["visits"]), num(rm[metric])}
			}
			if dim != "page" && dim != "event" {
				// Page views of page-view dimensions include the anonymous ones.
				for v := range recount {
					anon := c.row("SELECT toUInt64(count()) FROM events WHERE "+eventsWhere+" AND "+rows+" AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000') AND "+expr+" = ?", 1, v)
					recount[v][2] += anon[0]
				}
			}
			if dim == "page" {
				for v := range recount {
					anon := c.row("SELECT toUInt64(count()) FROM events WHERE "+eventsWhere+" AND type = 'pageview' AND visitor_id = toUUID('00000000-0000-0000-0000-000000000000') AND path = ?", 1, v)
					recount[v][2] += anon[0]
				}
			}
			for _, vals := range recount {
				for i, m := range []string{"visitors", "visits", metric} {
					if !has[m] {
						vals[i] = 0
					}
				}
			}
			if len(recount) == 0 {
				c.t.Errorf("%s: breakdown %s: nothing to compare", at, dim)
			}
			if fmt.Sprint(sorted(shown)) != fmt.Sprint(sorted(recount)) {
				c.t.Errorf("%s: breakdown %s\n shown   %v\n recount %v", at, dim, sorted(shown), sorted(recount))
			}
		}
		// Loyalty: the visits with a page view by the days since their
		// visitor was last seen, and the visitors by their visits.
		consented := eventsWhere + " AND visitor_id != toUUID('00000000-0000-0000-0000-000000000000')"
		visitsSQL := "SELECT visitor_id, min(ts) AS st FROM events WHERE " + consented + " GROUP BY visitor_id, session_id HAVING countIf(type = 'pageview') > 0"
		for dim, recountSQL := range map[string]string{
			"days_since_last_visit": `SELECT since, toUInt64(uniqExact(visitor_id)), toUInt64(count()) FROM (SELECT visitor_id,
				arrayFilter(t -> toDate(t) < toDate(st), times) AS before,
				multiIf(arrayExists(t -> toDate(t) = toDate(st) AND t < st, times), 'same day', empty(before), 'first visit',
					toDate(st) - arrayReduce('max', arrayMap(t -> toDate(t), before)) = 1, '1 day',
					toDate(st) - arrayReduce('max', arrayMap(t -> toDate(t), before)) <= 7, '2-7 days', 'more than 7 days') AS since
				FROM (` + visitsSQL + `) ALL INNER JOIN (SELECT visitor_id, groupArray(ts) AS times FROM events WHERE ` + consented +
				` GROUP BY visitor_id) USING visitor_id) GROUP BY since HAVING uniqExact(visitor_id) >= 3`,
			"visits_per_visitor": `SELECT multiIf(n = 1, '1', n = 2, '2', n <= 5, '3-5', n <= 10, '6-10', 'more than 10') AS b, toUInt64(count()), toUInt64(sum(n))
				FROM (SELECT visitor_id, count() AS n FROM (` + visitsSQL + `) GROUP BY visitor_id) GROUP BY b HAVING count() >= 3`,
		} {
			recount := c.rows(recountSQL, 2)
			shown := map[string][]uint64{}
			for _, r := range c.f.stats(c.token, "/breakdown/"+dim, p.traffic)["rows"].([]any) {
				rm := r.(map[string]any)
				shown[rm["value"].(string)] = []uint64{num(rm["visitors"]), num(rm["visits"])}
			}
			if len(recount) < 2 || fmt.Sprint(sorted(shown)) != fmt.Sprint(sorted(recount)) {
				c.t.Errorf("%s: breakdown %s\n shown   %v\n recount %v", at, dim, sorted(shown), sorted(recount))
			}
		}
		// Consent: decisions, distinct consents, actions.
		co := c.f.stats(c.token, "/consent/overview", p.consent)
		wantC := c.row(`SELECT toUInt64(count()), toUInt64(uniqExact(consent_id)), toUInt64(countIf(action = 'accept_all')),
			toUInt64(countIf(action = 'reject_all')), toUInt64(countIf(action = 'withdraw')) FROM consent_decisions WHERE site_id = 'site1'`, 5)
		gotC := []uint64{num(co["decisions"]), num(co["consents"]), num(co["accept_all"]), num(co["reject_all"]), num(co["withdraw"])}
		if fmt.Sprint(gotC) != fmt.Sprint(wantC) {
			c.t.Errorf("%s: consent decisions, consents, accept, reject, withdraw = %v, recount %v (%v)", at, gotC, wantC, co)
		}
	}
	// Realtime (always events): visitors and page views of the last 5 minutes.
	rt := c.f.stats(c.token, "/realtime", "")
	want := c.row("SELECT toUInt64(uniqExactIf(visitor_id, visitor_id != toUUID('00000000-0000-0000-0000-000000000000'))), toUInt64(countIf(type = 'pageview')) FROM events WHERE site_id = 'site1' AND ts >= now() - 300", 2)
	if got := []uint64{num(rt["visitors"]), num(rt["pageviews"])}; fmt.Sprint(got) != fmt.Sprint(want) {
		c.t.Errorf("%s: realtime visitors, page views = %v, recount %v", when, got, want)
	}
	// Paths around /pricing: the pages before and after each of its views.
	c.comparePaths(when)
}

// comparePaths recounts the paths around /pricing from the stored page
// views of each visit.
func (c *crowdCheck) comparePaths(when string) {
	rows, err := c.f.db.Conn().Query(context.Background(), `SELECT session_id, any(visitor_id), arrayMap(t -> t.2, arraySort(t -> t.1, groupArray((ts, path))))
		FROM events WHERE site_id = 'site1' AND type = 'pageview' AND session_id != toUUID('00000000-0000-0000-0000-000000000000') GROUP BY session_id`)
	if err != nil {
		c.t.Fatal(err)
	}
	type step struct {
		visitors map[uuid.UUID]bool
		n        uint64
	}
	prev, next := map[string]*step{}, map[string]*step{}
	add := func(m map[string]*step, v string, vis uuid.UUID) {
		if m[v] == nil {
			m[v] = &step{visitors: map[uuid.UUID]bool{}}
		}
		m[v].visitors[vis] = true
		m[v].n++
	}
	for rows.Next() {
		var sid, vis uuid.UUID
		var seq []string
		if err := rows.Scan(&sid, &vis, &seq); err != nil {
			c.t.Fatal(err)
		}
		for i, p := range seq {
			if p != "/pricing" {
				continue
			}
			before, after := "(entrance)", "(exit)"
			if i > 0 {
				before = seq[i-1]
			}
			if i < len(seq)-1 {
				after = seq[i+1]
			}
			add(prev, before, vis)
			add(next, after, vis)
		}
	}
	rows.Close()
	shown := func(m map[string]*step) map[string][]uint64 {
		out := map[string][]uint64{}
		for v, s := range m {
			if len(s.visitors) >= 3 {
				out[v] = []uint64{uint64(len(s.visitors)), s.n}
			}
		}
		return out
	}
	for _, p := range crowdPaths {
		got := c.f.stats(c.token, "/paths", p.traffic+"&page=/pricing&limit=100")
		for _, side := range []struct {
			key  string
			want map[string][]uint64
		}{{"previous", shown(prev)}, {"next", shown(next)}} {
			have := map[string][]uint64{}
			for _, r := range got[side.key].([]any) {
				rm := r.(map[string]any)
				have[rm["value"].(string)] = []uint64{num(rm["visitors"]), num(rm["transitions"])}
			}
			if fmt.Sprint(sorted(have)) != fmt.Sprint(sorted(side.want)) {
				c.t.Errorf("%s, %s path: paths %s of /pricing\n shown   %v\n recount %v", when, p.name, side.key, sorted(have), sorted(side.want))
			}
		}
	}
}

func (c *crowdCheck) row(q string, n int, args ...any) []uint64 {
	c.t.Helper()
	out := make([]uint64, n)
	dest := make([]any, n)
	for i := range out {
		dest[i] = &out[i]
	}
	if err := c.f.db.Conn().QueryRow(context.Background(), q, args...).Scan(dest...); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	return out
}

// rows runs a query of a key and n counts.
func (c *crowdCheck) rows(q string, n int) map[string][]uint64 {
	c.t.Helper()
	rs, err := c.f.db.Conn().Query(context.Background(), q)
	if err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	out := map[string][]uint64{}
	for rs.Next() {
		var key string
		vals := make([]uint64, n)
		dest := []any{&key}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rs.Scan(dest...); err != nil {
			c.t.Fatal(err)
		}
		out[key] = vals
	}
	return out
}

func num(v any) uint64 {
	f, _ := v.(float64)
	return uint64(f)
}

func sorted(m map[string][]uint64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%q=%v", k, v))
	}
	sort.Strings(out)
	return out
}
