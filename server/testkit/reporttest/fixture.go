// Package reporttest holds a small, hand-checked traffic and consent
// fixture for the tests of package report and the stats API in package httpapi. Every
// number the tests expect can be worked out from the comments here.
package reporttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
)

// Site is the fixture's site; K its k.
// DecisionTimes are the fixture's decisions' times to decision, in their
// order: the nine made in the banner, then a withdrawal by the JavaScript
// API (0). In the current period: median 4,000 ms; under 2 s 2, 2-5 s 4,
// 5-10 s 1, 10-30 s 1, 30-60 s 0, 60 s or more 1.
var DecisionTimes = []uint32{1200, 3400, 8000, 4500, 2500, 15000, 900, 70000, 4000, 0}

const (
	Site   = "fx"
	Domain = "fx.test"
	K      = 3
)

// Now is the fixture's clock: 2026-03-10 13:03 UTC. Realtime then covers
// 12:58–13:03, which holds one anonymous page view (A3).
var Now = time.Date(2026, 3, 10, 13, 3, 0, 0, time.UTC)

// The periods: current 2026-03-08 … 2026-03-10, previous 03-05 … 03-07.
var (
	From     = time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	To       = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	PrevFrom = time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	PrevTo   = time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
)

// Fixture is what Load stored.
type Fixture struct {
	Site model.Site
	// IDs holds every visitor, session, consent, event, decision and
	// impression ID stored: none may appear in an aggregate response.
	IDs []uuid.UUID
	// Consent1 is visitor V1's consent ID (two decisions: accept_all,
	// then withdraw).
	Consent1 uuid.UUID
}

type visitor struct {
	id, consent                                   uuid.UUID
	country, device, browser, bver, os, osv, lang string
}

type step struct {
	at     string // HH:MM:SS on the session's day
	typ    model.EventType
	path   string
	ms     uint32            // engagement duration
	name   string            // custom event
	props  map[string]string // custom event properties
	link   string            // outbound, download
	term   string            // search
	status uint16            // error
}

type source struct{ host, path, name, channel, utmSource, utmMedium, utmCampaign string }

var (
	google     = source{"google.com", "/", "Google", "Organic Search", "", "", ""}
	direct     = source{channel: "Direct"}
	hackerNews = source{"news.ycombinator.com", "/item", "Hacker News", "Referral", "", "", ""}
	newsletter = source{"", "", "newsletter", "Email", "newsletter", "email", "march"}
)

