package privacy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/model"
)

// fuzzStore records what the service asks of it; the visitor's consent IDs
// are one fixed ID.
type fuzzStore struct {
	erased   bool
	visitor  uuid.UUID
	consents []uuid.UUID
}

var fuzzConsentID = uuid.MustParse("11111111-2222-4333-8444-555555555555")

func (s *fuzzStore) VisitorEvents(_ context.Context, _ string, v uuid.UUID, _ int) ([]model.Event, error) {
	s.visitor = v
	return nil, nil
}

func (s *fuzzStore) VisitorConsentIDs(_ context.Context, _ string, v uuid.UUID) ([]uuid.UUID, error) {
	s.visitor = v
	return []uuid.UUID{fuzzConsentID}, nil
}

func (s *fuzzStore) ConsentVisitors(context.Context, string, uuid.UUID) ([]uuid.UUID, error) {
	return nil, nil
}

func (s *fuzzStore) ConsentDecisions(_ context.Context, _ string, ids []uuid.UUID) ([]model.Decision, error) {
	s.consents = ids
	return nil, nil
}

// Append is the queue: erasures are recorded as asked.
func (s *fuzzStore) Append(recs ...buffer.Record) error {
	for _, r := range recs {
		if r.Erasure != nil {
			s.erased, s.visitor, s.consents = true, r.Erasure.VisitorID, r.Erasure.ConsentIDs
		}
	}
	return nil
}

func (s *fuzzStore) EnforceRetention(context.Context, string, time.Time, time.Time) (int, error) {
	return 0, nil
}

func (s *fuzzStore) RecordErasures(context.Context, []model.Erasure) error { return nil }

func (s *fuzzStore) ErasureStates(context.Context, string, []uuid.UUID) (map[uuid.UUID]model.ErasureState, error) {
	return nil, nil
}

// fuzzHolders holds every consent under the key "held".
type fuzzHolders struct{}

func (fuzzHolders) Holds(_ string, _ uuid.UUID, key string) bool { return key == "held" }

type fuzzSites map[string]*model.Site

func (f fuzzSites) Get(_ context.Context, id string) (*model.Site, bool) {
	s, ok := f[id]
	return s, ok
}

func (f fuzzSites) All() []*model.Site { return nil }

// FuzzVisitorRequest feeds /api/me's inputs — the site parameter and the
// X-Crumb-Visitor, X-Crumb-Consent and X-Crumb-Consent-Key headers — to
// Export and Erase. Bad input must be refused with ErrBadRequest,
// ErrUnknownSite or (a consent ID without its key) ErrNotHeld, and the store
// must only ever be asked about the IDs the request named (never about the
// nil UUID, which would match every anonymous event).
func FuzzVisitorRequest(f *testing.F) {
	site := model.NewSite("site1", "example.com", "", time.Unix(1_800_000_000, 0))
	sites := fuzzSites{"site1": &site}
	f.Add("site1", "0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a", "", "")
	f.Add("site1", "", "urn:uuid:0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a", "held")
	f.Add("site1", "", "0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a", "stolen")
	f.Add("site1", "00000000-0000-0000-0000-000000000000", "", "")
	f.Add("other", "0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a", "", "")
	f.Add("site1", "", "", "")
	f.Fuzz(func(t *testing.T, site, visitor, consentID, key string) {
		for _, erase := range []bool{false, true} {
			store := &fuzzStore{}
			s := New(store, store, sites, fuzzHolders{}, nil)
			w := Who{Site: site, Visitor: visitor, Consent: consentID, ConsentKey: key}
			var err error
			if erase {
				err = s.Erase(context.Background(), w)
			} else {
				_, err = s.Export(context.Background(), w)
			}
			if err != nil {
				if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrUnknownSite) && !errors.Is(err, ErrNotHeld) {
					t.Fatalf("unexpected error %v", err)
				}
				if store.erased {
					t.Fatalf("erased despite %v", err)
				}
				continue
			}
			if _, ok := sites[site]; !ok {
				t.Fatalf("answered for unknown site %q", site)
			}
			if consentID != "" && key != "held" {
				t.Fatalf("answered for consent %q without its key", consentID)
			}
			if erase != store.erased {
				t.Fatalf("erase = %v, store erased = %v", erase, store.erased)
			}
			checkIDs(t, store, visitor, consentID, erase)
		}
	})
}

// checkIDs fails unless the store was asked about exactly the visitor and
// consent IDs of the request (and, for an export, the visitor's own consent
// IDs; an erasure leaves finding those to the store).
func checkIDs(t *testing.T, store *fuzzStore, visitor, consentID string, erase bool) {
	t.Helper()
	if visitor == "" && consentID == "" {
		t.Fatal("accepted a request without an ID")
	}
	var want []uuid.UUID
	if visitor != "" {
		v := uuid.MustParse(visitor)
		if v == uuid.Nil || store.visitor != v {
			t.Fatalf("visitor %q reached the store as %v", visitor, store.visitor)
		}
		if !erase {
			want = append(want, fuzzConsentID)
		}
	} else if store.visitor != uuid.Nil {
		t.Fatalf("store asked about visitor %v", store.visitor)
	}
	if consentID != "" {
		want = append(want, uuid.MustParse(consentID))
	}
	if len(store.consents) != len(want) {
		t.Fatalf("consent IDs %v, want %v", store.consents, want)
	}
	for i, c := range store.consents {
		if c == uuid.Nil || c != want[i] {
			t.Fatalf("consent IDs %v, want %v", store.consents, want)
		}
	}
}
