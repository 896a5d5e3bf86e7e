package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

// Store lists users, API tokens and share links, and keeps the login
// sessions.
type Store interface {
	Users(ctx context.Context) ([]model.User, error)
	Tokens(ctx context.Context) ([]model.Token, error)
	ShareLinks(ctx context.Context) ([]model.ShareLink, error)
	// Sessions lists the sessions that are neither revoked nor expired.
	Sessions(ctx context.Context) ([]model.Session, error)
	// Session returns the newest version of one session, if any.
	Session(ctx context.Context, id string) (model.Session, bool, error)
	// PutSession stores a new version of a session.
	PutSession(ctx context.Context, s model.Session) error
}

// Kind says how a request was authenticated.
type Kind string

// The kinds of principal.
const (
	KindSession Kind = "session"
	KindToken   Kind = "token"
	KindShare   Kind = "share"
)

// Principal is who makes a request.
type Principal struct {
	Kind  Kind
	Email string
	Role  string // admin or viewer, for sessions
	// Sites the principal may read; nil means every site.
	Sites map[string]bool
	// Editable are the sites whose goals and saved funnels a non-admin
	// login may change (site role "editor").
	Editable map[string]bool
	// CSRF is the token a session must send with writes.
	CSRF string
}

// CanRead reports whether p may read site.
func (p *Principal) CanRead(site string) bool { return p.Sites == nil || p.Sites[site] }

// CanEdit reports whether p may change site's goals and saved funnels:
// logins of admins, and of the site's editors.
func (p *Principal) CanEdit(site string) bool {
	return p.Kind == KindSession && (p.Role == "admin" || p.Editable[site])
}

// CSRFValid reports whether got is p's CSRF token.
func (p *Principal) CSRFValid(got string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(p.CSRF))
}

// Credentials are what a request may carry to authenticate itself.
type Credentials struct {
	// Authorization is the Authorization header: "Bearer " and an API token.
	Authorization string
	// Session is the session cookie's value.
	Session string
	// Share is a share link ID.
	Share string
}

// ErrWrongLogin refuses a login whose e-mail or password is wrong.
var ErrWrongLogin = errors.New("wrong e-mail or password")

// refreshEvery is how old the cached users, tokens, share links and live
// sessions may get: a revocation on one node reaches the others within it.
const refreshEvery = 5 * time.Second

// Auth authenticates dashboard and API requests.
type Auth struct {
	store Store
	key   []byte
	log   *slog.Logger

	mu       sync.RWMutex
	users    map[string]model.User
	tokens   map[string]model.Token // by ID
	shares   map[string]model.ShareLink
	sessions map[string]model.Session // live, by ID
	ended    map[string]time.Time     // sessions this node ended, by ID, when
	missed   map[string]time.Time     // session IDs the store did not have live, when
	loaded   time.Time

	limiter *limiter

	dummyOnce sync.Once
	dummy     string
}

// New returns an authenticator over store; secret is the secret shared by
// all nodes, which signs the sessions.
func New(store Store, secret []byte, log *slog.Logger) *Auth {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("crumb dashboard session v1"))
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Auth{store: store, key: m.Sum(nil), log: log, limiter: newLimiter(),
		sessions: map[string]model.Session{}, ended: map[string]time.Time{}, missed: map[string]time.Time{}}
}