// The traffic, current period (V1…V8, sessions S1…S9, anonymous A1…A3):
//
//	S1 V1 03-08 10:00 Google  DE desktop  / (eng 30 s) → /pricing (eng 20 s), signup{plan:pro}   2 pv, 55 s
//	S2 V2 03-08 11:00 Direct  DE mobile   / (eng 5 s)                                             1 pv, 5 s, bounce
//	S3 V3 03-08 12:00 Google  US desktop  /blog (eng 40 s)                                        1 pv, 40 s
//	S4 V1 03-09 09:00 Email   DE desktop  /blog → / → /pricing (eng 10 s), outbound github        3 pv, 60 s
//	S5 V4 03-09 14:00 HN      US mobile   /                                                       1 pv, 0 s, bounce
//	S6 V5 03-09 15:00 Google  GB desktop  /pricing, signup{plan:pro} → /, search "consent"        2 pv, 40 s
//	S7 V6 03-10 08:00 Direct  FR tablet   /docs, download a.pdf (eng 12 s)                        1 pv, 12 s
//	S8 V7 03-10 09:00 Google  DE desktop  / → /pricing, signup{plan:free}, error 404 /missing     2 pv, 25 s
//	S9 V8 03-10 10:00 Direct  US desktop  /                                                       1 pv, 0 s, bounce
//	A1 03-08 13:00 / Direct DE mobile;  A2 03-09 13:00 /pricing Google FR desktop;  A3 03-10 13:00 / Direct US desktop
//
// Previous period: S10 V9 03-06 Direct DE / (eng 20 s); S11 V10 03-07
// Google US /pricing (bounce); S12 V1 03-07 Direct DE /blog (bounce);
// A4 03-06 / anonymous.
func traffic() (vs []visitor, sessions []struct {
	v     int
	day   time.Time
	src   source
	steps []step
}, anon []struct {
	at      time.Time
	path    string
	src     source
	country string
	device  string
}) {
	id := func(n int) uuid.UUID { return uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprint("crumb-fixture-", n))) }
	v4 := func(u uuid.UUID) uuid.UUID { u[6] = u[6]&0x0f | 0x40; return u } // random-looking version 4
	mk := func(n int, country, device, browser, bver, os, osv, lang string) visitor {
		return visitor{v4(id(n)), v4(id(1000 + n)), country, device, browser, bver, os, osv, lang}
	}
	vs = []visitor{
		mk(1, "DE", "desktop", "Chrome", "142", "Windows", "11", "de-DE"),
		mk(2, "DE", "mobile", "Mobile Safari", "18", "iOS", "18", "de-DE"),
		mk(3, "US", "desktop", "Firefox", "145", "Linux", "", "en-US"),
		mk(4, "US", "mobile", "Chrome Mobile", "142", "Android", "15", "en-US"),
		mk(5, "GB", "desktop", "Chrome", "142", "Mac OS X", "15", "en-GB"),
		mk(6, "FR", "tablet", "Mobile Safari", "18", "iOS", "18", "fr-FR"),
		mk(7, "DE", "desktop", "Chrome", "142", "Windows", "11", "de-DE"),
		mk(8, "US", "desktop", "Chrome", "142", "Windows", "10", "en-US"),
		mk(9, "DE", "desktop", "Chrome", "142", "Windows", "11", "de-DE"),
		mk(10, "US", "mobile", "Chrome Mobile", "142", "Android", "15", "en-US"),
	}
	d := func(day int) time.Time { return time.Date(2026, 3, day, 0, 0, 0, 0, time.UTC) }
	type sess = struct {
		v     int
		day   time.Time
		src   source
		steps []step
	}
	sessions = []sess{
		{1, d(8), google, []step{{at: "10:00:00", typ: model.Pageview, path: "/"}, {at: "10:00:30", typ: model.Engagement, path: "/", ms: 30000},
			{at: "10:00:35", typ: model.Pageview, path: "/pricing"}, {at: "10:00:50", typ: model.Custom, path: "/pricing", name: "signup", props: map[string]string{"plan": "pro"}},
			{at: "10:00:55", typ: model.Engagement, path: "/pricing", ms: 20000}}},
		{2, d(8), direct, []step{{at: "11:00:00", typ: model.Pageview, path: "/"}, {at: "11:00:05", typ: model.Engagement, path: "/", ms: 5000}}},
		{3, d(8), google, []step{{at: "12:00:00", typ: model.Pageview, path: "/blog"}, {at: "12:00:40", typ: model.Engagement, path: "/blog", ms: 40000}}},
		{1, d(9), newsletter, []step{{at: "09:00:00", typ: model.Pageview, path: "/blog"}, {at: "09:00:20", typ: model.Pageview, path: "/"},
			{at: "09:00:50", typ: model.Pageview, path: "/pricing"}, {at: "09:01:00", typ: model.Engagement, path: "/pricing", ms: 10000},
			{at: "09:01:00", typ: model.Outbound, path: "/pricing", link: "https://github.com/crumbhq/crumb"}}},
		{4, d(9), hackerNews, []step{{at: "14:00:00", typ: model.Pageview, path: "/"}}},
		{5, d(9), google, []step{{at: "15:00:00", typ: model.Pageview, path: "/pricing"}, {at: "15:00:20", typ: model.Custom, path: "/pricing", name: "signup", props: map[string]string{"plan": "pro"}},
			{at: "15:00:30", typ: model.Pageview, path: "/"}, {at: "15:00:40", typ: model.Search, path: "/", term: "consent"}}},
		{6, d(10), direct, []step{{at: "08:00:00", typ: model.Pageview, path: "/docs"}, {at: "08:00:10", typ: model.Download, path: "/docs", link: "https://fx.test/files/a.pdf"},
			{at: "08:00:12", typ: model.Engagement, path: "/docs", ms: 12000}}},
		{7, d(10), google, []step{{at: "09:00:00", typ: model.Pageview, path: "/"}, {at: "09:00:15", typ: model.Pageview, path: "/pricing"},
			{at: "09:00:20", typ: model.Custom, path: "/pricing", name: "signup", props: map[string]string{"plan": "free"}},
			{at: "09:00:25", typ: model.Error, path: "/missing", status: 404}}},
		{8, d(10), direct, []step{{at: "10:00:00", typ: model.Pageview, path: "/"}}},
		// Previous period.
		{9, d(6), direct, []step{{at: "10:00:00", typ: model.Pageview, path: "/"}, {at: "10:00:20", typ: model.Engagement, path: "/", ms: 20000}}},
		{10, d(7), google, []step{{at: "11:00:00", typ: model.Pageview, path: "/pricing"}}},
		{1, d(7), direct, []step{{at: "12:00:00", typ: model.Pageview, path: "/blog"}}},
	}
	at := func(day int, hm string) time.Time {
		t, _ := time.Parse("15:04:05", hm)
		return d(day).Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
	}
	type an = struct {
		at      time.Time
		path    string
		src     source
		country string
		device  string
	}
	anon = []an{
		{at(8, "13:00:00"), "/", direct, "DE", "mobile"},
		{at(9, "13:00:00"), "/pricing", google, "FR", "desktop"},
		{at(10, "13:00:00"), "/", direct, "US", "desktop"},
		{at(6, "13:00:00"), "/", direct, "DE", "desktop"},
	}
	return vs, sessions, anon
}

