// Package privacy carries out visitors' rights and the sites' retention
// promises: a visitor can see the data stored under their random ID and have
// it erased, and each site's events and consent records are deleted once
// they are older than its retention setting.
package privacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/model"
)

// Store is the storage the service reads and deletes from.
type Store interface {
	VisitorEvents(ctx context.Context, site string, visitor uuid.UUID, limit int) ([]model.Event, error)
	VisitorConsentIDs(ctx context.Context, site string, visitor uuid.UUID) ([]uuid.UUID, error)
	ConsentVisitors(ctx context.Context, site string, consent uuid.UUID) ([]uuid.UUID, error)
	ConsentDecisions(ctx context.Context, site string, consentIDs []uuid.UUID) ([]model.Decision, error)
	EnforceRetention(ctx context.Context, site string, eventsBefore, consentBefore time.Time) (int, error)
	// RecordErasures records queued erasure requests as pending; the
	// store's Erase records them complete.
	RecordErasures(ctx context.Context, es []model.Erasure) error
	ErasureStates(ctx context.Context, site string, ids []uuid.UUID) (map[uuid.UUID]model.ErasureState, error)
}

// Holders checks the proof of holding a consent (consent.Signer).
type Holders interface {
	Holds(site string, id uuid.UUID, key string) bool
}

// Queue keeps erasure requests durably, in order with the events before
// them, until the store has carried them out (the buffer; the store's Erase
// applies them in batches).
type Queue interface {
	Append(recs ...buffer.Record) error
}

// Sites lists and finds sites.
type Sites interface {
	Get(ctx context.Context, id string) (*model.Site, bool)
	All() []*model.Site
}

// ErrBadRequest wraps a client mistake: a missing or malformed ID.
var ErrBadRequest = errors.New("bad request")

// ErrUnknownSite is returned for a site that does not exist.
var ErrUnknownSite = errors.New("unknown site")

// MaxExportEvents bounds how many events an export lists, newest first.
const MaxExportEvents = 10000

// Service answers visitors' requests and enforces retention.
type Service struct {
	store   Store
	queue   Queue
	sites   Sites
	holders Holders
	log     *slog.Logger
	now     func() time.Time
}

// New returns a service.
func New(store Store, queue Queue, sites Sites, holders Holders, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, queue: queue, sites: sites, holders: holders, log: log, now: time.Now}
}

// ErrNotHeld is returned when a consent ID comes without the key that
// proves holding it.
var ErrNotHeld = errors.New("the consent key (X-Crumb-Consent-Key) does not match the consent ID")

// Who names the visitor a request is about: the visitor ID (its own
// proof: only the browser holds it), or a consent ID with its key.
type Who struct {
	Site, Visitor, Consent, ConsentKey string
}

// Export is everything stored under one visitor's IDs.
type Export struct {
	Site      string           `json:"site"`
	Visitor   string           `json:"visitor,omitempty"`
	Events    []model.Event    `json:"events"`
	Decisions []model.Decision `json:"consent_decisions"`
	Truncated bool             `json:"truncated,omitempty"`
	// Erasure is the state of the newest erasure request for these IDs,
	// if there was one.
	Erasure *model.ErasureState `json:"erasure,omitempty"`
}

// ids parses the visitor and consent IDs; at least one is needed, and a
// consent ID needs its key.
func (s *Service) ids(ctx context.Context, w Who) (uuid.UUID, uuid.UUID, error) {
	if w.Site == "" {
		return uuid.Nil, uuid.Nil, fmt.Errorf("%w: missing site (?site=ID)", ErrBadRequest)
	}
	if _, ok := s.sites.Get(ctx, w.Site); !ok {
		return uuid.Nil, uuid.Nil, ErrUnknownSite
	}
	if w.Visitor == "" && w.Consent == "" {
		return uuid.Nil, uuid.Nil, fmt.Errorf("%w: send the X-Crumb-Visitor (or X-Crumb-Consent with X-Crumb-Consent-Key) header", ErrBadRequest)
	}
	var v, c uuid.UUID
	var err error
	if w.Visitor != "" {
		if v, err = uuid.Parse(w.Visitor); err != nil || v == uuid.Nil {
			return uuid.Nil, uuid.Nil, fmt.Errorf("%w: visitor must be a UUID", ErrBadRequest)
		}
	}
	if w.Consent != "" {
		if c, err = uuid.Parse(w.Consent); err != nil || c == uuid.Nil {
			return uuid.Nil, uuid.Nil, fmt.Errorf("%w: consent ID must be a UUID", ErrBadRequest)
		}
		if !s.holders.Holds(w.Site, c, w.ConsentKey) {
			return uuid.Nil, uuid.Nil, ErrNotHeld
		}
	}
	return v, c, nil
}

