package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// A consent's holder is the browser that made its first decision: the
// answer to that decision carries the consent's key, an HMAC of site and
// consent ID under a key derived from the shared secret. Adding a decision
// to a consent, or erasing it by its ID, needs the key: every node can
// check it with the secret alone, and a consent ID seen elsewhere (in a
// proof export) is not enough.

// HolderKey returns the key of a consent.
func (s *Signer) HolderKey(site string, id uuid.UUID) string {
	m := hmac.New(sha256.New, s.holderKey)
	m.Write([]byte(site))
	m.Write([]byte{0})
	m.Write(id[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// Holds reports whether key is the key of the consent.
func (s *Signer) Holds(site string, id uuid.UUID, key string) bool {
	if key == "" || len(key) > 64 {
		return false
	}
	return hmac.Equal([]byte(key), []byte(s.HolderKey(site, id)))
}

// RevocationHash names a revoked consent in storage: a one-way hash of
// site and ID, so that the list of revocations holds no consent ID.
func RevocationHash(site string, id uuid.UUID) string {
	h := sha256.Sum256([]byte("crumb revocation v1\x00" + site + "\x00" + id.String()))
	return hex.EncodeToString(h[:16])
}

// Revocations are the consents whose tokens issued before a time no longer
// count: a withdrawal, a later decision without performance, an erasure.
// Every node loads them from storage and polls for new ones (see
// RevocationPoller); a node also adds its own at once.
type Revocations struct {
	mu sync.RWMutex
	at map[string]int64 // RevocationHash → revoked at, Unix ms
}

// NewRevocations returns an empty list.
func NewRevocations() *Revocations { return &Revocations{at: map[string]int64{}} }

// Add records that the consent's tokens issued before at are revoked.
func (r *Revocations) Add(hash string, at time.Time) {
	ms := at.UnixMilli()
	r.mu.Lock()
	if ms > r.at[hash] {
		r.at[hash] = ms
	}
	r.mu.Unlock()
}

// Revoked reports whether a token issued at issued for the consent has
// been revoked since.
func (r *Revocations) Revoked(site string, id uuid.UUID, issued time.Time) bool {
	r.mu.RLock()
	n := len(r.at)
	r.mu.RUnlock()
	if n == 0 {
		return false
	}
	h := RevocationHash(site, id)
	r.mu.RLock()
	ms, ok := r.at[h]
	r.mu.RUnlock()
	return ok && issued.UnixMilli() <= ms
}

// Len is how many consents are revoked.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.at)
}

// RevocationSource reads the revocations stored since a time.
type RevocationSource interface {
	Revocations(ctx context.Context, insertedSince time.Time) (map[string]time.Time, error)
}

// Poll loads every stored revocation, then the new ones every interval,
// until ctx ends; a failed read is retried at the next interval. Reads
// overlap by a minute, for clocks that differ between nodes and storage.
func (r *Revocations) Poll(ctx context.Context, src RevocationSource, every time.Duration, log *slog.Logger) {
	since := time.Unix(0, 0)
	for {
		start := time.Now()
		got, err := src.Revocations(ctx, since)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("reading consent revocations failed; retrying", "err", err)
		case err == nil:
			for h, at := range got {
				r.Add(h, at)
			}
			since = start.Add(-time.Minute)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// PollInterval is how often every node reads new revocations: a
// withdrawal stops its consent's tokens on every node within about this
// time plus the buffer's flush interval.
const PollInterval = 3 * time.Second
