package ingest

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/banner"
	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/model"
)

// consentPayload is the body of POST /api/consent.
type consentPayload struct {
	Site string `json:"site"`
	// ConsentID and ConsentKey name the consent a decision is added to;
	// without them (or without the key: an older banner) the decision
	// starts a new consent, whose ID and key the answer carries.
	ConsentID  string `json:"consent_id"`
	ConsentKey string `json:"consent_key"`
	Seq        uint32 `json:"seq"` // the banner's count of decisions on this consent
	// DecisionMS: how long the banner was shown before the decision, in
	// milliseconds (absent when it was not made in the banner).
	DecisionMS    uint32 `json:"decision_ms"`
	PolicyVersion uint32 `json:"policy_version"`
	// TextsHash is the hash of the banner the visitor decided on, as the
	// banner's configuration gave it.
	TextsHash  string   `json:"texts_hash"`
	Action     string   `json:"action"`
	Categories []string `json:"categories"` // granted categories, for "custom"
	GPC        bool     `json:"gpc"`
	URL        string   `json:"url"`
	Language   string   `json:"lang"`
}

// ConsentResult is the answer to a recorded decision. Token is set when the
// decision grants performance under the site's current policy version; the
// tracker sends it back with events.
type ConsentResult struct {
	// ConsentID and ConsentKey are the consent's ID and the proof of
	// holding it, which adding a decision or erasing it by ID needs.
	ConsentID     string           `json:"consent_id"`
	ConsentKey    string           `json:"consent_key"`
	Token         string           `json:"token,omitempty"`
	ExpiresAt     *time.Time       `json:"expires_at,omitempty"`
	PolicyVersion uint32           `json:"policy_version"`
	Granted       model.Categories `json:"granted"`
	Dropped       string           `json:"-"`
}

type consentState struct {
	run
	payload  consentPayload
	decision model.Decision
	held     bool // the decision is added to an existing consent
}

func (s *consentState) siteID() string { return s.payload.Site }
func (s *consentState) pending() int   { return 1 }

var consentSteps = []step[*consentState]{
	{"decode", func(_ *Pipeline, _ context.Context, s *consentState) error {
		if err := decodeStrict(s.req.Body, &s.payload); err != nil {
			return err
		}
		pl := &s.payload
		var id uuid.UUID
		if pl.ConsentID != "" {
			var err error
			if id, err = uuid.Parse(pl.ConsentID); err != nil || id == uuid.Nil {
				return invalid("consent_id must be a UUID")
			}
		}
		if !model.Action(pl.Action).Valid() {
			return invalid("action must be accept_all, reject_all, custom or withdraw")
		}
		if pl.PolicyVersion == 0 {
			return invalid("missing policy_version")
		}
		if pl.DecisionMS > MaxDecisionMS {
			return invalid("decision_ms over %d (a day)", MaxDecisionMS)
		}
		if len(pl.Categories) > 10 || len(pl.URL) > MaxURLLength || len(pl.Language) > MaxLanguageLength || len(pl.ConsentKey) > 64 || len(pl.TextsHash) > 64 {
			return invalid("field over its length limit")
		}
		gpc, source := model.GPCOf(pl.GPC, s.req.SecGPC)
		s.decision = model.Decision{ID: uuid.New(), Time: s.now, ConsentID: id, PolicyVersion: pl.PolicyVersion,
			Action: model.Action(pl.Action), GPC: gpc, GPCSource: source, Path: pathOf(pl.URL), Language: normalizeLanguage(pl.Language), Seq: pl.Seq,
			DecisionMS: pl.DecisionMS}
		return nil
	}},
	siteStep(func(s *consentState) error {
		s.decision.SiteID = s.site.ID
		if !onSite(s.site, s.payload.URL) {
			return forbidden(ReasonForeignURL, "url must be a page of one of the site's domains")
		}
		return nil
	}),
	{"decision", func(p *Pipeline, ctx context.Context, s *consentState) (err error) {
		d := &s.decision
		if err := knownPolicy(ctx, p, &s.run, d.PolicyVersion); err != nil {
			return err
		}
		switch {
		case d.ConsentID == uuid.Nil || s.payload.ConsentKey == "":
			// A new consent: its ID is the server's, so that no one
			// can add to a consent by knowing its ID.
			d.ConsentID, d.Seq = uuid.New(), max(d.Seq, 1)
		case !p.signer.Holds(s.site.ID, d.ConsentID, s.payload.ConsentKey):
			return forbidden(ReasonNotHeld, "consent_key does not match consent_id")
		default:
			s.held = true
		}
		// GPC from the header counts as the script's: "Accept all" never
		// grants targeting with it.
		s.decision.Granted, err = consent.Granted(s.site, s.decision.Action, s.payload.Categories, s.decision.GPC)
		if err != nil {
			return invalid("%s", err)
		}
		// The banner the visitor saw: the hash its configuration gave, if
		// it names a kept banner of this site under the decision's policy
		// (it may be an older one, or have changed since the page loaded);
		// else the site's current banner under the current policy.
		if h := s.payload.TextsHash; h != "" && p.bans != nil {
			if v, ok := p.bans.Known(s.site.ID, h); ok && v == d.PolicyVersion {
				d.TextsHash = h
			}
		}
		if d.TextsHash == "" && d.PolicyVersion == s.site.PolicyVersion {
			d.TextsHash = banner.Hash(s.site, d.Language)
		}
		d.Revokes = s.held && !d.Granted.Performance
		return nil
	}},
	botStep[*consentState](),
	enrichStep(false, func(_ *Pipeline, s *consentState) error {
		s.decision.Country = s.loc.Country
		s.decision.Device = deviceOf(s.agent.Device, 0)
		return nil
	}),
	forgetIPStep[*consentState](),
	bufferStep("decision", func(s *consentState) []buffer.Record {
		return []buffer.Record{{Decision: &s.decision}}
	}),
}

