package clickhouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestMigrate_IsIdempotent(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	migs, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(ctx, migs)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second run applied %v, want nothing", applied)
	}
	st, err := db.MigrationState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != migs[len(migs)-1].Version || st.Dirty {
		t.Fatalf("state = %+v, want version %d clean", st, migs[len(migs)-1].Version)
	}
}

func TestMigrate_RefusesDirtyState(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	bad := []migrations.Migration{{Version: 9999, Name: "broken", SQL: "CREATE TABLE nope (x UInt8) ENGINE = NoSuchEngine;\n"}}
	if _, err := db.Migrate(ctx, bad); err == nil {
		t.Fatal("broken migration succeeded")
	}
	if _, err := db.Migrate(ctx, bad); err == nil {
		t.Fatal("dirty state not refused")
	}
	if err := db.ForceMigration(ctx, 9999); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, bad); err != nil {
		t.Fatalf("after force: %v", err)
	}
}

func TestSites_NewestVersionWins(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	s := model.NewSite("abc123", "example.com", "Example", time.Now())
	if err := db.PutSite(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.PolicyVersion = 2
	s.ExtraDomains = []string{"example.org"}
	s.Banner.PolicyURL = "https://example.com/privacy"
	if err := db.PutSite(ctx, s); err != nil {
		t.Fatal(err)
	}
	sites, err := db.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].PolicyVersion != 2 || sites[0].ExtraDomains[0] != "example.org" || sites[0].Banner.PolicyURL == "" {
		t.Fatalf("sites = %+v", sites)
	}
}

func TestInsertEvents_ExistingIDsAndVisitorData(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	visitor, consentID := uuid.New(), uuid.New()
	events := []model.Event{
		{ID: uuid.New(), SiteID: "s1", Time: now, Type: model.Pageview, VisitorID: visitor, SessionID: uuid.New(), ConsentID: consentID, Path: "/a", Country: "DE"},
		{ID: uuid.New(), SiteID: "s1", Time: now, Type: model.Custom, VisitorID: visitor, ConsentID: consentID, Path: "/a", Name: "signup", PropKeys: []string{"plan"}, PropValues: []string{"pro"}},
		{ID: uuid.New(), SiteID: "s1", Time: now, Type: model.Pageview, Path: "/anon"},
	}
	if err := db.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	other := uuid.New()
	found, err := db.ExistingEventIDs(ctx, []string{"s1"}, now, now, []uuid.UUID{events[0].ID, other, events[2].ID})
	if err != nil {
		t.Fatal(err)
	}
	if !found[events[0].ID] || !found[events[2].ID] || found[other] {
		t.Fatalf("found = %v", found)
	}
	got, err := db.VisitorEvents(ctx, "s1", visitor, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("visitor events = %d, want 2", len(got))
	}
	for _, e := range got {
		if e.Type == model.Custom && (e.Name != "signup" || e.PropValues[0] != "pro") {
			t.Fatalf("custom event = %+v", e)
		}
	}
	d := model.Decision{ID: uuid.New(), SiteID: "s1", Time: now, ConsentID: consentID, PolicyVersion: 1, Action: model.AcceptAll,
		Granted: model.Categories{Performance: true, Functionality: true, Targeting: true}}
	if err := db.InsertDecisions(ctx, []model.Decision{d}); err != nil {
		t.Fatal(err)
	}
	ids, err := db.VisitorConsentIDs(ctx, "s1", visitor)
	if err != nil || len(ids) != 1 || ids[0] != consentID {
		t.Fatalf("consent ids = %v, %v", ids, err)
	}
	ds, err := db.ConsentDecisions(ctx, "s1", ids)
	if err != nil || len(ds) != 1 || ds[0].Action != model.AcceptAll || !ds[0].Granted.Targeting {
		t.Fatalf("decisions = %+v, %v", ds, err)
	}
	if err := db.Erase(ctx, []model.Erasure{{ID: uuid.New(), SiteID: "s1", Time: now, VisitorID: visitor}}); err != nil {
		t.Fatal(err)
	}
	waitMutations(t, db)
	got, _ = db.VisitorEvents(ctx, "s1", visitor, 100)
	ds, _ = db.ConsentDecisions(ctx, "s1", ids)
	if len(got) != 0 || len(ds) != 0 {
		t.Fatalf("after erase: %d events, %d decisions", len(got), len(ds))
	}
	found, _ = db.ExistingEventIDs(ctx, []string{"s1"}, now, now, []uuid.UUID{events[2].ID})
	if !found[events[2].ID] {
		t.Fatal("erasure removed another visitor's event")
	}
}

func TestEnforceRetention(t *testing.T) {
	db := chtest.DB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	old := now.AddDate(-3, 0, 0)
	events := []model.Event{
		{ID: uuid.New(), SiteID: "s1", Time: old, Type: model.Pageview, Path: "/old"},
		{ID: uuid.New(), SiteID: "s1", Time: now, Type: model.Pageview, Path: "/new"},
		{ID: uuid.New(), SiteID: "s2", Time: old, Type: model.Pageview, Path: "/other-site"},
	}
	if err := db.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	n, err := db.EnforceRetention(ctx, "s1", now.AddDate(0, -25, 0), now.AddDate(0, -36, 0))
	// events and the three pre-aggregated traffic tables its views fill.
	if err != nil || n != 4 {
		t.Fatalf("mutations = %d, %v", n, err)
	}
	waitMutations(t, db)
	var stale uint64
	if err := db.Conn().QueryRow(ctx, "SELECT count() FROM report_totals WHERE site_id = 's1' AND date < today() - 800").Scan(&stale); err != nil || stale != 0 {
		t.Fatalf("pre-aggregated rows past retention: %d, %v", stale, err)
	}
	found, _ := db.ExistingEventIDs(ctx, []string{"s1", "s2"}, old, now, []uuid.UUID{events[0].ID, events[1].ID, events[2].ID})
	if found[events[0].ID] || !found[events[1].ID] || !found[events[2].ID] {
		t.Fatalf("after retention: %v", found)
	}
}

func waitMutations(t *testing.T, db *clickhouse.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n, err := db.PendingMutations(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("mutations still pending after 30 s")
}