// Reload reads users, tokens, share links and live sessions now.
func (a *Auth) Reload(ctx context.Context) error {
	users, err := a.store.Users(ctx)
	if err != nil {
		return err
	}
	tokens, err := a.store.Tokens(ctx)
	if err != nil {
		return err
	}
	shares, err := a.store.ShareLinks(ctx)
	if err != nil {
		return err
	}
	sessions, err := a.store.Sessions(ctx)
	if err != nil {
		return err
	}
	um := make(map[string]model.User, len(users))
	for _, u := range users {
		um[u.Email] = u
	}
	tm := make(map[string]model.Token, len(tokens))
	for _, t := range tokens {
		tm[t.ID] = t
	}
	sm := make(map[string]model.ShareLink, len(shares))
	for _, s := range shares {
		sm[s.ID] = s
	}
	ss := make(map[string]model.Session, len(sessions))
	for _, s := range sessions {
		ss[s.ID] = s
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	// A session this node ended may still be live in a read that started
	// before its revocation landed; such reads are over after a minute.
	for id, at := range a.ended {
		if now.Sub(at) > time.Minute {
			delete(a.ended, id)
		}
	}
	for id, at := range a.missed {
		if now.Sub(at) > missTTL {
			delete(a.missed, id)
		}
	}
	a.users, a.tokens, a.shares, a.sessions, a.loaded = um, tm, sm, ss, now
	return nil
}

// fresh reloads the cache when it is older than refreshEvery.
func (a *Auth) fresh(ctx context.Context) {
	a.mu.RLock()
	stale := time.Since(a.loaded) > refreshEvery
	a.mu.RUnlock()
	if stale {
		if err := a.Reload(ctx); err != nil {
			a.log.Warn("auth: reload failed; using the cached copy", "err", err)
		}
	}
}

// Identify returns the principal of cr, or nil. A Bearer token is tried
// first, then the session, then the share link; only the first one present
// counts.
func (a *Auth) Identify(ctx context.Context, cr Credentials) *Principal {
	a.fresh(ctx)
	switch {
	case strings.HasPrefix(cr.Authorization, "Bearer "):
		return a.byToken(strings.TrimPrefix(cr.Authorization, "Bearer "))
	case cr.Session != "":
		return a.bySession(ctx, cr.Session)
	case cr.Share != "":
		return a.byShare(cr.Share)
	}
	return nil
}

func (a *Auth) byToken(tok string) *Principal {
	id := TokenID(tok)
	a.mu.RLock()
	t, ok := a.tokens[id]
	a.mu.RUnlock()
	if !ok || t.Revoked || !hmac.Equal([]byte(t.Hash), []byte(HashToken(tok))) {
		return nil
	}
	p := &Principal{Kind: KindToken, Email: "token:" + t.ID}
	if t.SiteID != "" {
		p.Sites = map[string]bool{t.SiteID: true}
	}
	return p
}

func (a *Auth) byShare(id string) *Principal {
	a.mu.RLock()
	s, ok := a.shares[id]
	a.mu.RUnlock()
	if !ok || s.Revoked {
		return nil
	}
	return &Principal{Kind: KindShare, Sites: map[string]bool{s.SiteID: true}}
}

func principalFor(u model.User) *Principal {
	p := &Principal{Kind: KindSession, Email: u.Email, Role: u.Role}
	if u.Role != "admin" {
		p.Sites, p.Editable = map[string]bool{}, map[string]bool{}
		for site, role := range u.SiteRoles {
			p.Sites[site] = true
			p.Editable[site] = role == "editor"
		}
	}
	return p
}

// dummyHash is a real bcrypt hash to check unknown e-mails against.
func (a *Auth) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy, _ = HashPassword(RandomPassword()) })
	return a.dummy
}

// Login checks a password from the client address addr, within the login
// limits (limiter.go), and returns the cookie of a new session. The
// refusals are a *Throttled and ErrWrongLogin.
func (a *Auth) Login(ctx context.Context, email, password string, addr netip.Addr) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	keys, wait := a.limiter.begin(email, addr)
	if wait > 0 {
		return "", &Throttled{Wait: wait}
	}
	a.fresh(ctx)
	a.mu.RLock()
	u, ok := a.users[email]
	a.mu.RUnlock()
	if !ok {
		// Spend the same time as a real check, so that timing does not tell
		// which e-mail addresses exist.
		CheckPassword(a.dummyHash(), password)
		return "", ErrWrongLogin
	}
	if !CheckPassword(u.PasswordHash, password) {
		return "", ErrWrongLogin
	}
	a.limiter.succeeded(keys)
	return a.newSession(ctx, u, time.Now())
}
