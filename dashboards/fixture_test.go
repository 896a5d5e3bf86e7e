package dashboards_test

// A realistic traffic and consent fixture for the dashboard's browser
// tests: a few hundred visitors over the last 60 days (the 30-day period
// and the one before it, for comparisons), generated from a fixed seed
// relative to the current time, so that every breakdown value the tests
// click has well over k (5) visitors.

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/testkit/crumbtest"
)

// fixture is what loadFixture stored, for the tests to look for.
type fixture struct {
	// Consent is a consent ID with an accept_all decision (proof view).
	Consent uuid.UUID
	// Visitors in the last 30 days, in total and from Germany (exact
	// counts, as the dashboards show them in a range this small).
	Visitors, VisitorsDE int
}

type profile struct {
	country, region, city, provider string
	asn                             uint32
	device, browser, bver, os, osv  string
	screen, lang                    string
}

type source struct {
	host, path, name, channel string
	utmSource, utmMedium      string
	utmCampaign               string
	entries                   []string // likely entry pages
}

var (
	sources = []weighted[source]{
		{30, source{channel: "Direct", entries: []string{"/", "/", "/pricing", "/docs"}}},
		{28, source{"www.google.com", "/", "Google", "Organic Search", "", "", "", []string{"/", "/blog/cookie-consent-guide", "/blog/cookie-consent-guide", "/features"}}},
		{10, source{"news.ycombinator.com", "/item", "Hacker News", "Referral", "", "", "", []string{"/blog/first-party-analytics"}}},
		{12, source{"", "", "newsletter", "Email", "newsletter", "email", "spring-launch", []string{"/blog/first-party-analytics", "/features"}}},
		{10, source{"t.co", "/", "Twitter", "Social", "", "", "", []string{"/", "/blog/cookie-consent-guide"}}},
		{8, source{"duckduckgo.com", "/", "DuckDuckGo", "Organic Search", "", "", "", []string{"/", "/docs"}}},
	}
	countries = []weighted[profile]{
		{30, profile{country: "DE", region: "Bavaria", city: "Munich", provider: "Deutsche Telekom AG", asn: 3320, lang: "de-DE"}},
		{24, profile{country: "US", region: "California", city: "San Francisco", provider: "Comcast Cable", asn: 7922, lang: "en-US"}},
		{14, profile{country: "GB", region: "England", city: "London", provider: "British Telecommunications", asn: 2856, lang: "en-GB"}},
		{12, profile{country: "FR", region: "Île-de-France", city: "Paris", provider: "Orange S.A.", asn: 3215, lang: "fr-FR"}},
		{10, profile{country: "NL", region: "North Holland", city: "Amsterdam", provider: "KPN B.V.", asn: 1136, lang: "nl-NL"}},
		{8, profile{country: "ES", region: "Madrid", city: "Madrid", provider: "Telefonica de Espana", asn: 3352, lang: "es-ES"}},
		{2, profile{country: "JP", region: "Tokyo", city: "Tokyo", provider: "NTT", asn: 4713, lang: "ja-JP"}},
	}
	devices = []weighted[profile]{
		{34, profile{device: "desktop", browser: "Chrome", bver: "142", os: "Windows", osv: "11", screen: "desktop"}},
		{14, profile{device: "desktop", browser: "Firefox", bver: "145", os: "Windows", osv: "11", screen: "desktop"}},
		{12, profile{device: "desktop", browser: "Safari", bver: "26", os: "Mac OS X", osv: "15", screen: "desktop"}},
		{6, profile{device: "desktop", browser: "Chrome", bver: "142", os: "Linux", osv: "", screen: "desktop"}},
		{18, profile{device: "mobile", browser: "Mobile Safari", bver: "26", os: "iOS", osv: "26", screen: "mobile"}},
		{12, profile{device: "mobile", browser: "Chrome Mobile", bver: "142", os: "Android", osv: "16", screen: "mobile"}},
		{4, profile{device: "tablet", browser: "Mobile Safari", bver: "26", os: "iOS", osv: "26", screen: "tablet"}},
	}
	// next lists where visitors go from a page; "" ends the visit.
	next = map[string][]string{
		"/":                           {"/pricing", "/features", "/blog", "/docs", "", ""},
		"/features":                   {"/pricing", "/pricing", "/docs", ""},
		"/pricing":                    {"/signup", "/signup", "/docs", "/", "", ""},
		"/blog":                       {"/blog/cookie-consent-guide", "/blog/first-party-analytics", ""},
		"/blog/cookie-consent-guide":  {"/pricing", "/", "", ""},
		"/blog/first-party-analytics": {"/", "/pricing", "/features", ""},
		"/docs":                       {"/docs/install", "/docs/install", "/pricing", ""},
		"/docs/install":               {"", "/docs"},
		"/signup":                     {""},
	}
)

