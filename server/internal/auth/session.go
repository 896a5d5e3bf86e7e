package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

// SessionLifetime is how long a login lasts.
const SessionLifetime = 12 * time.Hour

// A session value is base64(email \x00 expiry \x00 password fingerprint)
// "." base64(mac): it names its user, ends at its expiry, and ends early
// when the user's password changes.
func (a *Auth) newSession(u model.User, now time.Time) string {
	payload := u.Email + "\x00" + strconv.FormatInt(now.Add(SessionLifetime).Unix(), 10) + "\x00" + fingerprint(u.PasswordHash)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(a.mac("session", payload))
}

// bySession decodes and checks a session value.
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
	p := principalFor(u)
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
