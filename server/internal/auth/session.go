package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

// SessionLifetime is how long a login lasts.
const SessionLifetime = 12 * time.Hour

// missTTL is how long a session ID the store did not know (or knew as
// ended) is not asked for again.
const missTTL = time.Second

// A session cookie is base64(email \x00 expiry \x00 password fingerprint
// \x00 session ID \x00 secret) "." base64(mac). The signature lets every
// node refuse a forged cookie without asking the store; the store's row of
// the session, which holds only the SHA-256 hash of the secret, lets any
// node end it (logout, a password change, a removed user). A changed
// password also ends it through the fingerprint.
type sessionCookie struct {
	email, fingerprint, id, secret string
	expires                        time.Time
}

func (a *Auth) encodeCookie(c sessionCookie) string {
	payload := strings.Join([]string{c.email, strconv.FormatInt(c.expires.Unix(), 10), c.fingerprint, c.id, c.secret}, "\x00")
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(a.mac("session", payload))
}

// decodeCookie checks a cookie's signature and form, not its expiry.
func (a *Auth) decodeCookie(cookie string) (sessionCookie, bool) {
	enc := base64.RawURLEncoding
	payloadStr, macStr, ok := strings.Cut(cookie, ".")
	if !ok {
		return sessionCookie{}, false
	}
	payload, err1 := enc.DecodeString(payloadStr)
	sig, err2 := enc.DecodeString(macStr)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, a.mac("session", string(payload))) {
		return sessionCookie{}, false
	}
	parts := strings.Split(string(payload), "\x00")
	if len(parts) != 5 || parts[3] == "" || parts[4] == "" {
		return sessionCookie{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return sessionCookie{}, false
	}
	return sessionCookie{email: parts[0], expires: time.Unix(exp, 0).UTC(), fingerprint: parts[2], id: parts[3], secret: parts[4]}, true
}

// newSession stores a new session of u and returns its cookie.
func (a *Auth) newSession(ctx context.Context, u model.User, now time.Time) (string, error) {
	c := sessionCookie{email: u.Email, fingerprint: fingerprint(u.PasswordHash), id: randomToken(12), secret: randomToken(32),
		expires: now.Add(SessionLifetime).Truncate(time.Second).UTC()}
	s := model.Session{ID: c.id, Email: u.Email, SecretHash: hashSecret(c.secret), CreatedAt: now.Truncate(time.Second).UTC(), ExpiresAt: c.expires}
	if err := a.store.PutSession(ctx, s); err != nil {
		return "", err
	}
	a.mu.Lock()
	a.sessions[s.ID] = s
	a.mu.Unlock()
	return a.encodeCookie(c), nil
}

// bySession checks a session cookie: its signature and expiry, its user
// and password, and that its session is live in the store.
func (a *Auth) bySession(ctx context.Context, cookie string) *Principal {
	c, ok := a.decodeCookie(cookie)
	if !ok || !time.Now().Before(c.expires) {
		return nil
	}
	a.mu.RLock()
	u, ok := a.users[c.email]
	a.mu.RUnlock()
	if !ok || fingerprint(u.PasswordHash) != c.fingerprint {
		return nil
	}
	s, ok := a.liveSession(ctx, c.id)
	if !ok || s.Email != c.email || !hmac.Equal([]byte(s.SecretHash), []byte(hashSecret(c.secret))) {
		return nil
	}
	p := principalFor(u)
	p.CSRF = base64.RawURLEncoding.EncodeToString(a.mac("csrf", cookie)[:18])
	return p
}

// liveSession returns the session called id from the cache, or from the
// store when a node that shares it has just created it.
func (a *Auth) liveSession(ctx context.Context, id string) (model.Session, bool) {
	now := time.Now()
	a.mu.RLock()
	s, ok := a.sessions[id]
	_, ended := a.ended[id]
	missed, isMissed := a.missed[id]
	a.mu.RUnlock()
	switch {
	case ended:
		return model.Session{}, false
	case ok:
		return s, now.Before(s.ExpiresAt)
	case isMissed && now.Sub(missed) < missTTL:
		return model.Session{}, false
	}
	s, ok, err := a.store.Session(ctx, id)
	if err != nil {
		a.log.Warn("auth: session lookup failed", "err", err)
		return model.Session{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !ok || s.Revoked || !now.Before(s.ExpiresAt) {
		a.missed[id] = now
		return model.Session{}, false
	}
	a.sessions[id] = s
	return s, true
}

// Logout ends the session of cookie on every node; a cookie that is not
// one of this service's is ignored.
func (a *Auth) Logout(ctx context.Context, cookie string) error {
	c, ok := a.decodeCookie(cookie)
	if !ok {
		return nil
	}
	a.mu.Lock()
	s, cached := a.sessions[c.id]
	delete(a.sessions, c.id)
	a.ended[c.id] = time.Now()
	a.mu.Unlock()
	if !cached {
		s = model.Session{ID: c.id, Email: c.email, ExpiresAt: c.expires}
	}
	s.Revoked, s.SecretHash = true, ""
	return a.store.PutSession(ctx, s)
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

// hashSecret is the stored form of a session's secret.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// randomToken is n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
