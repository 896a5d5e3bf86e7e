// Package webauth guards the dashboards and the stats API: logins with
// bcrypt-hashed passwords and signed HttpOnly SameSite session cookies, CSRF
// tokens for cookie-authenticated writes, a login rate limit, per-site roles,
// API tokens (stored hashed) and revocable public share links.
//
// Sessions are stateless — a cookie signed with the secret every crumb node
// shares — so any node accepts any session; users, tokens and share links
// are read from ClickHouse and cached for a few seconds.
package webauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
)

// Store lists users, API tokens and share links.
type Store interface {
	Users(ctx context.Context) ([]clickhouse.User, error)
	Tokens(ctx context.Context) ([]clickhouse.Token, error)
	ShareLinks(ctx context.Context) ([]clickhouse.ShareLink, error)
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

// SessionCookie is the name of the session cookie.
const SessionCookie = "crumb_session"

// SessionLifetime is how long a login lasts.
const SessionLifetime = 12 * time.Hour

const (
	refreshEvery  = 5 * time.Second
	loginAttempts = 10
	loginWindow   = 15 * time.Minute
)

// Auth authenticates dashboard and API requests.
type Auth struct {
	store  Store
	key    []byte
	log    *slog.Logger
	secure bool

	mu     sync.RWMutex
	users  map[string]clickhouse.User
	tokens map[string]clickhouse.Token // by ID
	shares map[string]clickhouse.ShareLink
	loaded time.Time

	limiter *limiter

	dummyOnce sync.Once
	dummy     string
}

// dummyHash is a real bcrypt hash to check unknown e-mails against.
func (a *Auth) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy, _ = auth.HashPassword(auth.RandomPassword()) })
	return a.dummy
}

// New returns an authenticator. secret is the secret shared by all nodes;
// secure marks cookies Secure (serve the dashboards over HTTPS).
func New(store Store, secret []byte, secure bool, log *slog.Logger) *Auth {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("crumb dashboard session v1"))
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Auth{store: store, key: m.Sum(nil), log: log, secure: secure, limiter: newLimiter(loginAttempts, loginWindow)}
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
	um := make(map[string]clickhouse.User, len(users))
	for _, u := range users {
		um[u.Email] = u
	}
	tm := make(map[string]clickhouse.Token, len(tokens))
	for _, t := range tokens {
		tm[t.ID] = t
	}
	sm := make(map[string]clickhouse.ShareLink, len(shares))
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
			a.log.Warn("webauth: reload failed; using the cached copy", "err", err)
		}
	}
}

// ErrUnauthenticated and ErrForbidden are the two refusals.
var (
	ErrUnauthenticated = fiber.NewError(fiber.StatusUnauthorized, "log in, or send an API token (Authorization: Bearer crumb_…)")
	ErrForbidden       = fiber.NewError(fiber.StatusForbidden, "no access to this site")
	errCSRF            = fiber.NewError(fiber.StatusForbidden, "missing or wrong CSRF token (X-CSRF-Token)")
)

// Identify returns the request's principal, or ErrUnauthenticated.
func (a *Auth) Identify(c *fiber.Ctx) (*Principal, error) {
	if p, ok := c.Locals("principal").(*Principal); ok {
		return p, nil
	}
	a.fresh(c.UserContext())
	var p *Principal
	switch {
	case strings.HasPrefix(c.Get(fiber.HeaderAuthorization), "Bearer "):
		p = a.byToken(strings.TrimPrefix(c.Get(fiber.HeaderAuthorization), "Bearer "))
	case c.Cookies(SessionCookie) != "":
		p = a.bySession(c.Cookies(SessionCookie))
	case c.Get("X-Crumb-Share") != "" || c.Query("share") != "":
		id := c.Get("X-Crumb-Share")
		if id == "" {
			id = c.Query("share")
		}
		p = a.byShare(id)
	}
	if p == nil {
		return nil, ErrUnauthenticated
	}
	c.Locals("principal", p)
	return p, nil
}

