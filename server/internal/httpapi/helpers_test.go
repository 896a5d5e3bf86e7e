package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/dashboards"
	"github.com/crumbhq/crumb/server/internal/assets"
	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/metrics"
	"github.com/crumbhq/crumb/server/internal/model"
	trackerjs "github.com/crumbhq/crumb/tracker-js"
)

const secret = "0123456789abcdef0123456789abcdef"

// The credentials every store of newStore holds.
const (
	ownerToken    = "crumb_ownertok_0123456789abcdefghijkmnopqrstu" // reads the store's site, proof included
	strangerToken = "crumb_strangtk_0123456789abcdefghijkmnopqrstu" // reads another site only
	allToken      = "crumb_alltoken_0123456789abcdefghijkmnopqrstu" // reads every site
	shareID       = "share-link"                                    // reads the store's site, never its proof
)

// memStore holds users, tokens and share links in memory.
type memStore struct {
	mu     sync.Mutex
	users  map[string]model.User
	tokens map[string]model.Token
	shares map[string]model.ShareLink
}

// newStore returns a store with ownerToken and shareID for site,
// strangerToken and allToken.
func newStore(site string) *memStore {
	s := &memStore{users: map[string]model.User{}, tokens: map[string]model.Token{}, shares: map[string]model.ShareLink{}}
	s.putToken(model.Token{ID: auth.TokenID(ownerToken), Hash: auth.HashToken(ownerToken), SiteID: site})
	s.putToken(model.Token{ID: auth.TokenID(strangerToken), Hash: auth.HashToken(strangerToken), SiteID: "other"})
	s.putToken(model.Token{ID: auth.TokenID(allToken), Hash: auth.HashToken(allToken)})
	s.putShare(model.ShareLink{ID: shareID, SiteID: site})
	return s
}

func (s *memStore) putToken(t model.Token) {
	s.mu.Lock()
	s.tokens[t.ID] = t
	s.mu.Unlock()
}

func (s *memStore) putShare(l model.ShareLink) {
	s.mu.Lock()
	s.shares[l.ID] = l
	s.mu.Unlock()
}

func values[K comparable, V any](mu *sync.Mutex, m map[K]V) []V {
	mu.Lock()
	defer mu.Unlock()
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (s *memStore) Users(context.Context) ([]model.User, error) { return values(&s.mu, s.users), nil }
func (s *memStore) Tokens(context.Context) ([]model.Token, error) {
	return values(&s.mu, s.tokens), nil
}
func (s *memStore) ShareLinks(context.Context) ([]model.ShareLink, error) {
	return values(&s.mu, s.shares), nil
}

// memStore keeps no sessions: the stats tests use tokens and share links,
// the login tests a real ClickHouse.
func (s *memStore) Sessions(context.Context) ([]model.Session, error) { return nil, nil }
func (s *memStore) Session(context.Context, string) (model.Session, bool, error) {
	return model.Session{}, false, nil
}
func (s *memStore) PutSession(context.Context, model.Session) error {
	return errors.New("memStore keeps no sessions")
}

// testSites is a fixed set of sites.
type testSites map[string]*model.Site

func (s testSites) Get(_ context.Context, id string) (*model.Site, bool) {
	site, ok := s[id]
	return site, ok
}

func (s testSites) AnyAllowsHost(host string) bool {
	for _, site := range s {
		if site.AllowsHost(host) {
			return true
		}
	}
	return false
}

func (s testSites) All() []*model.Site {
	out := make([]*model.Site, 0, len(s))
	for _, site := range s {
		out = append(out, site)
	}
	return out
}

func (s testSites) Demo() (*model.Site, bool) {
	for _, site := range s {
		if site.Domain == "localhost" {
			return site, true
		}
	}
	return nil, false
}

var (
	buildOnce sync.Once
	script    *assets.Script
	dash      *assets.Dashboard
	buildErr  error
)

// built returns the tracker script and the dashboard UI, built once.
func built(t testing.TB) (*assets.Script, *assets.Dashboard) {
	t.Helper()
	buildOnce.Do(func() {
		if script, buildErr = assets.BuildScript(trackerjs.Source); buildErr == nil {
			dash, buildErr = assets.BuildDashboard(dashboards.Web)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return script, dash
}

// newServer returns the HTTP edge over d, with what d leaves out filled in:
// site1 for example.com, an authenticator over newStore of the site, fresh
// metrics, the built script, demo pages and dashboard.
func newServer(t testing.TB, d httpapi.Deps) *fiber.App {
	t.Helper()
	if d.Sites == nil {
		site := model.NewSite("site1", "example.com", "Example", time.Now())
		d.Sites = testSites{"site1": &site}
	}
	if d.Auth == nil {
		var site string
		for _, s := range d.Sites.All() {
			site = s.ID
		}
		d.Auth = auth.New(newStore(site), []byte(secret), nil)
		if err := d.Auth.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	d.Script, d.Dashboard = built(t)
	d.Demo = trackerjs.Demo
	return httpapi.New(d)
}

type response struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request; headers are name, value pairs.
func do(t testing.TB, app *fiber.App, method, path string, body string, headers ...string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = bytes.NewReader([]byte(body))
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}
