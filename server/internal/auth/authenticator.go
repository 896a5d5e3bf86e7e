package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

// Store lists users, API tokens and share links.
type Store interface {
	Users(ctx context.Context) ([]model.User, error)
	Tokens(ctx context.Context) ([]model.Token, error)
	ShareLinks(ctx context.Context) ([]model.ShareLink, error)
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
	// CSRF is the token a session must send with writes.
	CSRF string
}

// CanRead reports whether p may read site.
func (p *Principal) CanRead(site string) bool { return p.Sites == nil || p.Sites[site] }

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

// The refusals of Login.
var (
	ErrTooManyAttempts = errors.New("too many login attempts; try again in 15 minutes")
	ErrWrongLogin      = errors.New("wrong e-mail or password")
)

const (
	refreshEvery  = 5 * time.Second
	loginAttempts = 10
	loginWindow   = 15 * time.Minute
)

// Auth authenticates dashboard and API requests.
type Auth struct {
	store Store
	key   []byte
	log   *slog.Logger

	mu     sync.RWMutex
	users  map[string]model.User
	tokens map[string]model.Token // by ID
	shares map[string]model.ShareLink
	loaded time.Time

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
	return &Auth{store: store, key: m.Sum(nil), log: log, limiter: newLimiter(loginAttempts, loginWindow)}
}

// Reload reads users, tokens and share links now.
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
	a.mu.Lock()
	a.users, a.tokens, a.shares, a.loaded = um, tm, sm, time.Now()
	a.mu.Unlock()
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
		return a.bySession(cr.Session)
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
		p.Sites = map[string]bool{}
		for site := range u.SiteRoles {
			p.Sites[site] = true
		}
	}
	return p
}

// dummyHash is a real bcrypt hash to check unknown e-mails against.
func (a *Auth) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy, _ = HashPassword(RandomPassword()) })
	return a.dummy
}

// Login checks a password, rate-limited per address and per e-mail, and
// returns a session value. The errors are ErrTooManyAttempts and
// ErrWrongLogin.
func (a *Auth) Login(ctx context.Context, email, password, ip string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !a.limiter.allow("ip:"+ip) || !a.limiter.allow("email:"+email) {
		return "", ErrTooManyAttempts
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
	a.limiter.reset("email:" + email)
	return a.newSession(u, time.Now()), nil
}
