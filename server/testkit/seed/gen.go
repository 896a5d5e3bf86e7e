package seed

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
)

type visitor struct {
	id, consent uuid.UUID
	geo         geo
	agent       agent
	gpc         bool
	decided     bool // a decision is stored for the current policy
	policy      uint32
	perf        bool // performance granted
	withdrawn   bool
}

// generator produces realistic traffic in time order: visitors who see the
// banner and decide, sessions with several page views and engagement,
// search, outbound, download, custom and error events.
type generator struct {
	o          Options
	r          *rand.Rand
	pages      []string
	pageZipf   *rand.Zipf
	broken     []string
	sources    []source
	srcPick    weighted
	ctyPick    weighted
	agentPick  weighted
	domainPick weighted
	hourPick   weighted
	visitors   []*visitor
	emitted    int
	out        Batch
	flush      func(Batch)
	batchSize  int
	bumpDay    time.Time // policy version 2 from this day on
	leaky      map[string][]string
	sorted     []string
}

func newGenerator(o Options, batchSize int, flush func(Batch)) *generator {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	g := &generator{o: o, r: r, flush: flush, batchSize: batchSize}
	g.pages = pages(r, o.Pages)
	g.pageZipf = rand.NewZipf(r, 1.08, 3, uint64(len(g.pages)-1))
	for i := 0; i < 300; i++ {
		g.broken = append(g.broken, "/old/"+pickS(r, nouns)+"-"+pickS(r, adjectives)+"/"+pickS(r, nouns))
	}
	g.sources = sources(r)
	ws := make([]float64, len(g.sources))
	for i, s := range g.sources {
		ws[i] = s.weight
	}
	g.srcPick = newWeighted(ws)
	ws = make([]float64, len(countries))
	for i, c := range countries {
		ws[i] = c.weight
	}
	g.ctyPick = newWeighted(ws)
	ws = make([]float64, len(agents))
	for i, a := range agents {
		ws[i] = a.weight
	}
	g.agentPick = newWeighted(ws)
	ws = make([]float64, len(domainTypes))
	for i, d := range domainTypes {
		ws[i] = d.weight
	}
	g.domainPick = newWeighted(ws)
	// Traffic by hour of day (UTC), peaking in European and American
	// working hours.
	g.hourPick = newWeighted([]float64{2, 1.5, 1.2, 1, 1, 1.3, 2, 3, 4.5, 5.5, 6, 6.2, 6, 6.2, 6.5, 7, 7, 6.5, 5.5, 4.8, 4.2, 3.8, 3.2, 2.5})
	g.bumpDay = o.End.AddDate(0, 0, -o.Days*2/5)
	// Pages that set cookies the site has not declared, before consent.
	g.leaky = map[string][]string{"/pricing": {"_hjSessionUser_1234"}, "/blog": {"_ga", "_gid"}}
	for i := 0; i < 25; i++ {
		g.leaky[g.pages[20+r.IntN(len(g.pages)-20)]] = []string{"YSC", "VISITOR_INFO1_LIVE"}
	}
	return g
}

func (g *generator) uuid() uuid.UUID {
	var u uuid.UUID
	a, b := g.r.Uint64(), g.r.Uint64()
	for i := 0; i < 8; i++ {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

func (g *generator) newVisitor() *visitor {
	c := countries[g.ctyPick.pick(g.r)]
	v := &visitor{id: g.uuid(), consent: g.uuid(), gpc: g.r.Float64() < 0.07}
	v.geo.country = c.code
	v.geo.lang = c.lang[g.r.IntN(len(c.lang))]
	if len(c.places) > 0 {
		pl := c.places[g.r.IntN(len(c.places))]
		v.geo.region, v.geo.city = pl[0], pl[1]
		if g.r.Float64() < 0.08 { // city unknown
			v.geo.city = ""
		}
		v.geo.provider = c.providers[g.r.IntN(len(c.providers))]
		v.geo.asn = uint32(1000 + len(v.geo.provider)*97 + int(v.geo.provider[0]))
		d := domainTypes[g.domainPick.pick(g.r)]
		v.geo.domainType, v.geo.domainSuffix, v.geo.domainSource = d.typ, d.suffix, d.source
		if d.typ == "country" {
			v.geo.domainSuffix = strings.ToLower(c.code)
		}
	}
	a := agents[g.agentPick.pick(g.r)]
	v.agent = agent{
		browser: a.browser, browserVersion: a.versions[g.zipfIndex(len(a.versions))],
		os: a.os, osVersion: a.osVersions[g.r.IntN(len(a.osVersions))],
		device: a.device[g.r.IntN(len(a.device))], screen: a.screen[g.r.IntN(len(a.screen))],
	}
	return v
}

// zipfIndex favours the first of n choices.
func (g *generator) zipfIndex(n int) int {
	i := int(math.Floor(math.Abs(g.r.NormFloat64()) * float64(n) / 2.5))
	if i >= n {
		i = n - 1
	}
	return i
}

func (g *generator) page() string { return g.pages[g.pageZipf.Uint64()] }

// lognormal returns a duration with the given median.
func (g *generator) lognormal(median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*g.r.NormFloat64()))
}

