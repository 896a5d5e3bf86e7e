package ingest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/referrer"
)

// eventsPayload is the body of POST /api/events.
type eventsPayload struct {
	Site    string            `json:"site"`
	Visitor string            `json:"visitor"`
	Session string            `json:"session"`
	Consent string            `json:"consent"` // the token /api/consent returned
	Events  []json.RawMessage `json:"events"`
}

// rawEvent is one event as the tracker sends it.
type rawEvent struct {
	Type     string            `json:"type"`
	TS       int64             `json:"ts"` // milliseconds since the epoch; 0 means now
	URL      string            `json:"url"`
	Referrer string            `json:"referrer"`
	Screen   int               `json:"sw"` // screen width in CSS pixels
	Language string            `json:"lang"`
	Name     string            `json:"name"`
	Props    map[string]string `json:"props"`
	Term     string            `json:"term"`
	Link     string            `json:"link"`
	Duration int64             `json:"duration"` // engagement time in milliseconds
	Status   int               `json:"status"`
	// Continued marks a page view of a visit already under way (the
	// tracker's session was running). Without a referrer and UTM tags it
	// is a step inside the site, not a new arrival: a Referrer-Policy of
	// no-referrer, or a link with rel=noreferrer, hides the site's own page.
	Continued bool `json:"continued"`
}

// Rejection names one event of a batch that was refused while the others
// were accepted.
type Rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// EventsResult is the outcome of an accepted events request.
type EventsResult struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected,omitempty"`
	// Dropped names why the batch was dropped silently (bots), for the
	// explanatory response header; the body stays the same.
	Dropped string `json:"-"`
}

type eventsState struct {
	run
	payload  eventsPayload
	raw      []rawEvent
	index    []int // index of raw[i] in the request
	visitor  uuid.UUID
	session  uuid.UUID
	consent  uuid.UUID
	events   []model.Event
	rejected []Rejection
	recs     []buffer.Record
}

// eventsStates keeps states for reuse. What a run hands out is never reused:
// its events go to the buffer, its rejections to the caller.
var eventsStates = sync.Pool{New: func() any { return new(eventsState) }}

func (s *eventsState) release() {
	clear(s.raw)
	clear(s.recs)
	*s = eventsState{raw: s.raw[:0], index: s.index[:0], recs: s.recs[:0]}
	eventsStates.Put(s)
}

func (s *eventsState) siteID() string { return s.payload.Site }
func (s *eventsState) pending() int   { return len(s.raw) }

var eventSteps = []step[*eventsState]{
	{"decode", (*Pipeline).decodeEvents},
	siteStep[*eventsState](nil),
	{"consent", (*Pipeline).checkEventConsent},
	botStep[*eventsState](),
	enrichStep(true, (*Pipeline).enrichEvents),
	forgetIPStep[*eventsState](),
	bufferStep("event", func(s *eventsState) []buffer.Record {
		for i := range s.events {
			s.recs = append(s.recs, buffer.Record{Event: &s.events[i]})
		}
		return s.recs
	}),
}

// Events runs POST /api/events.
func (p *Pipeline) Events(ctx context.Context, req *Request) (EventsResult, error) {
	s := eventsStates.Get().(*eventsState)
	defer s.release()
	s.run = run{req: req, now: p.now().UTC()}
	dropped, err := runSteps(ctx, p, eventSteps, s)
	if err != nil {
		return EventsResult{}, err
	}
	res := EventsResult{Accepted: len(s.events), Rejected: s.rejected, Dropped: dropped}
	if dropped != "" {
		res.Accepted = 0
	}
	return res, nil
}

// decodeEvents is the "decode" step: parse the envelope, then each event on
// its own, so that one bad event does not lose the good ones around it.
func (p *Pipeline) decodeEvents(_ context.Context, s *eventsState) error {
	if err := decodeStrict(s.req.Body, &s.payload); err != nil {
		return err
	}
	n := len(s.payload.Events)
	if n == 0 {
		return invalid("no events")
	}
	if n > MaxEventsPerBatch {
		return invalid("%d events in one request; the limit is %d", n, MaxEventsPerBatch)
	}
	s.raw, s.index = slices.Grow(s.raw[:0], n), slices.Grow(s.index[:0], n)
	for i, rawJSON := range s.payload.Events {
		s.raw = append(s.raw, rawEvent{})
		ev := &s.raw[len(s.raw)-1]
		err := decodeStrict(rawJSON, ev)
		if err == nil {
			err = validateEvent(ev, s.now)
		}
		if err != nil {
			s.raw = s.raw[:len(s.raw)-1]
			s.rejected = append(s.rejected, Rejection{Index: i, Error: err.Error()})
			continue
		}
		s.index = append(s.index, i)
	}
	if len(s.rejected) > 0 {
		p.count.Drop(ReasonInvalid, len(s.rejected))
	}
	if len(s.raw) == 0 {
		return &Error{Code: Invalid, Reason: ReasonInvalid, Message: "no valid events: " + s.rejected[0].Error}
	}
	return nil
}