// weighted is a choice and how often it is made.
type weighted[T any] struct {
	w float64
	v T
}

func pick[T any](r *rand.Rand, items []weighted[T]) T {
	total := 0.0
	for _, it := range items {
		total += it.w
	}
	x := r.Float64() * total
	for _, it := range items {
		x -= it.w
		if x < 0 {
			return it.v
		}
	}
	return items[len(items)-1].v
}

// loadFixture stores the traffic and consent of site (domain) relative to now.
func loadFixture(t *testing.T, db *crumbtest.DB, site, domain string, now time.Time) fixture {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 42))
	now = now.UTC()
	today := now.Truncate(24 * time.Hour)
	// The dashboard's "last 30 days": today and the 29 whole UTC days
	// before it (not the last 720 hours).
	since := today.AddDate(0, 0, -29)
	var (
		events []crumbtest.Event
		decs   []crumbtest.Decision
		imps   []crumbtest.Impression
		f      fixture
		de     = map[uuid.UUID]bool{}
		cur    = map[uuid.UUID]bool{}
	)
	id := func() uuid.UUID {
		var u uuid.UUID
		for i := range u {
			u[i] = byte(r.Uint32())
		}
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		return u
	}
	all := crumbtest.Categories{Performance: true, Functionality: true, Targeting: true}
	impression := func(ts time.Time, p profile, path string, gpc bool) {
		im := crumbtest.Impression{ID: id(), SiteID: site, Time: ts, PolicyVersion: 2, Path: path, Language: p.lang[:2],
			Country: p.country, Device: p.device, GPC: gpc}
		switch {
		case path == "/pricing" && r.IntN(3) == 0:
			im.UndeclaredCookies = []string{"_hjSessionUser"}
		case r.IntN(12) == 0:
			im.UndeclaredCookies = []string{"_ga"}
		}
		imps = append(imps, im)
	}
	decision := func(ts time.Time, consent uuid.UUID, p profile, path string, action crumbtest.Action, cats crumbtest.Categories, gpc bool) {
		decs = append(decs, crumbtest.Decision{ID: id(), SiteID: site, Time: ts, ConsentID: consent, PolicyVersion: 2,
			TextsHash: "c0ffee42", Action: action, Granted: cats, GPC: gpc, Path: path, Language: p.lang[:2],
			Country: p.country, Device: p.device,
			// Banner shown for 1 to 16 s (not drawn from r: the rest stays as it was).
			DecisionMS: 1000 + uint32(ts.Second()*250+ts.Minute()*37)%15000})
	}
	newProfile := func() profile {
		c, d := pick(r, countries), pick(r, devices)
		lang := c.lang
		if r.IntN(4) == 0 {
			lang = "en-US"
		}
		p := c
		p.device, p.browser, p.bver, p.os, p.osv, p.screen, p.lang = d.device, d.browser, d.bver, d.os, d.osv, d.screen, lang
		return p
	}
	// age picks how long ago a visit started: more traffic lately, less
	// at weekends, never in the last 6 minutes (realtime is separate).
	age := func() time.Duration {
		for {
			d := r.IntN(60)
			w := 0.45 + 0.55*float64(59-d)/59
			if wd := today.AddDate(0, 0, -d).Weekday(); wd == time.Saturday || wd == time.Sunday {
				w *= 0.6
			}
			if r.Float64() < w {
				tod := time.Duration(r.Int64N(int64(24 * time.Hour)))
				a := time.Duration(d)*24*time.Hour + now.Sub(today) - tod
				if a > 6*time.Minute {
					return a
				}
			}
		}
	}
	visit := func(visitor, consent uuid.UUID, p profile, start time.Time, src source) {
		session := id()
		path := src.entries[r.IntN(len(src.entries))]
		ts := start
		prev := ""
		for n := 0; path != "" && n < 6 && ts.Before(now.Add(-time.Minute)); n++ {
			e := crumbtest.Event{ID: id(), SiteID: site, Time: ts, Type: crumbtest.Pageview, VisitorID: visitor, SessionID: session,
				ConsentID: consent, Hostname: domain, Path: path, Country: p.country, Region: p.region, City: p.city,
				ASN: p.asn, Provider: p.provider, Browser: p.browser, BrowserVersion: p.bver, OS: p.os, OSVersion: p.osv,
				Device: p.device, Screen: p.screen, Language: p.lang}
			if n == 0 {
				e.ReferrerHost, e.ReferrerPath, e.Source, e.Channel = src.host, src.path, src.name, src.channel
				e.UTMSource, e.UTMMedium, e.UTMCampaign = src.utmSource, src.utmMedium, src.utmCampaign
			} else {
				e.ReferrerHost, e.ReferrerPath, e.Channel = domain, prev, "Internal"
			}
			events = append(events, e)
			child := func(typ crumbtest.EventType, at time.Duration) crumbtest.Event {
				c := e
				c.ID, c.Type, c.Time = id(), typ, ts.Add(at)
				c.Source, c.UTMSource, c.UTMMedium, c.UTMCampaign = "", "", "", ""
				c.ReferrerHost, c.ReferrerPath, c.Channel = domain, path, "Internal"
				return c
			}
			stay := time.Duration(4+r.IntN(110)) * time.Second
			switch {
			case path == "/signup":
				c := child(crumbtest.Custom, stay/2)
				c.Name = "signup"
				c.PropKeys, c.PropValues = []string{"plan"}, []string{[]string{"pro", "free", "free"}[r.IntN(3)]}
				events = append(events, c)
			case path == "/docs/install" && r.IntN(3) == 0:
				c := child(crumbtest.Outbound, stay/2)
				c.LinkURL = "https://github.com/crumbhq/crumb"
				events = append(events, c)
			case path == "/docs" && r.IntN(4) == 0:
				c := child(crumbtest.Download, stay/2)
				c.LinkURL = "https://" + domain + "/files/crumb-whitepaper.pdf"
				events = append(events, c)
			case path == "/docs" && r.IntN(3) == 0:
				c := child(crumbtest.Search, stay/2)
				c.SearchTerm = []string{"cookie banner", "gdpr", "cookie banner"}[r.IntN(3)]
				events = append(events, c)
			case (path == "/blog/cookie-consent-guide" || path == "/blog/first-party-analytics") && r.IntN(4) == 0:
				c := child(crumbtest.Custom, stay/2)
				c.Name = "newsletter_subscribe"
				events = append(events, c)
			case path == "/features" && r.IntN(6) == 0:
				c := child(crumbtest.Error, time.Second)
				c.Path, c.Status = "/features/old-pricing", 404
				events = append(events, c)
			}
			if r.IntN(10) < 7 {
				c := child(crumbtest.Engagement, stay)
				c.DurationMS = uint32(stay / time.Millisecond)
				events = append(events, c)
			}
			prev = path
			opts := next[path]
			path = opts[r.IntN(len(opts))]
			ts = ts.Add(stay + 2*time.Second)
		}
	}

	// Visitors who accepted (all or performance only) and were measured.
	for i := range 420 {
		p := newProfile()
		visitor, consent := id(), id()
		src := pick(r, sources)
		start := now.Add(-age())
		if i == 0 {
			f.Consent = consent // a visitor of last week, for the proof view
			start = now.Add(-5*24*time.Hour - 3*time.Hour)
		}
		gpc := r.IntN(10) == 0
		impression(start.Add(-2*time.Second), p, src.entries[0], gpc)
		switch {
		case i == 0 || r.IntN(4) != 0:
			cats := all
			if gpc {
				cats.Targeting = false
			}
			decision(start.Add(-time.Second), consent, p, src.entries[0], crumbtest.AcceptAll, cats, gpc)
		default:
			decision(start.Add(-time.Second), consent, p, src.entries[0], crumbtest.Customize,
				crumbtest.Categories{Performance: true, Functionality: r.IntN(2) == 0}, gpc)
		}
		visit(visitor, consent, p, start, src)
		// A third come back a few days later.
		if r.IntN(3) == 0 {
			if again := start.Add(time.Duration(1+r.IntN(6)) * 24 * time.Hour); again.Before(now.Add(-30 * time.Minute)) {
				visit(visitor, consent, p, again, sources[0].v)
				if !again.Before(since) {
					cur[visitor] = true
					if p.country == "DE" {
						de[visitor] = true
					}
				}
			}
		}
		if !start.Before(since) {
			cur[visitor] = true
			if p.country == "DE" {
				de[visitor] = true
			}
		}
		// A few withdraw later.
		if i > 0 && r.IntN(40) == 0 {
			decision(start.Add(time.Hour), consent, p, "/", crumbtest.Withdraw, crumbtest.Categories{}, gpc)
		}
	}
	// Visitors who rejected, and banners left unanswered: no events.
	for range 170 {
		p := newProfile()
		ts := now.Add(-age())
		path := []string{"/", "/pricing", "/blog/cookie-consent-guide"}[r.IntN(3)]
		gpc := r.IntN(5) == 0
		impression(ts, p, path, gpc)
		if r.IntN(3) != 0 {
			decision(ts.Add(4*time.Second), id(), p, path, crumbtest.RejectAll, crumbtest.Categories{}, gpc)
		}
	}
	// Page views counted anonymously (without consent).
	for range 160 {
		p := newProfile()
		src := sources[r.IntN(len(sources))].v
		events = append(events, crumbtest.Event{ID: id(), SiteID: site, Time: now.Add(-age()), Type: crumbtest.Pageview,
			Hostname: domain, Path: src.entries[0], ReferrerHost: src.host, ReferrerPath: src.path, Source: src.name,
			Channel: src.channel, Country: p.country, Device: p.device, Browser: p.browser, BrowserVersion: p.bver,
			OS: p.os, OSVersion: p.osv, Screen: p.screen, Language: p.lang})
	}
	// Visitors on the site right now.
	for range 7 {
		p := newProfile()
		visitor, consent := id(), id()
		start := now.Add(-time.Duration(30+r.IntN(150)) * time.Second)
		e := crumbtest.Event{ID: id(), SiteID: site, Time: start, Type: crumbtest.Pageview, VisitorID: visitor, SessionID: id(),
			ConsentID: consent, Hostname: domain, Path: []string{"/", "/pricing", "/docs"}[r.IntN(3)], Channel: "Direct",
			Country: p.country, Device: p.device, Browser: p.browser, BrowserVersion: p.bver, OS: p.os, Screen: p.screen, Language: p.lang}
		events = append(events, e)
		cur[visitor] = true
		if p.country == "DE" {
			de[visitor] = true
		}
	}
	f.Visitors, f.VisitorsDE = len(cur), len(de)

	ctx := context.Background()
	if err := db.InsertEvents(ctx, events); err != nil {
		t.Fatalf("fixture events: %v", err)
	}
	if err := db.InsertDecisions(ctx, decs); err != nil {
		t.Fatalf("fixture decisions: %v", err)
	}
	if err := db.InsertImpressions(ctx, imps); err != nil {
		t.Fatalf("fixture impressions: %v", err)
	}
	t.Logf("fixture: %d events, %d decisions, %d impressions, %d visitors in 30 days (%d DE)",
		len(events), len(decs), len(imps), f.Visitors, f.VisitorsDE)
	return f
}