// run generates every day's traffic.
func (g *generator) run() {
	start := g.o.End.AddDate(0, 0, -(g.o.Days - 1))
	// Budget per day by weekday, with slow growth and noise.
	var weights []float64
	total := 0.0
	for d := 0; d < g.o.Days; d++ {
		day := start.AddDate(0, 0, d)
		w := 1.0
		switch day.Weekday() {
		case time.Saturday:
			w = 0.68
		case time.Sunday:
			w = 0.74
		}
		w *= 1 + 0.3*float64(d)/float64(g.o.Days) + 0.08*g.r.NormFloat64()
		if end := day.Add(24 * time.Hour); g.o.Now.Before(end) {
			w *= math.Max(0.02, float64(g.o.Now.Sub(day))/float64(24*time.Hour))
		}
		weights = append(weights, w)
		total += w
	}
	for d := 0; d < g.o.Days; d++ {
		day := start.AddDate(0, 0, d)
		budget := int(float64(g.o.Events) * weights[d] / total)
		if d == g.o.Days-1 {
			budget = g.o.Events - g.emitted
		}
		g.day(day, g.emitted+budget)
	}
	g.send()
}

// day generates sessions on one day until the running total reaches until.
func (g *generator) day(day time.Time, until int) {
	var sessions []time.Time
	// Session start times, sorted, so that events come roughly in order.
	for n := 0; n < (until-g.emitted)/6+1; n++ {
		t := day.Add(time.Duration(g.hourPick.pick(g.r))*time.Hour + time.Duration(g.r.Int64N(int64(time.Hour))))
		if t.After(g.o.Now.Add(-time.Minute)) {
			t = g.o.Now.Add(-time.Duration(g.r.Int64N(int64(6 * time.Hour))))
			if t.Before(day) {
				t = day
			}
		}
		sessions = append(sessions, t)
	}
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].Before(sessions[j]) })
	for i := 0; g.emitted < until; i++ {
		if i == len(sessions) { // more budget than sessions: wrap around
			i = 0
		}
		g.session(sessions[i], until)
	}
}

func (g *generator) pickVisitor(t time.Time) (*visitor, bool) {
	// About 28% of sessions come from someone seen before.
	if len(g.visitors) > 50 && g.r.Float64() < 0.28 {
		// Recent visitors return more often.
		n := len(g.visitors)
		i := n - 1 - int(math.Abs(g.r.NormFloat64())*float64(n)/2.2)
		if i < 0 {
			i = g.r.IntN(n)
		}
		return g.visitors[i], false
	}
	v := g.newVisitor()
	g.visitors = append(g.visitors, v)
	return v, true
}

func (g *generator) policyAt(t time.Time) uint32 {
	if t.Before(g.bumpDay) {
		return 1
	}
	return 2
}