// Consent runs POST /api/consent: it records the decision as proof and,
// once it is durable, returns a token if the decision grants performance.
func (p *Pipeline) Consent(ctx context.Context, req *Request) (ConsentResult, error) {
	s := &consentState{run: run{req: req, now: p.now().UTC()}}
	dropped, err := runSteps(ctx, p, consentSteps, s)
	if err != nil {
		return ConsentResult{}, err
	}
	d := s.decision
	if d.Revokes && dropped == "" {
		// This node stops the consent's older tokens at once; the others
		// when they read the revocation the buffer writes with the decision.
		p.revs.Add(consent.RevocationHash(d.SiteID, d.ConsentID), d.Time)
	}
	res := ConsentResult{ConsentID: d.ConsentID.String(), ConsentKey: p.signer.HolderKey(d.SiteID, d.ConsentID),
		PolicyVersion: s.site.PolicyVersion, Granted: d.Granted, Dropped: dropped}
	if dropped == "" && d.Granted.Performance && d.PolicyVersion == s.site.PolicyVersion {
		exp := d.Time.Add(time.Duration(s.site.ConsentLifetimeDays) * 24 * time.Hour)
		res.Token = p.signer.Sign(consent.Claims{SiteID: d.SiteID, ConsentID: d.ConsentID, PolicyVersion: d.PolicyVersion,
			Granted: d.Granted, IssuedAt: d.Time, ExpiresAt: exp})
		res.ExpiresAt = &exp
	}
	return res, nil
}

// impressionPayload is the body of POST /api/impressions.
type impressionPayload struct {
	Site              string   `json:"site"`
	PolicyVersion     uint32   `json:"policy_version"`
	URL               string   `json:"url"`
	Language          string   `json:"lang"`
	GPC               bool     `json:"gpc"`
	UndeclaredCookies []string `json:"undeclared_cookies"`
}

type impressionState struct {
	run
	payload    impressionPayload
	impression model.Impression
}

func (s *impressionState) siteID() string { return s.payload.Site }
func (s *impressionState) pending() int   { return 1 }

var impressionSteps = []step[*impressionState]{
	{"decode", func(_ *Pipeline, _ context.Context, s *impressionState) error {
		if err := decodeStrict(s.req.Body, &s.payload); err != nil {
			return err
		}
		pl := &s.payload
		if len(pl.URL) > MaxURLLength || len(pl.Language) > MaxLanguageLength {
			return invalid("field over its length limit")
		}
		if len(pl.UndeclaredCookies) > MaxCookieNames {
			return invalid("more than %d cookie names", MaxCookieNames)
		}
		for _, c := range pl.UndeclaredCookies {
			if c == "" || len(c) > MaxCookieName {
				return invalid("cookie names must be 1 to %d bytes", MaxCookieName)
			}
		}
		s.impression = model.Impression{ID: uuid.New(), Time: s.now, PolicyVersion: pl.PolicyVersion, Path: pathOf(pl.URL),
			Language: normalizeLanguage(pl.Language), GPC: pl.GPC || s.req.SecGPC, UndeclaredCookies: pl.UndeclaredCookies}
		return nil
	}},
	siteStep(func(s *impressionState) error {
		s.impression.SiteID = s.site.ID
		if !onSite(s.site, s.payload.URL) {
			return forbidden(ReasonForeignURL, "url must be a page of one of the site's domains")
		}
		return nil
	}),
	{"policy", func(p *Pipeline, ctx context.Context, s *impressionState) error {
		if s.impression.PolicyVersion == 0 {
			s.impression.PolicyVersion = s.site.PolicyVersion
		}
		return knownPolicy(ctx, p, &s.run, s.impression.PolicyVersion)
	}},
	botStep[*impressionState](),
	enrichStep(false, func(_ *Pipeline, s *impressionState) error {
		s.impression.Country = s.loc.Country
		s.impression.Device = deviceOf(s.agent.Device, 0)
		return nil
	}),
	forgetIPStep[*impressionState](),
	bufferStep("impression", func(s *impressionState) []buffer.Record {
		return []buffer.Record{{Impression: &s.impression}}
	}),
}

// knownPolicy refuses a policy version newer than the site's: a proof or
// an impression names only a policy the site has had. A version published
// on another node a moment ago is found by reading the sites again.
func knownPolicy(ctx context.Context, p *Pipeline, r *run, v uint32) error {
	if v <= r.site.PolicyVersion {
		return nil
	}
	if site, ok := p.sites.Fresh(ctx, r.site.ID); ok {
		r.site = site
	}
	if v > r.site.PolicyVersion {
		return invalid("policy_version %d is newer than the site's policy (version %d)", v, r.site.PolicyVersion)
	}
	return nil
}

// Impression runs POST /api/impressions: one showing of the banner, with no ID.
func (p *Pipeline) Impression(ctx context.Context, req *Request) (dropped string, err error) {
	s := &impressionState{run: run{req: req, now: p.now().UTC()}}
	return runSteps(ctx, p, impressionSteps, s)
}
