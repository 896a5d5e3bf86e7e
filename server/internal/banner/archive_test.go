package banner

import (
	"context"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

type memStore struct{ vs []model.BannerVersion }

func (m *memStore) PutBannerVersions(_ context.Context, vs []model.BannerVersion) error {
	m.vs = append(m.vs, vs...)
	return nil
}

func (m *memStore) BannerVersionKeys(context.Context) ([]model.BannerVersion, error) {
	return m.vs, nil
}

// Two sites with the same settings show banners with the same hash: each
// site's is kept, and known for that site only.
func TestArchive_KeepsEachSitesBanners(t *testing.T) {
	st := &memStore{}
	a := &Archive{Store: st}
	s1 := model.NewSite("s1", "one.example", "", time.Now())
	s2 := model.NewSite("s2", "two.example", "", time.Now())
	ctx := context.Background()
	if err := a.Keep(ctx, []*model.Site{&s1, &s2}); err != nil {
		t.Fatal(err)
	}
	h := Hash(&s1, "de")
	if h != Hash(&s2, "de") {
		t.Fatal("the same settings give different hashes")
	}
	for _, s := range []string{"s1", "s2"} {
		if v, ok := a.Known(s, h); !ok || v != 1 {
			t.Errorf("%s: known %v, policy %d", s, ok, v)
		}
	}
	if _, ok := a.Known("s3", h); ok {
		t.Error("known for a site that never showed it")
	}
	n := len(st.vs)
	if n != 2*len(Languages()) {
		t.Errorf("%d versions kept, want %d", n, 2*len(Languages()))
	}
	// Nothing new: nothing written. A new policy: its banners are.
	if err := a.Keep(ctx, []*model.Site{&s1, &s2}); err != nil || len(st.vs) != n {
		t.Errorf("kept again: %d versions, %v", len(st.vs), err)
	}
	s1.PolicyVersion = 2
	if err := a.Keep(ctx, []*model.Site{&s1, &s2}); err != nil || len(st.vs) != n+len(Languages()) {
		t.Errorf("after a new policy: %d versions, %v", len(st.vs), err)
	}
	// Another node reads what was kept.
	b := &Archive{Store: st}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if v, ok := b.Known("s1", Hash(&s1, "fr")); !ok || v != 2 {
		t.Errorf("loaded: known %v, policy %d", ok, v)
	}
}