// consent shows the banner when the visitor has no decision for the
// current policy and records what they decide.
func (g *generator) consent(v *visitor, t time.Time, path string) {
	policy := g.policyAt(t)
	if v.decided && v.policy == policy {
		// Now and then someone withdraws.
		if v.perf && !v.withdrawn && g.r.Float64() < 0.01 {
			v.withdrawn, v.perf = true, false
			g.decision(v, t.Add(g.lognormal(40*time.Second, 1)), path, model.Withdraw, model.Categories{})
		}
		return
	}
	im := model.Impression{
		ID: g.uuid(), SiteID: g.o.Site, Time: t, PolicyVersion: policy, Path: path,
		Language: v.geo.lang, Country: v.geo.country, Device: v.agent.device, GPC: v.gpc,
	}
	if c, ok := g.leaky[path]; ok {
		im.UndeclaredCookies = c
	} else if strings.HasPrefix(path, "/blog/") && g.r.Float64() < 0.02 {
		im.UndeclaredCookies = []string{"_ga"}
	}
	g.out.Impressions = append(g.out.Impressions, im)
	x := g.r.Float64()
	if x < 0.1 { // ignores the banner: no consent
		return
	}
	dt := t.Add(g.lognormal(3500*time.Millisecond, 0.8))
	v.decided, v.policy, v.withdrawn = true, policy, false
	switch {
	case x < 0.62:
		cats := model.Categories{Performance: true, Functionality: true, Targeting: !v.gpc}
		v.perf = true
		g.decision(v, dt, path, model.AcceptAll, cats)
	case x < 0.86:
		v.perf = false
		g.decision(v, dt, path, model.RejectAll, model.Categories{})
	default:
		cats := model.Categories{Performance: g.r.Float64() < 0.55, Functionality: g.r.Float64() < 0.5, Targeting: !v.gpc && g.r.Float64() < 0.25}
		v.perf = cats.Performance
		g.decision(v, dt, path, model.Customize, cats)
	}
}

func (g *generator) decision(v *visitor, t time.Time, path string, a model.Action, c model.Categories) {
	g.out.Decisions = append(g.out.Decisions, model.Decision{
		ID: g.uuid(), SiteID: g.o.Site, Time: t, ConsentID: v.consent, PolicyVersion: v.policy,
		TextsHash: textsHash(v.policy), Action: a, Granted: c, GPC: v.gpc, Path: path,
		Language: v.geo.lang, Country: v.geo.country, Device: v.agent.device,
		// Seconds in the banner, a long tail; derived from the time so
		// that the rest of the data stays as it was.
		DecisionMS: 700 + uint32(t.Nanosecond()/1000)%9000 + uint32(t.Second()%7)*uint32(t.Second()%11)*700,
	})
}

func textsHash(policy uint32) string {
	if policy == 1 {
		return "3f1c9a0d6b2e4f58a7c1d9e0b3a2f4c6d8e0f1a2b3c4d5e6f708192a3b4c5d6e"
	}
	return "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
}

