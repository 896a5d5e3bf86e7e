// Package auth decides who makes a dashboard or stats API request: logins
// with bcrypt-hashed passwords and revocable sessions (with their CSRF
// tokens), login limits that slow guessing without locking accounts,
// per-site roles, API tokens (shown once and stored only as a hash) and
// revocable public share links.
//
// A session cookie is signed with the secret every crumb node shares and
// names a session kept in the store, so any node accepts it and any node
// can end it; users, tokens, share links and live sessions are read from
// the store and cached for a few seconds. The HTTP side (cookies, headers,
// middleware) is package httpapi's.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// HashPassword returns the bcrypt hash of a password of at least 10
// characters.
func HashPassword(pw string) (string, error) {
	if len(pw) < 10 {
		return "", fmt.Errorf("auth: password must be at least 10 characters")
	}
	if len(pw) > 72 {
		return "", fmt.Errorf("auth: password must be at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 12)
	if err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches hash.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// NewToken returns a new API token "crumb_<id>_<secret>", its ID and the hash
// to store.
func NewToken() (token, id, hash string) {
	id = randomString(8)
	token = "crumb_" + id + "_" + randomString(32)
	return token, id, HashToken(token)
}

// HashToken is the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenID returns the ID part of a token, or "" if it is not one.
func TokenID(token string) string {
	parts := strings.Split(token, "_")
	if len(parts) != 3 || parts[0] != "crumb" || len(parts[1]) != 8 {
		return ""
	}
	return parts[1]
}

// RandomPassword returns a random password for generated logins.
func RandomPassword() string { return randomString(20) }

func randomString(n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
