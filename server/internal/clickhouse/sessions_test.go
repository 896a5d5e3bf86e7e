package clickhouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

func TestSessions_RevokedAndExpiredAreNotLive(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	later := now.Add(12 * time.Hour)
	for _, s := range []model.Session{
		{ID: "a1", Email: "ana@example.org", SecretHash: "h-a1", ExpiresAt: later},
		{ID: "a2", Email: "ana@example.org", SecretHash: "h-a2", ExpiresAt: later},
		{ID: "b1", Email: "bob@example.org", SecretHash: "h-b1", ExpiresAt: later},
		{ID: "old", Email: "bob@example.org", SecretHash: "h-old", ExpiresAt: now.Add(-time.Hour)},
	} {
		if err := db.PutSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutSession(ctx, model.Session{ID: "a1", Email: "ana@example.org", Revoked: true, ExpiresAt: later}); err != nil {
		t.Fatal(err)
	}
	live := liveIDs(t, db)
	if live != "a2,b1" {
		t.Fatalf("live sessions = %s, want a2,b1", live)
	}
	s, ok, err := db.Session(ctx, "a1")
	if err != nil || !ok || !s.Revoked {
		t.Fatalf("revoked session = %+v, %v, %v", s, ok, err)
	}
	s, ok, err = db.Session(ctx, "a2")
	if err != nil || !ok || s.Revoked || s.SecretHash != "h-a2" || !s.ExpiresAt.Equal(later) {
		t.Fatalf("live session = %+v, %v, %v", s, ok, err)
	}
	if _, ok, err := db.Session(ctx, "nope"); ok || err != nil {
		t.Fatalf("unknown session: %v, %v", ok, err)
	}
	if n, err := db.RevokeSessions(ctx, "ana@example.org"); err != nil || n != 1 {
		t.Fatalf("revoke ana's sessions: %d, %v", n, err)
	}
	if live := liveIDs(t, db); live != "b1" {
		t.Fatalf("after revoking ana's sessions: %s, want b1", live)
	}
}

func TestDeleteUser_RemovesLoginAndSessions(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	for _, email := range []string{"ana@example.org", "bob@example.org"} {
		if err := db.PutUser(ctx, model.User{Email: email, PasswordHash: "h", Role: "admin"}); err != nil {
			t.Fatal(err)
		}
		if err := db.PutSession(ctx, model.Session{ID: email[:3], Email: email, SecretHash: "h", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteUser(ctx, "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	users, err := db.Users(ctx)
	if err != nil || len(users) != 1 || users[0].Email != "bob@example.org" {
		t.Fatalf("users after removing ana = %+v, %v", users, err)
	}
	if live := liveIDs(t, db); live != "bob" {
		t.Fatalf("live sessions after removing ana = %s, want bob", live)
	}
}

// liveIDs lists the IDs of db's live sessions, comma-separated.
func liveIDs(t *testing.T, db *clickhouse.DB) string {
	t.Helper()
	list, err := db.Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for i, s := range list {
		if i > 0 {
			out += ","
		}
		out += s.ID
	}
	return out
}
