// Package ingest turns what browsers send into stored records. Each request
// goes through named steps — decode and validate, site and origin check,
// consent check, bot drop, enrichment, IP removal, buffer — and every record
// a step drops is counted under a named reason.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/rdns"
	"github.com/crumbhq/crumb/server/internal/referrer"
	"github.com/crumbhq/crumb/server/internal/useragent"
)

// Sites finds a configured site.
type Sites interface {
	Get(ctx context.Context, id string) (*model.Site, bool)
	// Fresh reads the sites again (at most once a second) before it
	// answers.
	Fresh(ctx context.Context, id string) (*model.Site, bool)
}

// Banners knows the banners kept for the proof of consent (banner.Archive).
type Banners interface {
	// Known reports the policy version of site's banner with hash.
	Known(site, hash string) (uint32, bool)
}

// Buffer takes accepted records.
type Buffer interface {
	Append(recs ...buffer.Record) error
}

// Domains tells the domain type of an address's network without waiting
// (rdns.Resolver).
type Domains interface {
	Lookup(ip netip.Addr, asnOrg string) rdns.Result
}

// Geo resolves an IP address to a location.
type Geo interface {
	Lookup(ip netip.Addr) geoip.Location
}

// Agents parses user agents.
type Agents interface {
	Parse(ua string) useragent.Agent
}

// Referrers classifies referrers into sources and channels.
type Referrers interface {
	Classify(referrerURL, pageHost, utmSource, utmMedium string) referrer.Source
}

// Counter counts accepted and dropped records.
type Counter interface {
	Accept(kind string, n int)
	Drop(reason string, n int)
}

// Request is what the HTTP layer hands to the pipeline. IP and UserAgent are
// used for enrichment and then forgotten: no step after "forget_ip" sees them.
type Request struct {
	Body      []byte
	Origin    string // the Origin header, if any
	UserAgent string
	IP        netip.Addr
	// SecGPC is set when the request carried "Sec-GPC: 1": the browser
	// sends Global Privacy Control whatever the page's script says.
	SecGPC bool
}

// Pipeline is the ingest pipeline.
type Pipeline struct {
	sites  Sites
	signer *consent.Signer
	geo    Geo
	agents Agents
	refs   Referrers
	doms   Domains
	bans   Banners
	buf    Buffer
	count  Counter
	revs   *consent.Revocations
	log    *slog.Logger
	now    func() time.Time
}