// Load stores the fixture in db: the site (k = 3, anonymous counting),
// the events above, and the banner impressions and consent decisions
// below. The materialized views fill as they do in production.
//
// Consent, 2026-03-08 … 10 (C1…C8 are V1…V8's consent IDs; C9 rejected and
// sent no events):
//
//	impressions I1 / DE desktop; I2 / DE mobile; I3 /blog US desktop GPC [_ga]; I4 / US mobile;
//	I5 /pricing GB desktop [_hjSessionUser]; I6 /docs FR tablet; I7 / DE desktop [_ga];
//	I8 / US desktop GPC [_ga]; I9 / US desktop; I10 / DE desktop
//	decisions D1 C1 accept_all DE; D2 C2 accept_all DE; D3 C3 custom(perf) US GPC; D4 C4 accept_all US;
//	D5 C5 custom(perf, func) GB; D6 C6 accept_all FR; D7 C7 accept_all DE; D8 C8 accept_all US GPC
//	(targeting off); D9 C9 reject_all DE; D10 C1 withdraw DE (03-10 12:00)
func Load(t testing.TB, db *clickhouse.DB) Fixture {
	t.Helper()
	ctx := context.Background()
	site := model.NewSite(Site, Domain, "Fixture", From.AddDate(0, -1, 0))
	site.K = K
	site.AnonymousCounting = true
	site.Goals = []model.Goal{{Name: "Signup", Match: "event:signup"}, {Name: "Pricing", Match: "page:/pricing"}, {Name: "Pro", Match: "event:signup:plan=pro"}}
	site.Funnels = []model.Funnel{{Name: "Home to signup", Steps: []string{"page:/", "page:/pricing", "event:signup"}, Window: "visit"}}
	if err := db.PutSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	f := Fixture{Site: site}
	vs, sessions, anon := traffic()
	for _, v := range vs {
		f.IDs = append(f.IDs, v.id, v.consent)
	}
	f.Consent1 = vs[0].consent
	var events []model.Event
	n := 0
	newID := func() uuid.UUID {
		n++
		u := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint("crumb-fixture-row-", n)))
		f.IDs = append(f.IDs, u)
		return u
	}
	for i, s := range sessions {
		v := vs[s.v-1]
		sid := newID()
		prev := ""
		for j, st := range s.steps {
			hm, _ := time.Parse("15:04:05", st.at)
			ts := s.day.Add(time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute + time.Duration(hm.Second())*time.Second)
			e := model.Event{
				ID: newID(), SiteID: Site, Time: ts, Type: st.typ, VisitorID: v.id, SessionID: sid, ConsentID: v.consent,
				Hostname: Domain, Path: st.path, Country: v.country, Browser: v.browser, BrowserVersion: v.bver,
				OS: v.os, OSVersion: v.osv, Device: v.device, Screen: screenOf(v.device), Language: v.lang,
				Name: st.name, LinkURL: st.link, SearchTerm: st.term, DurationMS: st.ms, Status: st.status,
			}
			if v.country == "DE" {
				e.Region, e.City, e.ASN, e.Provider = "Bavaria", "Munich", 3320, "Deutsche Telekom AG"
				e.DomainType, e.DomainSuffix, e.DomainSource = "country", "de", "ptr"
			} else {
				e.DomainType, e.DomainSource = "network", "asn"
			}
			for k, val := range st.props {
				e.PropKeys, e.PropValues = append(e.PropKeys, k), append(e.PropValues, val)
			}
			if st.typ == model.Pageview {
				if j == 0 {
					e.ReferrerHost, e.ReferrerPath, e.Source, e.Channel = s.src.host, s.src.path, s.src.name, s.src.channel
					e.UTMSource, e.UTMMedium, e.UTMCampaign = s.src.utmSource, s.src.utmMedium, s.src.utmCampaign
				} else {
					e.ReferrerHost, e.ReferrerPath, e.Channel = Domain, prev, "Internal"
				}
				prev = st.path
			} else {
				e.Channel = "Internal"
				e.ReferrerHost, e.ReferrerPath = Domain, prev
			}
			events = append(events, e)
			_ = i
		}
	}
	for _, a := range anon {
		events = append(events, model.Event{
			ID: newID(), SiteID: Site, Time: a.at, Type: model.Pageview, Hostname: Domain, Path: a.path,
			ReferrerHost: a.src.host, ReferrerPath: a.src.path, Source: a.src.name, Channel: a.src.channel,
			Country: a.country, Device: a.device, Screen: screenOf(a.device), Browser: "Chrome", BrowserVersion: "142",
			OS: "Windows", OSVersion: "11", Language: "en-US",
		})
	}
	if err := db.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}

	at := func(day int, hms string) time.Time {
		hm, _ := time.Parse("15:04:05", hms)
		return time.Date(2026, 3, day, hm.Hour(), hm.Minute(), hm.Second(), 0, time.UTC)
	}
	type imp struct {
		ts             time.Time
		path, cty, dev string
		gpc            bool
		cookies        []string
	}
	var ims []model.Impression
	for _, i := range []imp{
		{at(8, "10:00:00"), "/", "DE", "desktop", false, nil},
		{at(8, "11:00:00"), "/", "DE", "mobile", false, nil},
		{at(8, "12:00:00"), "/blog", "US", "desktop", true, []string{"_ga"}},
		{at(9, "14:00:00"), "/", "US", "mobile", false, nil},
		{at(9, "15:00:00"), "/pricing", "GB", "desktop", false, []string{"_hjSessionUser"}},
		{at(10, "08:00:00"), "/docs", "FR", "tablet", false, nil},
		{at(10, "09:00:00"), "/", "DE", "desktop", false, []string{"_ga"}},
		{at(10, "10:00:00"), "/", "US", "desktop", true, []string{"_ga"}},
		{at(10, "13:00:00"), "/", "US", "desktop", false, nil},
		{at(10, "11:00:00"), "/", "DE", "desktop", false, nil},
	} {
		ims = append(ims, model.Impression{ID: newID(), SiteID: Site, Time: i.ts, PolicyVersion: 1, Path: i.path,
			Language: "en", Country: i.cty, Device: i.dev, GPC: i.gpc, UndeclaredCookies: i.cookies})
	}
	if err := db.InsertImpressions(ctx, ims); err != nil {
		t.Fatal(err)
	}
	c9 := uuid.NewSHA1(uuid.NameSpaceURL, []byte("crumb-fixture-c9"))
	f.IDs = append(f.IDs, c9)
	all := model.Categories{Performance: true, Functionality: true, Targeting: true}
	if len(DecisionTimes) != 10 {
		t.Fatal("a time for each decision")
	}
	type dec struct {
		ts      time.Time
		consent uuid.UUID
		action  model.Action
		cats    model.Categories
		gpc     bool
		path    string
		cty     string
		dev     string
	}
	var ds []model.Decision
	// How long each decision's banner was shown (DecisionTimes), the
	// withdrawal made by the JavaScript API (0).
	for i, d := range []dec{
		{at(8, "10:00:03"), vs[0].consent, model.AcceptAll, all, false, "/", "DE", "desktop"},
		{at(8, "11:00:02"), vs[1].consent, model.AcceptAll, all, false, "/", "DE", "mobile"},
		{at(8, "12:00:04"), vs[2].consent, model.Customize, model.Categories{Performance: true}, true, "/blog", "US", "desktop"},
		{at(9, "14:00:05"), vs[3].consent, model.AcceptAll, all, false, "/", "US", "mobile"},
		{at(9, "15:00:03"), vs[4].consent, model.Customize, model.Categories{Performance: true, Functionality: true}, false, "/pricing", "GB", "desktop"},
		{at(10, "08:00:02"), vs[5].consent, model.AcceptAll, all, false, "/docs", "FR", "tablet"},
		{at(10, "09:00:02"), vs[6].consent, model.AcceptAll, all, false, "/", "DE", "desktop"},
		{at(10, "10:00:03"), vs[7].consent, model.AcceptAll, model.Categories{Performance: true, Functionality: true}, true, "/", "US", "desktop"},
		{at(10, "11:00:00"), c9, model.RejectAll, model.Categories{}, false, "/", "DE", "desktop"},
		{at(10, "12:00:00"), vs[0].consent, model.Withdraw, model.Categories{}, false, "/pricing", "DE", "desktop"},
	} {
		ds = append(ds, model.Decision{ID: newID(), SiteID: Site, Time: d.ts, ConsentID: d.consent, PolicyVersion: 1,
			TextsHash: "fixture-texts-v1", Action: d.action, Granted: d.cats, GPC: d.gpc, Path: d.path,
			Language: "en", Country: d.cty, Device: d.dev, DecisionMS: DecisionTimes[i]})
	}
	if err := db.InsertDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	return f
}

func screenOf(device string) string {
	switch device {
	case "mobile":
		return "mobile"
	case "tablet":
		return "tablet"
	}
	return "desktop"
}

// Sites is a site registry holding the fixture's site.
type Sites map[string]*model.Site

// Get returns the site with id.
func (s Sites) Get(_ context.Context, id string) (*model.Site, bool) {
	site, ok := s[id]
	return site, ok
}