// Export returns a visitor's own events and consent records, and the
// state of their erasure if they asked for one.
func (s *Service) Export(ctx context.Context, w Who) (Export, error) {
	v, c, err := s.ids(ctx, w)
	if err != nil {
		return Export{}, err
	}
	site := w.Site
	out := Export{Site: site, Visitor: w.Visitor, Events: []model.Event{}, Decisions: []model.Decision{}}
	var asked []uuid.UUID
	for _, id := range []uuid.UUID{v, c} {
		if id != uuid.Nil {
			asked = append(asked, id)
		}
	}
	// Three lookups by key at once: the visitor's events (a consent's
	// visitors' events, asked by the consent alone), their consents'
	// decisions, the state of an erasure.
	var (
		evs    []model.Event
		ds     []model.Decision
		states map[uuid.UUID]model.ErasureState
	)
	err = parallel(
		func() error {
			visitors := []uuid.UUID{v}
			if v == uuid.Nil {
				// The consent alone (a visitor who withdrew no longer
				// holds the visitor ID): the events sent under it.
				var err error
				if visitors, err = s.store.ConsentVisitors(ctx, site, c); err != nil {
					return err
				}
			}
			for _, id := range visitors {
				e, err := s.store.VisitorEvents(ctx, site, id, MaxExportEvents+1-len(evs))
				if err != nil {
					return err
				}
				if evs = append(evs, e...); len(evs) > MaxExportEvents {
					break
				}
			}
			return nil
		},
		func() error {
			var consents []uuid.UUID
			if v != uuid.Nil {
				var err error
				if consents, err = s.store.VisitorConsentIDs(ctx, site, v); err != nil {
					return err
				}
			}
			if c != uuid.Nil {
				consents = append(consents, c)
			}
			var err error
			ds, err = s.store.ConsentDecisions(ctx, site, consents)
			return err
		},
		func() (err error) {
			states, err = s.store.ErasureStates(ctx, site, asked)
			return err
		})
	if err != nil {
		return Export{}, err
	}
	if len(evs) > MaxExportEvents {
		evs, out.Truncated = evs[:MaxExportEvents], true
	}
	out.Events = append(out.Events, evs...)
	out.Decisions = append(out.Decisions, ds...)
	for _, id := range asked {
		if st, ok := states[id]; ok && (out.Erasure == nil || st.RequestedAt.After(out.Erasure.RequestedAt)) {
			out.Erasure = &st
		}
	}
	return out, nil
}

// parallel runs fns at once and returns the first error.
func parallel(fns ...func() error) error {
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		go func() { errs <- fn() }()
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Erase queues the erasure of a visitor's events and consent records, and
// returns once the request is durable and recorded as pending. The buffer
// hands it to the store with the next batch (see clickhouse.DB.Erase: an
// ID without rows costs nothing more), which deletes the rows, rebuilds
// the pre-aggregated days they were on and records the request complete.
func (s *Service) Erase(ctx context.Context, w Who) error {
	v, c, err := s.ids(ctx, w)
	if err != nil {
		return err
	}
	e := model.Erasure{ID: uuid.New(), SiteID: w.Site, Time: s.now().UTC(), VisitorID: v}
	if c != uuid.Nil {
		e.ConsentIDs = []uuid.UUID{c}
	}
	if err := s.store.RecordErasures(ctx, []model.Erasure{e}); err != nil {
		// The request is kept by the queue all the same; only its
		// pending state is missing until it completes.
		s.log.Warn("recording a pending erasure failed", "site", w.Site, "err", err)
	}
	if err := s.queue.Append(buffer.Record{Erasure: &e}); err != nil {
		return fmt.Errorf("privacy: queue erasure: %w", err)
	}
	s.log.Info("visitor erasure queued", "site", w.Site)
	return nil
}

// EnforceRetention deletes what every site keeps longer than it promised.
func (s *Service) EnforceRetention(ctx context.Context) error {
	now := s.now().UTC()
	var errs []error
	for _, site := range s.sites.All() {
		eventsBefore := now.AddDate(0, -site.RetentionMonths, 0)
		consentBefore := now.AddDate(0, -site.ConsentRetentionMonths, 0)
		n, err := s.store.EnforceRetention(ctx, site.ID, eventsBefore, consentBefore)
		if err != nil {
			errs = append(errs, fmt.Errorf("site %s: %w", site.ID, err))
			continue
		}
		if n > 0 {
			s.log.Info("retention enforced", "site", site.ID, "events_before", eventsBefore.Format(time.DateOnly),
				"consent_before", consentBefore.Format(time.DateOnly))
		}
	}
	return errors.Join(errs...)
}

// RunRetention enforces retention once at start and then every day, until
// ctx ends.
func (s *Service) RunRetention(ctx context.Context, every time.Duration) {
	for {
		if err := s.EnforceRetention(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("retention failed; retrying at the next run", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
