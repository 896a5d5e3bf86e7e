package clickhouse_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chrecord"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// TestRecord_ForCurrentClickHouse records, for server/testkit/chcompat, every
// statement this package sends on one server: the migrations as the
// migrator runs them, the writer's batch inserts and duplicate checks, the
// configuration reads (FINAL), the privacy export reads, retention and
// erasure mutations, and then every table's contents. It runs only with
// CRUMB_CHCOMPAT_DIR set.
func TestRecord_ForCurrentClickHouse(t *testing.T) {
	chrecord.Skip(t)
	ctx := context.Background()
	db, err := clickhouse.Open(ctx, fmt.Sprintf("%s/crumb_chcompat_%d", chtest.Server(t), os.Getpid()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.DropDatabase(context.Background())
		db.Close()
	})
	r := chrecord.New(t, db)
	clickhouse.WrapConn(db, r.Conn)

	r.Part("migrations")
	migs, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, migs); err != nil {
		t.Fatal(err)
	}

	r.Part("inserts")
	f := reporttest.Load(t, db)
	old := time.Date(2026, 1, 20, 9, 30, 0, 0, time.UTC)
	visitor, other := uuid.NewSHA1(uuid.NameSpaceURL, []byte("crumb-chcompat-visitor")), uuid.NewSHA1(uuid.NameSpaceURL, []byte("crumb-chcompat-other"))
	extra := []model.Event{
		{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("e1")), SiteID: reporttest.Site, Time: old, Type: model.Pageview, VisitorID: visitor, SessionID: visitor, Path: "/january"},
		{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("e2")), SiteID: "other", Time: old, Type: model.Pageview, VisitorID: other, SessionID: other, Path: "/o'ther\\"},
		{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte("e3")), SiteID: "other", Time: reporttest.Now, Type: model.Custom, VisitorID: other, SessionID: other,
			Name: "signup", PropKeys: []string{"plan"}, PropValues: []string{"pro"}},
	}
	if err := db.InsertEvents(ctx, extra); err != nil {
		t.Fatal(err)
	}
	site := model.NewSite("other", "other.test", "Other", old)
	for _, put := range []func() error{
		func() error { return db.PutSite(ctx, site) },
		func() error { site.Name = "Other, renamed"; return db.PutSite(ctx, site) },
		func() error { return db.PutSite(ctx, model.NewSite("gone", "gone.test", "Gone", old)) },
		func() error { return db.DeleteSite(ctx, model.NewSite("gone", "gone.test", "Gone", old)) },
		func() error {
			return db.PutUser(ctx, model.User{Email: "a@x.test", PasswordHash: "h1", Role: "admin", CreatedAt: old})
		},
		func() error {
			return db.PutUser(ctx, model.User{Email: "a@x.test", PasswordHash: "h2", Role: "viewer", SiteRoles: map[string]string{"fx": "editor"}, CreatedAt: old})
		},
		func() error {
			return db.PutToken(ctx, model.Token{ID: "t1", Hash: "th", Name: "ci", CreatedAt: old})
		},
		func() error {
			return db.PutToken(ctx, model.Token{ID: "t1", Hash: "th", Name: "ci", Revoked: true, CreatedAt: old})
		},
		func() error {
			return db.PutShareLink(ctx, model.ShareLink{ID: "s1", SiteID: "fx", Name: "public", CreatedAt: old})
		},
		func() error {
			return db.PutShareLink(ctx, model.ShareLink{ID: "s1", SiteID: "fx", Name: "public", Revoked: true, CreatedAt: old})
		},
		func() error {
			return db.PutSession(ctx, model.Session{ID: "ss1", Email: "a@x.test", SecretHash: "sh1", CreatedAt: old, ExpiresAt: old.Add(12 * time.Hour)})
		},
		func() error {
			return db.PutSession(ctx, model.Session{ID: "ss2", Email: "a@x.test", SecretHash: "sh2", CreatedAt: old, ExpiresAt: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
		},
		func() error {
			return db.PutSession(ctx, model.Session{ID: "ss3", Email: "b@x.test", SecretHash: "sh3", CreatedAt: old, ExpiresAt: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
		},
		func() error { _, err := db.RevokeSessions(ctx, "b@x.test"); return err },
		func() error {
			return db.PutUser(ctx, model.User{Email: "gone@x.test", PasswordHash: "h3", Role: "viewer", CreatedAt: old})
		},
		func() error { return db.DeleteUser(ctx, "gone@x.test") },
	} {
		if err := put(); err != nil {
			t.Fatal(err)
		}
	}

	v1 := f.IDs[0] // visitor V1, whose consent ID is f.Consent1
	unknown := uuid.NewSHA1(uuid.NameSpaceURL, []byte("never stored"))
	reads := func() {
		if _, err := db.Sites(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Users(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Tokens(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ShareLinks(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Sessions(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"ss1", "ss3", "never"} {
			if _, _, err := db.Session(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.VisitorEvents(ctx, reporttest.Site, v1, 1000); err != nil {
			t.Fatal(err)
		}
		ids, err := db.VisitorConsentIDs(ctx, reporttest.Site, v1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ConsentDecisions(ctx, reporttest.Site, append(ids, f.Consent1)); err != nil {
			t.Fatal(err)
		}
		sites := []string{reporttest.Site, "other"}
		for _, check := range []func(context.Context, []string, time.Time, time.Time, []uuid.UUID) (map[uuid.UUID]bool, error){
			db.ExistingEventIDs, db.ExistingDecisionIDs, db.ExistingImpressionIDs,
		} {
			if _, err := check(ctx, sites, old, reporttest.Now, append([]uuid.UUID{unknown, extra[0].ID, extra[2].ID}, f.IDs...)); err != nil {
				t.Fatal(err)
			}
		}
	}
	contents := func() {
		for _, table := range []string{"schema_migrations", "sites", "users", "api_tokens", "share_links", "sessions", "events", "consent_decisions", "consent_impressions"} {
			r.Query("SELECT * FROM " + table)
		}
		for _, table := range []string{"report_totals", "report_daily", "report_dims", "report_consent_decisions", "report_consent_impressions"} {
			r.Query("SELECT DISTINCT site_id, date FROM " + table)
		}
		r.Query("SELECT site_id, date, visitors, visits, events FROM report_day_visitors ORDER BY site_id, date, sealed_ms")
		r.Query("SELECT site_id, date, consents, decisions FROM report_day_consents ORDER BY site_id, date, sealed_ms")
		r.Query("SELECT site_id, date, days, events, finalizeAggregation(visitors_est), pageviews FROM report_daily_window ORDER BY site_id, date, days, sealed_ms")
		r.Query("SELECT site_id, date, days, dim, value, finalizeAggregation(visitors_k), finalizeAggregation(visitors_est), pageviews FROM report_dims_window ORDER BY site_id, date, days, sealed_ms, dim, value")
		r.Query("SELECT site_id, visitor_id, date, consent_id, sum(events) FROM visitor_index GROUP BY site_id, visitor_id, date, consent_id ORDER BY site_id, visitor_id, date, consent_id")
		r.Query("SELECT site_id, consent_id, date, sum(decisions) FROM consent_index GROUP BY site_id, consent_id, date ORDER BY site_id, consent_id, date")
	}
	r.Part("reads")
	reads()
	r.Part("seal")
	if _, err := db.SealDays(ctx, reporttest.Site, reporttest.PrevFrom, reporttest.To); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SealWindows(ctx, reporttest.Site, []clickhouse.Window{{End: reporttest.To.AddDate(0, 0, -1), Days: 2}, {End: reporttest.PrevTo, Days: 3}}); err != nil {
		t.Fatal(err)
	}
	r.Part("contents")
	contents()

	r.Part("retention")
	if _, err := db.EnforceRetention(ctx, reporttest.Site, reporttest.From, reporttest.From.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	r.Part("erasure")
	if err := db.Erase(ctx, []model.Erasure{{ID: uuid.New(), SiteID: reporttest.Site, VisitorID: v1, ConsentIDs: []uuid.UUID{f.Consent1}}}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PendingMutations(ctx); err != nil || n != 0 {
		t.Fatalf("pending mutations: %d, %v", n, err)
	}
	r.Part("reads after retention and erasure")
	reads()
	r.Part("contents after retention and erasure")
	contents()
	// Cluster mode's DDL needs ZooKeeper, which chDB has not: current
	// ClickHouse parses each statement (formatQuery), 18.16 runs them in
	// server/internal/chcluster and server/e2e.
	r.Part("cluster DDL, parsed")
	for _, m := range migs {
		stmts, err := m.Statements(migrations.Target{Cluster: "crumb_cluster", Database: "crumb"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			lit, err := chrecord.Literal(s)
			if err != nil {
				t.Fatal(err)
			}
			r.Exec("SELECT formatQuery(" + lit + ") FORMAT Null")
		}
	}

	r.Write("clickhouse")
}