func validateEvent(ev *rawEvent, now time.Time) error {
	t := model.EventType(ev.Type)
	if !t.Valid() {
		return invalid("unknown event type %q", truncate(ev.Type, 40))
	}
	if ev.URL == "" {
		return invalid("missing url")
	}
	for _, f := range []struct{ name, v string }{{"url", ev.URL}, {"referrer", ev.Referrer}, {"link", ev.Link}} {
		if len(f.v) > MaxURLLength {
			return invalid("%s longer than %d bytes", f.name, MaxURLLength)
		}
	}
	if ev.TS != 0 {
		ts := time.UnixMilli(ev.TS)
		if ts.Before(now.Add(-MaxPastSkew)) || ts.After(now.Add(MaxFutureSkew)) {
			return invalid("timestamp %d is more than %s old or %s ahead", ev.TS, MaxPastSkew, MaxFutureSkew)
		}
	}
	if len(ev.Name) > MaxNameLength {
		return invalid("name longer than %d bytes", MaxNameLength)
	}
	if t == model.Custom && strings.TrimSpace(ev.Name) == "" {
		return invalid("custom event without a name")
	}
	if len(ev.Props) > MaxProps {
		return invalid("%d properties; the limit is %d", len(ev.Props), MaxProps)
	}
	for k, v := range ev.Props {
		if k == "" || len(k) > MaxPropKeyLength || len(v) > MaxPropValLength {
			return invalid("property keys must be 1 to %d bytes and values at most %d", MaxPropKeyLength, MaxPropValLength)
		}
	}
	if len(ev.Term) > MaxTermLength {
		return invalid("search term longer than %d bytes", MaxTermLength)
	}
	if len(ev.Language) > MaxLanguageLength {
		return invalid("language longer than %d bytes", MaxLanguageLength)
	}
	if ev.Duration < 0 || ev.Duration > MaxDurationMS {
		return invalid("duration must be 0 to %d ms", MaxDurationMS)
	}
	if ev.Status < 0 || ev.Status > 999 {
		return invalid("status must be an HTTP status code")
	}
	if ev.Screen < 0 || ev.Screen > 100000 {
		return invalid("bad screen width")
	}
	if (t == model.Outbound || t == model.Download) && ev.Link == "" {
		return invalid("%s event without a link", t)
	}
	return nil
}

// checkEventConsent is the "consent" step: a batch with a visitor ID needs a
// valid consent token granting performance under the site's current policy;
// a batch without one is counted only if the site allows anonymous
// counting, and then only its page views.
func (p *Pipeline) checkEventConsent(_ context.Context, s *eventsState) error {
	pl := &s.payload
	if pl.Visitor == "" {
		if pl.Session != "" || pl.Consent != "" {
			return invalid("session or consent without a visitor")
		}
		if !s.site.AnonymousCounting {
			return forbidden(ReasonNoConsent, "no visitor consent, and this site does not count anonymously")
		}
		kept, keptIdx := s.raw[:0], s.index[:0]
		for i, ev := range s.raw {
			if model.EventType(ev.Type) == model.Pageview {
				kept, keptIdx = append(kept, ev), append(keptIdx, s.index[i])
				continue
			}
			s.rejected = append(s.rejected, Rejection{Index: s.index[i], Error: "only page views are counted without consent"})
			p.count.Drop(ReasonNotAnonymous, 1)
		}
		s.raw, s.index = kept, keptIdx
		if len(s.raw) == 0 {
			return forbidden(ReasonNotAnonymous, "only page views are counted without consent")
		}
		return nil
	}
	var err error
	if s.visitor, err = uuid.Parse(pl.Visitor); err != nil || s.visitor == uuid.Nil {
		return invalid("visitor must be a UUID")
	}
	// Visits are distinct session IDs: a visitor's events without one
	// would count in visitors and page views but in no visit.
	if s.session, err = uuid.Parse(pl.Session); err != nil || s.session == uuid.Nil {
		return invalid("session must be a UUID: a visitor's events need their visit's session ID")
	}
	if pl.Consent == "" {
		return forbidden(ReasonNoConsent, "a visitor ID needs a consent token from /api/consent")
	}
	c, err := p.signer.Verify(pl.Consent, s.now)
	switch {
	case errors.Is(err, consent.ErrExpired):
		return forbidden(ReasonConsentInvalid, "consent expired; ask the visitor again")
	case err != nil:
		return forbidden(ReasonConsentInvalid, "invalid consent token")
	case c.SiteID != s.site.ID:
		return forbidden(ReasonConsentInvalid, "consent token is for another site")
	case c.PolicyVersion != s.site.PolicyVersion:
		return forbidden(ReasonPolicyChanged, "the site's policy changed (version %d); ask the visitor again", s.site.PolicyVersion)
	case !c.Granted.Performance:
		return forbidden(ReasonNoConsent, "the visitor did not grant performance (analytics) consent")
	case p.revs.Revoked(c.SiteID, c.ConsentID, c.IssuedAt):
		return forbidden(ReasonWithdrawn, "the visitor withdrew this consent; ask again")
	}
	s.consent = c.ConsentID
	return nil
}

