package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/model"
)

// Digest recipients and the claims of notifications (package notify).

const (
	insertRecipient  = "INSERT INTO " + migrations.DigestRecipients + " (site_id, recipient, version, every, unsubscribed, token, added_by, created_at, updated_at)"
	selectRecipients = `SELECT site_id, recipient, every, unsubscribed, token, added_by, created_at, updated_at
		FROM ` + migrations.DigestRecipients + ` FINAL ORDER BY site_id, recipient`
	insertNotification = "INSERT INTO " + migrations.Notifications + " (key, claim_id, state, node, at, detail)"
	// claimsSQL: the key's deliveries, and its claims since a time, the
	// winner (the smallest claim ID) first.
	claimsSQL = `SELECT claim_id, state, at FROM ` + migrations.Notifications + `
		WHERE key = ? AND (state = 'sent' OR at >= toDateTime(?, 'UTC')) ORDER BY state = 'sent' DESC, claim_id`
	lastSentSQL = `SELECT key, max(at) FROM ` + migrations.Notifications + ` WHERE state = 'sent' AND startsWith(key, ?) GROUP BY key`
)

// PutRecipient stores a new version of a digest recipient.
func (db *DB) PutRecipient(ctx context.Context, r model.Recipient) error {
	now := time.Now().UTC()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	return insert(ctx, db, migrations.DigestRecipients, insertRecipient, 1, func(int) []any {
		return []any{r.SiteID, r.Address, version(now), r.Every, boolU8(r.Unsubscribed), r.Token, r.AddedBy, r.CreatedAt.UTC(), now}
	})
}

// Recipients returns every digest recipient, unsubscribed ones included.
func (db *DB) Recipients(ctx context.Context) ([]model.Recipient, error) {
	rows, err := db.conn.Query(ctx, selectRecipients)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: recipients: %w", err)
	}
	defer rows.Close()
	var out []model.Recipient
	for rows.Next() {
		var r model.Recipient
		var unsub uint8
		if err := rows.Scan(&r.SiteID, &r.Address, &r.Every, &unsub, &r.Token, &r.AddedBy, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, fmt.Errorf("clickhouse: recipients: %w", err)
		}
		r.Unsubscribed = unsub == 1
		out = append(out, r)
	}
	return out, rows.Err()
}

// ClaimSettle is how long a claim waits before reading the claims of its
// key back: longer than any node takes from seeing no claim to inserting
// its own, so that of two nodes claiming at once each sees the other's,
// and both pick the same winner.
var ClaimSettle = time.Second

// Claim tries to become the one node that sends the notification key: it
// fails (false) when the key was sent, or when a claim younger than stale
// is on it. Otherwise it records a claim, waits ClaimSettle, reads the
// key's claims back and wins when its own has the smallest ID; a claim
// not followed by Sent within stale is tried again by the next Claim.
func (db *DB) Claim(ctx context.Context, key, node string, stale time.Duration) (string, bool, error) {
	since := time.Now().UTC().Add(-stale)
	first, sent, err := db.firstClaim(ctx, key, since)
	if err != nil || sent || first != "" {
		return "", false, err
	}
	id := uuid.NewString()
	now := time.Now().UTC()
	if err := insert(ctx, db, migrations.Notifications, insertNotification, 1, func(int) []any {
		return []any{key, id, "claimed", node, now, ""}
	}); err != nil {
		return "", false, fmt.Errorf("clickhouse: claim %s: %w", key, err)
	}
	select {
	case <-ctx.Done():
		return "", false, ctx.Err()
	case <-time.After(ClaimSettle):
	}
	first, sent, err = db.firstClaim(ctx, key, since)
	if err != nil {
		return "", false, err
	}
	return id, !sent && first == id, nil
}

// firstClaim returns the winning claim of key since since (the smallest
// ID), and whether the key was sent.
func (db *DB) firstClaim(ctx context.Context, key string, since time.Time) (string, bool, error) {
	rows, err := db.conn.Query(ctx, claimsSQL, key, since)
	if err != nil {
		return "", false, fmt.Errorf("clickhouse: claims of %s: %w", key, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, state string
		var at time.Time
		if err := rows.Scan(&id, &state, &at); err != nil {
			return "", false, err
		}
		if state == "sent" {
			return "", true, nil
		}
		return id, false, nil
	}
	return "", false, rows.Err()
}

// Sent records that the notification key went out under claim id.
func (db *DB) Sent(ctx context.Context, key, claimID, node, detail string) error {
	now := time.Now().UTC()
	return insert(ctx, db, migrations.Notifications, insertNotification, 1, func(int) []any {
		return []any{key, claimID, "sent", node, now, detail}
	})
}

// LastSent returns, for every sent key starting with prefix, when it was
// sent.
func (db *DB) LastSent(ctx context.Context, prefix string) (map[string]time.Time, error) {
	rows, err := db.conn.Query(ctx, lastSentSQL, prefix)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: sent notifications: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var k string
		var at time.Time
		if err := rows.Scan(&k, &at); err != nil {
			return nil, err
		}
		out[k] = at
	}
	return out, rows.Err()
}
