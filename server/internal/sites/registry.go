// Package sites keeps every crumb node's view of the site configuration
// stored in ClickHouse: a copy in memory, refreshed on a timer and on a miss,
// so that the ingest path never waits for the database.
package sites

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

// Store lists the configured sites.
type Store interface {
	Sites(ctx context.Context) ([]model.Site, error)
}

// Registry is an in-memory copy of the configured sites.
type Registry struct {
	// OnLoad, if set, is called with the sites after each reading (at
	// start, every refresh, on a miss), before the new copy is served.
	OnLoad func(ctx context.Context, sites []*model.Site)

	store   Store
	every   time.Duration
	log     *slog.Logger
	mu      sync.RWMutex
	byID    map[string]*model.Site
	loaded  time.Time
	loadMu  sync.Mutex // one refresh at a time
	lastTry time.Time
}

// NewRegistry returns a registry that reloads every refresh.
func NewRegistry(store Store, refresh time.Duration, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{store: store, every: refresh, log: log, byID: map[string]*model.Site{}}
}

// Load reads every site now.
func (r *Registry) Load(ctx context.Context) error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	return r.load(ctx)
}

func (r *Registry) load(ctx context.Context) error {
	r.lastTry = time.Now()
	list, err := r.store.Sites(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]*model.Site, len(list))
	all := make([]*model.Site, len(list))
	for i := range list {
		m[list[i].ID], all[i] = &list[i], &list[i]
	}
	if r.OnLoad != nil {
		r.OnLoad(ctx, all)
	}
	r.mu.Lock()
	r.byID, r.loaded = m, time.Now()
	r.mu.Unlock()
	return nil
}

// Run refreshes the registry until ctx ends.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Load(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("sites: refresh failed; serving the last copy", "err", err)
			}
		}
	}
}

// Get returns the site with id. An unknown id triggers a reload, at most
// once a second, so that a site added on another node is seen at once.
func (r *Registry) Get(ctx context.Context, id string) (*model.Site, bool) {
	r.mu.RLock()
	s, ok := r.byID[id]
	r.mu.RUnlock()
	if ok {
		return s, true
	}
	return r.Fresh(ctx, id)
}

// Fresh reads the sites again, at most once a second, and returns the
// site with id: a caller that holds news from another node (a site added
// there, a policy version published there) sees it at once.
func (r *Registry) Fresh(ctx context.Context, id string) (*model.Site, bool) {
	r.loadMu.Lock()
	if time.Since(r.lastTry) >= time.Second {
		if err := r.load(ctx); err != nil {
			r.log.Warn("sites: reload failed", "err", err)
		}
	}
	r.loadMu.Unlock()
	r.mu.RLock()
	s, ok := r.byID[id]
	r.mu.RUnlock()
	return s, ok
}

// All returns every site.
func (r *Registry) All() []*model.Site {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*model.Site, 0, len(r.byID))
	for _, s := range r.byID {
		out = append(out, s)
	}
	return out
}

// AnyAllowsHost reports whether host is a domain (or subdomain) of any site.
func (r *Registry) AnyAllowsHost(host string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.byID {
		if s.AllowsHost(host) {
			return true
		}
	}
	return false
}

// Demo returns the demo site: the oldest site for localhost.
func (r *Registry) Demo() (*model.Site, bool) {
	var demo *model.Site
	for _, s := range r.All() {
		if s.Domain == "localhost" && (demo == nil || s.CreatedAt.Before(demo.CreatedAt)) {
			demo = s
		}
	}
	return demo, demo != nil
}

// NewID returns a random site ID: 12 characters of lower-case letters and
// digits, safe in URLs and script tags.
func NewID() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
