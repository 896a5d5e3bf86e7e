package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/model"
)

// PutSession stores a new version of a login session; one with Revoked set
// ends it on every node.
func (db *DB) PutSession(ctx context.Context, s model.Session) error {
	now := time.Now().UTC()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	return insert(ctx, db, migrations.Sessions, insertSession, 1, func(int) []any {
		return []any{s.ID, version(now), boolU8(s.Revoked), s.Email, s.SecretHash, s.CreatedAt.UTC(), s.ExpiresAt.UTC(), now}
	})
}

// Sessions returns every session that is neither revoked nor expired.
func (db *DB) Sessions(ctx context.Context) ([]model.Session, error) {
	return db.sessions(ctx, selectLiveSessions, time.Now().UTC())
}

// Session returns the newest version of one session, revoked or expired
// ones included; ok is false when there is none.
func (db *DB) Session(ctx context.Context, id string) (s model.Session, ok bool, err error) {
	list, err := db.sessions(ctx, selectSession, id)
	if err != nil || len(list) == 0 {
		return model.Session{}, false, err
	}
	return list[0], true, nil
}

// RevokeSessions ends every live session of email and returns how many
// there were.
func (db *DB) RevokeSessions(ctx context.Context, email string) (int, error) {
	live, err := db.sessions(ctx, selectUserSessions, email, time.Now().UTC())
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	err = insert(ctx, db, migrations.Sessions, insertSession, len(live), func(i int) []any {
		s := live[i]
		return []any{s.ID, version(now), uint8(1), s.Email, "", s.CreatedAt.UTC(), s.ExpiresAt.UTC(), now}
	})
	if err != nil {
		return 0, err
	}
	return len(live), nil
}

func (db *DB) sessions(ctx context.Context, query string, args ...any) ([]model.Session, error) {
	rows, err := db.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: sessions: %w", err)
	}
	defer rows.Close()
	var out []model.Session
	for rows.Next() {
		var s model.Session
		var revoked uint8
		if err := rows.Scan(&s.ID, &s.Email, &s.SecretHash, &revoked, &s.CreatedAt, &s.ExpiresAt); err != nil {
			return nil, fmt.Errorf("clickhouse: sessions: %w", err)
		}
		s.Revoked = revoked == 1
		out = append(out, s)
	}
	return out, rows.Err()
}