// enrichEvents is the events' part of the "enrich" step: URL, referrer and
// UTM parsing, location, user agent and screen class.
func (p *Pipeline) enrichEvents(s *eventsState) error {
	loc := s.loc
	s.events = make([]model.Event, 0, len(s.raw))
	for i := range s.raw {
		ev := &s.raw[i]
		u, ok := parsePageURL(ev.URL)
		if !ok {
			s.rejected = append(s.rejected, Rejection{Index: s.index[i], Error: "url must be an absolute http(s) URL"})
			p.count.Drop(ReasonInvalid, 1)
			continue
		}
		if !s.site.AllowsHost(u.host) {
			s.rejected = append(s.rejected, Rejection{Index: s.index[i], Error: "url is not on one of the site's domains"})
			p.count.Drop(ReasonForeignURL, 1)
			continue
		}
		e := model.Event{
			ID:             uuid.New(),
			SiteID:         s.site.ID,
			Time:           eventTime(ev.TS, s.now),
			Type:           model.EventType(ev.Type),
			VisitorID:      s.visitor,
			SessionID:      s.session,
			ConsentID:      s.consent,
			Hostname:       strings.ToLower(u.host),
			Path:           cleanPath(u.path),
			UTMSource:      clip(u.get("utm_source"), 200),
			UTMMedium:      clip(u.get("utm_medium"), 200),
			UTMCampaign:    clip(u.get("utm_campaign"), 200),
			UTMContent:     clip(u.get("utm_content"), 200),
			UTMTerm:        clip(u.get("utm_term"), 200),
			Country:        loc.Country,
			Region:         loc.Region,
			City:           loc.City,
			ASN:            loc.ASN,
			Provider:       loc.Provider,
			Browser:        s.agent.Browser,
			BrowserVersion: s.agent.BrowserVersion,
			OS:             s.agent.OS,
			OSVersion:      s.agent.OSVersion,
			Device:         deviceOf(s.agent.Device, ev.Screen),
			Screen:         screenClass(ev.Screen),
			Language:       normalizeLanguage(ev.Language),
			GPC:            s.req.SecGPC,
			DomainType:     s.dom.Type,
			DomainSuffix:   s.dom.Suffix,
			DomainSource:   s.dom.Source,
		}
		src := p.refs.Classify(ev.Referrer, e.Hostname, e.UTMSource, e.UTMMedium)
		if ev.Continued && src.Channel == referrer.ChannelDirect {
			src.Channel = referrer.ChannelInternal
		}
		e.ReferrerHost, e.ReferrerPath, e.Source, e.Channel = src.Host, clip(src.Path, 512), src.Name, src.Channel
		switch e.Type {
		case model.Custom:
			e.Name = strings.TrimSpace(ev.Name)
			e.PropKeys, e.PropValues = sortedProps(ev.Props)
		case model.Search:
			e.SearchTerm = searchTerm(ev.Term, &u, s.site.SearchParams)
			if e.SearchTerm == "" {
				s.rejected = append(s.rejected, Rejection{Index: s.index[i], Error: "search event without a term"})
				p.count.Drop(ReasonInvalid, 1)
				continue
			}
		case model.Outbound, model.Download:
			e.LinkURL = cleanLink(ev.Link)
			if e.LinkURL == "" {
				s.rejected = append(s.rejected, Rejection{Index: s.index[i], Error: "link must be an absolute http(s) URL"})
				p.count.Drop(ReasonInvalid, 1)
				continue
			}
		case model.Engagement:
			e.DurationMS = uint32(ev.Duration)
		case model.Error:
			e.Status = uint16(ev.Status)
			if e.Status == 0 {
				e.Status = 404
			}
		}
		s.events = append(s.events, e)
	}
	if len(s.events) == 0 {
		return invalid("no valid events: %s", s.rejected[len(s.rejected)-1].Error)
	}
	return nil
}

// decodeStrict decodes one JSON value into v, reporting a short,
// client-safe message.
func decodeStrict(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid("field %q must be a %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return invalid("malformed JSON: %s", truncate(strings.TrimPrefix(err.Error(), "json: "), 100))
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	case "bool":
		return "boolean"
	case "uint8":
		return "whole number from 0 to 255"
	case "uint16":
		return "whole number from 0 to 65535"
	case "uint32":
		return "whole number from 0 to 4294967295"
	case "uint", "uint64":
		return "whole number from 0 to 18446744073709551615"
	case "int", "int8", "int16", "int32", "int64":
		return "whole number"
	}
	return "number"
}
