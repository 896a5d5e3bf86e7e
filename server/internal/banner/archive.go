package banner

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

// Archive keeps every banner visitors can be shown, by its hash, so that a
// proof of consent can show the texts behind a decision's texts_hash after
// the site has changed them (or a release has changed the built-in ones).
type Archive struct {
	// Store keeps the versions (clickhouse.DB.PutBannerVersions).
	Store interface {
		PutBannerVersions(ctx context.Context, vs []model.BannerVersion) error
	}
	Now func() time.Time

	mu   sync.Mutex
	kept map[string]bool // hashes this node has stored
}

// Keep stores the banners of sites, in every language they resolve to,
// that this node has not stored yet. It is cheap to call often: a site's
// banners are resolved, and only new hashes are written.
func (a *Archive) Keep(ctx context.Context, sites []*model.Site) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kept == nil {
		a.kept = map[string]bool{}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	var vs []model.BannerVersion
	for _, s := range sites {
		langs := Languages()
		for l := range s.Banner.Texts {
			langs = append(langs, l)
		}
		for _, l := range langs {
			cfg := Resolve(s, l)
			if a.kept[cfg.TextsHash] {
				continue
			}
			b, err := json.Marshal(cfg)
			if err != nil {
				return err
			}
			a.kept[cfg.TextsHash] = true
			vs = append(vs, model.BannerVersion{SiteID: s.ID, TextsHash: cfg.TextsHash, PolicyVersion: cfg.PolicyVersion,
				Language: cfg.Language, Config: string(b), FirstSeen: now().UTC()})
		}
	}
	if len(vs) == 0 {
		return nil
	}
	if err := a.Store.PutBannerVersions(ctx, vs); err != nil {
		for _, v := range vs {
			delete(a.kept, v.TextsHash) // tried again next time
		}
		return err
	}
	return nil
}
