// Package consent proves a visitor's consent between crumb nodes: a recorded
// decision that grants categories is answered with a token signed with the
// secret all nodes share, and events carrying a visitor ID are accepted only
// with a valid token for the site's current policy version.
package consent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
)

// Claims is what a consent token states.
type Claims struct {
	SiteID        string
	ConsentID     uuid.UUID
	PolicyVersion uint32
	Granted       model.Categories
	IssuedAt      time.Time
	ExpiresAt     time.Time
}

// Errors returned by Verify.
var (
	ErrMalformed = errors.New("consent token malformed")
	ErrSignature = errors.New("consent token signature invalid")
	ErrExpired   = errors.New("consent token expired")
)

// Version 2 tokens state their issue time in milliseconds (version 1, in
// seconds, are still read), so that a revocation in the same second as a
// new decision tells the two apart.
const (
	tokenVersion = 2
	macLen       = 16
	fixedLen     = 1 + 16 + 4 + 1 + 8 + 8
)

// Signer signs and verifies consent tokens with a shared secret.
type Signer struct {
	key       []byte
	holderKey []byte
	macs      sync.Pool // of *macState
}

// NewSigner returns a signer for secret, which must be at least 32 bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("consent: secret must be at least 32 bytes, have %d", len(secret))
	}
	// Derive a key of its own so the secret can serve other purposes too.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("crumb consent token v1"))
	s := &Signer{key: m.Sum(nil)}
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("crumb consent holder v1"))
	s.holderKey = h.Sum(nil)
	s.macs.New = func() any { return &macState{h: hmac.New(sha256.New, s.key)} }
	return s, nil
}

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) string {
	buf := make([]byte, fixedLen, fixedLen+len(c.SiteID))
	buf[0] = tokenVersion
	copy(buf[1:17], c.ConsentID[:])
	binary.BigEndian.PutUint32(buf[17:21], c.PolicyVersion)
	buf[21] = categoryBits(c.Granted)
	binary.BigEndian.PutUint64(buf[22:30], uint64(c.IssuedAt.UnixMilli()))
	binary.BigEndian.PutUint64(buf[30:38], uint64(c.ExpiresAt.Unix()))
	buf = append(buf, c.SiteID...)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(buf) + "." + enc.EncodeToString(s.mac(buf))
}

// Verify checks the token's signature and expiry and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	payloadStr, macStr, ok := strings.Cut(token, ".")
	if !ok || len(token) > maxToken {
		return Claims{}, ErrMalformed
	}
	m := s.macs.Get().(*macState)
	defer s.macs.Put(m)
	enc := base64.RawURLEncoding
	n1, err1 := enc.Decode(m.payload[:], append(m.src[:0], payloadStr...))
	n2, err2 := enc.Decode(m.sig[:], append(m.src[:0], macStr...))
	payload, sig := m.payload[:n1], m.sig[:n2]
	if err1 != nil || err2 != nil || len(payload) < fixedLen || (payload[0] != tokenVersion && payload[0] != 1) {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(sig, m.mac(payload)) {
		return Claims{}, ErrSignature
	}
	var c Claims
	copy(c.ConsentID[:], payload[1:17])
	c.PolicyVersion = binary.BigEndian.Uint32(payload[17:21])
	c.Granted = bitsCategories(payload[21])
	if payload[0] == 1 {
		sec := int64(binary.BigEndian.Uint64(payload[22:30]))
		if sec > maxV1Seconds || sec < -maxV1Seconds {
			return Claims{}, ErrMalformed // not representable in a version 2 token
		}
		c.IssuedAt = time.Unix(sec, 0).UTC()
	} else {
		c.IssuedAt = time.UnixMilli(int64(binary.BigEndian.Uint64(payload[22:30]))).UTC()
	}
	c.ExpiresAt = time.Unix(int64(binary.BigEndian.Uint64(payload[30:38])), 0).UTC()
	c.SiteID = string(payload[fixedLen:])
	if !now.Before(c.ExpiresAt) {
		return c, ErrExpired
	}
	return c, nil
}

// maxV1Seconds bounds the issue time of a version 1 token: it must fit in
// milliseconds.
const maxV1Seconds = math.MaxInt64 / 1000

// maxToken is the length of the longest token Verify looks at.
const maxToken = 512

// macState is a keyed HMAC with room to decode a token, kept for reuse:
// setting one up costs more than checking a token with it.
type macState struct {
	h            hash.Hash
	src          [maxToken]byte
	payload, sig [maxToken]byte
	sum          [sha256.Size]byte
}

// mac returns the MAC of payload, in m's room.
func (m *macState) mac(payload []byte) []byte {
	m.h.Reset()
	m.h.Write(payload)
	return m.h.Sum(m.sum[:0])[:macLen]
}

func (s *Signer) mac(payload []byte) []byte {
	m := s.macs.Get().(*macState)
	defer s.macs.Put(m)
	return append([]byte(nil), m.mac(payload)...)
}

func categoryBits(c model.Categories) byte {
	var b byte
	if c.Performance {
		b |= 1
	}
	if c.Functionality {
		b |= 2
	}
	if c.Targeting {
		b |= 4
	}
	return b
}

func bitsCategories(b byte) model.Categories {
	return model.Categories{Performance: b&1 != 0, Functionality: b&2 != 0, Targeting: b&4 != 0}
}