func (a *Auth) byToken(tok string) *Principal {
	id := auth.TokenID(tok)
	a.mu.RLock()
	t, ok := a.tokens[id]
	a.mu.RUnlock()
	if !ok || t.Revoked || !hmac.Equal([]byte(t.Hash), []byte(auth.HashToken(tok))) {
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

func (a *Auth) principalFor(u clickhouse.User) *Principal {
	p := &Principal{Kind: KindSession, Email: u.Email, Role: u.Role}
	if u.Role != "admin" {
		p.Sites = map[string]bool{}
		for site := range u.SiteRoles {
			p.Sites[site] = true
		}
	}
	return p
}

// session cookie: base64(email \x00 expiry \x00 password fingerprint) "." mac
func (a *Auth) newSession(u clickhouse.User, now time.Time) string {
	payload := u.Email + "\x00" + strconv.FormatInt(now.Add(SessionLifetime).Unix(), 10) + "\x00" + fingerprint(u.PasswordHash)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(a.mac("session", payload))
}

func (a *Auth) bySession(cookie string) *Principal {
	enc := base64.RawURLEncoding
	payloadStr, macStr, ok := strings.Cut(cookie, ".")
	if !ok {
		return nil
	}
	payload, err1 := enc.DecodeString(payloadStr)
	sig, err2 := enc.DecodeString(macStr)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, a.mac("session", string(payload))) {
		return nil
	}
	parts := strings.Split(string(payload), "\x00")
	if len(parts) != 3 {
		return nil
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || time.Now().Unix() >= exp {
		return nil
	}
	a.mu.RLock()
	u, ok := a.users[parts[0]]
	a.mu.RUnlock()
	// A changed password (or a removed user) ends every session.
	if !ok || fingerprint(u.PasswordHash) != parts[2] {
		return nil
	}
	p := a.principalFor(u)
	p.CSRF = enc.EncodeToString(a.mac("csrf", cookie)[:18])
	return p
}

func (a *Auth) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(purpose + "\x00" + payload))
	return m.Sum(nil)
}

func fingerprint(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// Require is middleware: the request must be authenticated; cookie sessions
// must send the CSRF token with every write; share links may only read.
func (a *Auth) Require(c *fiber.Ctx) error {
	p, err := a.Identify(c)
	if err != nil {
		return err
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		switch p.Kind {
		case KindShare:
			return ErrForbidden
		case KindSession:
			if got := c.Get("X-CSRF-Token"); got == "" || !hmac.Equal([]byte(got), []byte(p.CSRF)) {
				return errCSRF
			}
		}
	}
	return c.Next()
}

// SiteAccess refuses a request whose principal may not read site.
func (a *Auth) SiteAccess(c *fiber.Ctx, site string) error {
	p, err := a.Identify(c)
	if err != nil {
		return err
	}
	if !p.CanRead(site) {
		return ErrForbidden
	}
	return nil
}

// ProofAccess is SiteAccess for proof of consent, which carries consent
// IDs: it is open to logins and API tokens of the site, never to share links.
func (a *Auth) ProofAccess(c *fiber.Ctx, site string) error {
	if err := a.SiteAccess(c, site); err != nil {
		return err
	}
	if p, _ := a.Identify(c); p.Kind == KindShare {
		return fiber.NewError(fiber.StatusForbidden, "share links do not open the proof of consent")
	}
	return nil
}

// Login checks a password, rate-limited per address and per e-mail, and
// returns a session cookie value.
func (a *Auth) Login(ctx context.Context, email, password, ip string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if !a.limiter.allow("ip:"+ip) || !a.limiter.allow("email:"+email) {
		return "", fiber.NewError(fiber.StatusTooManyRequests, "too many login attempts; try again in 15 minutes")
	}
	a.fresh(ctx)
	a.mu.RLock()
	u, ok := a.users[email]
	a.mu.RUnlock()
	if !ok {
		// Spend the same time as a real check, so that timing does not tell
		// which e-mail addresses exist.
		auth.CheckPassword(a.dummyHash(), password)
		return "", errors.New("wrong e-mail or password")
	}
	if !auth.CheckPassword(u.PasswordHash, password) {
		return "", errors.New("wrong e-mail or password")
	}
	a.limiter.reset("email:" + email)
	return a.newSession(u, time.Now()), nil
}

// limiter counts attempts per key in a fixed window.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	seen   map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(max int, w time.Duration) *limiter {
	return &limiter{max: max, window: w, seen: map[string]*window{}}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.seen) > 100000 {
		for k, w := range l.seen {
			if now.Sub(w.start) > l.window {
				delete(l.seen, k)
			}
		}
	}
	w, ok := l.seen[key]
	if !ok || now.Sub(w.start) > l.window {
		l.seen[key] = &window{start: now, n: 1}
		return true
	}
	w.n++
	return w.n <= l.max
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.seen, key)
	l.mu.Unlock()
}