// session generates one visit.
func (g *generator) session(start time.Time, until int) {
	v, _ := g.pickVisitor(start)
	src := g.sources[g.srcPick.pick(g.r)]
	landing := g.page()
	if src.channel == "Paid Search" || src.channel == "Email" {
		landing = g.pages[g.r.IntN(3)]
	}
	g.consent(v, start, landing)
	tracked := v.perf
	if !tracked && !g.o.AnonymousCounting {
		return
	}
	sid := g.uuid()
	n := 1
	if g.r.Float64() > 0.42 {
		n = 2 + int(g.r.ExpFloat64()*2.2)
		if n > 40 {
			n = 40
		}
	}
	base := func(t time.Time, typ model.EventType, path string) model.Event {
		e := model.Event{
			ID: g.uuid(), SiteID: g.o.Site, Time: t, Type: typ, Hostname: g.o.Domain, Path: path,
			Country: v.geo.country, Region: v.geo.region, City: v.geo.city, ASN: v.geo.asn, Provider: v.geo.provider,
			Browser: v.agent.browser, BrowserVersion: v.agent.browserVersion, OS: v.agent.os, OSVersion: v.agent.osVersion,
			Device: v.agent.device, Screen: v.agent.screen, Language: v.geo.lang,
			DomainType: v.geo.domainType, DomainSuffix: v.geo.domainSuffix, DomainSource: v.geo.domainSource,
		}
		if tracked {
			e.VisitorID, e.SessionID, e.ConsentID = v.id, sid, v.consent
		}
		if e.Country == "" {
			e.Region, e.City, e.ASN, e.Provider = "", "", 0, ""
			e.DomainType, e.DomainSuffix, e.DomainSource = "", "", ""
		}
		return e
	}
	t := start
	path, prev := landing, ""
	for i := 0; i < n && g.emitted < until; i++ {
		pv := base(t, model.Pageview, path)
		if i == 0 {
			pv.ReferrerHost, pv.ReferrerPath, pv.Source, pv.Channel = src.host, src.path, src.name, src.channel
			pv.UTMSource, pv.UTMMedium, pv.UTMCampaign = src.utmSource, src.utmMedium, src.campaign
			if src.utmSource != "" && g.r.Float64() < 0.3 {
				pv.UTMContent = pickS(g.r, []string{"hero", "footer", "sidebar"})
				pv.UTMTerm = pickS(g.r, terms)
			}
		} else {
			pv.ReferrerHost, pv.ReferrerPath, pv.Channel = g.o.Domain, prev, "Internal"
		}
		g.emit(pv)
		if !tracked {
			t = t.Add(g.lognormal(25*time.Second, 1))
			prev, path = path, g.next(path)
			continue
		}
		// Other events on this page.
		if g.r.Float64() < 0.012 && g.emitted < until {
			e := base(t.Add(200*time.Millisecond), model.Error, g.broken[g.zipfIndex(len(g.broken))])
			e.Status = 404
			if g.r.Float64() < 0.05 {
				e.Status = 500
			}
			g.emit(e)
		}
		stay := g.lognormal(28*time.Second, 1.15)
		if n == 1 {
			stay = g.lognormal(9*time.Second, 1.2)
		}
		if stay > 30*time.Minute {
			stay = 30 * time.Minute
		}
		for _, ce := range customEvents {
			if g.r.Float64() < ce.p/float64(n) && g.emitted < until {
				e := base(t.Add(stay/2), model.Custom, path)
				e.Name = ce.name
				for k := range ce.props {
					e.PropKeys = append(e.PropKeys, k)
				}
				sort.Strings(e.PropKeys) // draw in a fixed order: the same seed gives the same data
				for _, k := range e.PropKeys {
					vals := ce.props[k]
					e.PropValues = append(e.PropValues, vals[g.r.IntN(len(vals))])
				}
				g.emit(e)
			}
		}
		if g.r.Float64() < 0.05/float64(n) && g.emitted < until {
			e := base(t.Add(stay/3), model.Search, path)
			e.SearchTerm = terms[g.zipfIndex(len(terms))]
			g.emit(e)
		}
		if g.r.Float64() < 0.02 && g.emitted < until {
			e := base(t.Add(stay/2), model.Download, path)
			e.LinkURL = "https://" + g.o.Domain + downloads[g.zipfIndex(len(downloads))]
			g.emit(e)
		}
		last := i == n-1
		if last && g.r.Float64() < 0.12 && g.emitted < until {
			e := base(t.Add(stay), model.Outbound, path)
			e.LinkURL = outboundLinks[g.zipfIndex(len(outboundLinks))]
			g.emit(e)
		}
		if g.r.Float64() < 0.85 && g.emitted < until {
			e := base(t.Add(stay), model.Engagement, path)
			e.DurationMS = uint32(stay / time.Millisecond)
			g.emit(e)
		}
		t = t.Add(stay + time.Duration(500+g.r.IntN(3000))*time.Millisecond)
		prev, path = path, g.next(path)
	}
}

// next is the page a visitor goes to from path: often a neighbour of it,
// else any page by popularity.
func (g *generator) next(path string) string {
	if g.r.Float64() < 0.45 {
		i := sort.SearchStrings(g.sortedPages(), path)
		j := (i + 1 + g.r.IntN(5)) % len(g.pages)
		return g.sorted[j]
	}
	return g.page()
}

func (g *generator) sortedPages() []string {
	if g.sorted == nil {
		g.sorted = append([]string(nil), g.pages...)
		sort.Strings(g.sorted)
	}
	return g.sorted
}

func (g *generator) emit(e model.Event) {
	g.out.Events = append(g.out.Events, e)
	g.emitted++
	if len(g.out.Events) >= g.batchSize {
		g.send()
	}
}

func (g *generator) send() {
	if len(g.out.Events)+len(g.out.Decisions)+len(g.out.Impressions) == 0 {
		return
	}
	g.flush(g.out)
	g.out = Batch{Events: make([]model.Event, 0, g.batchSize)}
}