// Deps are what the pipeline needs.
type Deps struct {
	Sites     Sites
	Signer    *consent.Signer
	Geo       Geo
	Agents    Agents
	Referrers Referrers
	// Domains classifies visitors' networks (package rdns); nil leaves
	// the domain type unknown.
	Domains Domains
	Buffer  Buffer
	Counter Counter
	// Revocations are the consents whose older tokens no longer count;
	// nil means none (a pipeline of its own adds its own withdrawals).
	Revocations *consent.Revocations
	// Banners are the banners kept for the proof; nil: a decision's texts
	// hash is always the site's current banner's.
	Banners Banners
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a pipeline.
func New(d Deps) *Pipeline {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Revocations == nil {
		d.Revocations = consent.NewRevocations()
	}
	return &Pipeline{sites: d.Sites, signer: d.Signer, geo: d.Geo, agents: d.Agents, refs: d.Referrers, doms: d.Domains,
		bans: d.Banners, buf: d.Buffer, count: d.Counter, revs: d.Revocations, log: d.Log, now: d.Now}
}

// step is one named stage of a pipeline run over state S.
type step[S state] struct {
	name string
	run  func(p *Pipeline, ctx context.Context, s S) error
}

// state is what the steps every pipeline shares need of a run.
type state interface {
	common() *run
	// siteID is the site the payload names.
	siteID() string
	// pending is how many records a refusal at this point drops.
	pending() int
}

// run is the part of a pipeline run that the shared steps fill in.
type run struct {
	req   *Request
	now   time.Time
	site  *model.Site
	agent useragent.Agent
	loc   geoip.Location
	dom   rdns.Result
}

func (r *run) common() *run { return r }

// onSite is the check of a record's page URL: an absolute http(s) URL on
// one of the site's domains.
func onSite(site *model.Site, raw string) bool {
	u, ok := parsePageURL(raw)
	return ok && site.AllowsHost(u.host)
}

// errDropped ends a run early without an error for the client: the records
// were dropped on purpose (bots) and counted.
var errDropped = errors.New("dropped")

// runSteps runs steps in order.
func runSteps[S state](ctx context.Context, p *Pipeline, steps []step[S], s S) (dropped string, err error) {
	for _, st := range steps {
		if err := st.run(p, ctx, s); err != nil {
			var ie *Error
			switch {
			case errors.Is(err, errDropped):
				return ReasonBot, nil
			case errors.As(err, &ie):
				p.count.Drop(ie.Reason, max(s.pending(), 1))
				return "", ie
			default:
				p.log.Error("ingest step failed", "step", st.name, "err", err)
				return "", err
			}
		}
	}
	return "", nil
}

// siteStep is the "site" step: the site must exist and the request's
// Origin must be one of the site's domains (browsers send it with every
// POST; a request without one did not come from the site's pages). then, when
// not nil, takes over what the site decides for the pipeline's records.
func siteStep[S state](then func(s S) error) step[S] {
	return step[S]{"site", func(p *Pipeline, ctx context.Context, s S) error {
		r := s.common()
		id, origin := s.siteID(), r.req.Origin
		if id == "" {
			return invalid("missing site")
		}
		site, ok := p.sites.Get(ctx, id)
		if !ok {
			return forbidden(ReasonUnknownSite, "unknown site %q", truncate(id, 40))
		}
		if origin == "" || origin == "null" {
			return forbidden(ReasonNoOrigin, "no Origin header: send from a page of one of the site's domains")
		}
		if host := originHost(origin); host == "" || !site.AllowsHost(host) {
			return forbidden(ReasonForeignOrigin, "origin %q is not one of the site's domains", truncate(origin, 100))
		}
		r.site = site
		if then == nil {
			return nil
		}
		return then(s)
	}}
}

// botStep is the "bot" step: a request from a bot is dropped whole,
// silently, and its records counted.
func botStep[S state]() step[S] {
	return step[S]{"bot", func(p *Pipeline, _ context.Context, s S) error {
		r := s.common()
		r.agent = p.agents.Parse(r.req.UserAgent)
		if r.agent.Bot {
			p.count.Drop(ReasonBot, s.pending())
			return errDropped
		}
		return nil
	}}
}

// enrichStep is the "enrich" step: the GeoIP lookup, then the pipeline's
// own enrichment of its records (from the location and the user agent).
func enrichStep[S state](domains bool, then func(p *Pipeline, s S) error) step[S] {
	return step[S]{"enrich", func(p *Pipeline, _ context.Context, s S) error {
		r := s.common()
		r.loc = p.geo.Lookup(r.req.IP)
		switch {
		case !domains:
			// Decisions and impressions store no domain type: their
			// visitors' networks are not looked up at all.
		case p.doms != nil:
			r.dom = p.doms.Lookup(r.req.IP, r.loc.Provider)
		default:
			r.dom = rdns.Result{Type: rdns.Unknown}
		}
		return then(p, s)
	}}
}

// forgetIPStep is the "forget_ip" step: the IP address and the user agent
// are dropped, and no later step sees them.
func forgetIPStep[S state]() step[S] {
	return step[S]{"forget_ip", func(_ *Pipeline, _ context.Context, s S) error {
		r := s.common()
		r.req.IP, r.req.UserAgent = forgetIP, ""
		r.loc, r.dom = geoip.Location{}, rdns.Result{}
		return nil
	}}
}

// bufferStep is the "buffer" step: the records are appended to the durable
// buffer, and accepted once they are in its log.
func bufferStep[S state](kind string, records func(s S) []buffer.Record) step[S] {
	return step[S]{"buffer", func(p *Pipeline, _ context.Context, s S) error {
		recs := records(s)
		if len(recs) == 0 {
			return nil
		}
		switch err := p.buf.Append(recs...); {
		case err == nil:
			p.count.Accept(kind, len(recs))
			return nil
		case errors.Is(err, buffer.ErrFull):
			return &Error{Code: Unavailable, Reason: ReasonBufferFull, Message: "buffer full, retry later"}
		case errors.Is(err, buffer.ErrClosed):
			return &Error{Code: Unavailable, Reason: ReasonShuttingDown, Message: "server shutting down, retry later"}
		default:
			return err
		}
	}}
}
