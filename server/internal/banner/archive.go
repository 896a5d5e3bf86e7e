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
	// Store keeps the versions (clickhouse.DB.PutBannerVersions) and
	// lists the kept ones without their configuration.
	Store interface {
		PutBannerVersions(ctx context.Context, vs []model.BannerVersion) error
		BannerVersionKeys(ctx context.Context) ([]model.BannerVersion, error)
	}
	Now func() time.Time

	mu   sync.RWMutex
	kept map[key]uint32    // the versions stored (by any node): their policy version
	seen map[string]string // each site's banner settings when its banners were last kept
}

// key names a kept banner: two sites with the same settings show banners
// with the same hash.
type key struct{ site, hash string }

// Load reads the versions every node has kept so far.
func (a *Archive) Load(ctx context.Context) error {
	vs, err := a.Store.BannerVersionKeys(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kept == nil {
		a.kept = map[key]uint32{}
	}
	for _, v := range vs {
		a.kept[key{v.SiteID, v.TextsHash}] = v.PolicyVersion
	}
	return nil
}

// Known reports the policy version of a kept banner of site, by its hash.
func (a *Archive) Known(site, hash string) (uint32, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	v, ok := a.kept[key{site, hash}]
	return v, ok
}

// Keep stores the banners of sites, in every language they resolve to,
// that are not stored yet. It is cheap to call with every reading of the
// sites: a site whose banner settings have not changed since is not
// resolved again, and only new hashes are written.
func (a *Archive) Keep(ctx context.Context, sites []*model.Site) error {
	vs, done := a.fresh(sites)
	if len(vs) > 0 {
		if err := a.Store.PutBannerVersions(ctx, vs); err != nil {
			a.mu.Lock()
			for _, v := range vs {
				delete(a.kept, key{v.SiteID, v.TextsHash}) // tried again next time
			}
			a.mu.Unlock()
			return err
		}
	}
	a.mu.Lock()
	for id, set := range done {
		a.seen[id] = set
	}
	a.mu.Unlock()
	return nil
}

// fresh resolves the banners of the sites changed since they were last
// kept and returns the new ones, marked kept, and the sites' settings.
// The store is written without the lock, so that Known never waits on it.
func (a *Archive) fresh(sites []*model.Site) ([]model.BannerVersion, map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kept == nil {
		a.kept = map[key]uint32{}
	}
	if a.seen == nil {
		a.seen = map[string]string{}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	var vs []model.BannerVersion
	done := map[string]string{}
	for _, s := range sites {
		// What a site's banners are made of (Resolve): the built-in
		// texts are the same for the process's life.
		set, _ := json.Marshal(struct {
			B model.Banner
			P uint32
			L int
		}{s.Banner, s.PolicyVersion, s.ConsentLifetimeDays})
		if a.seen[s.ID] == string(set) {
			continue
		}
		done[s.ID] = string(set)
		langs := Languages()
		for l := range s.Banner.Texts {
			langs = append(langs, l)
		}
		for _, l := range langs {
			cfg := Resolve(s, l)
			k := key{s.ID, cfg.TextsHash}
			if _, ok := a.kept[k]; ok {
				continue
			}
			b, _ := json.Marshal(cfg) // plain strings and slices: cannot fail
			a.kept[k] = cfg.PolicyVersion
			vs = append(vs, model.BannerVersion{SiteID: s.ID, TextsHash: cfg.TextsHash, PolicyVersion: cfg.PolicyVersion,
				Language: cfg.Language, Config: string(b), FirstSeen: now().UTC()})
		}
	}
	return vs, done
}
