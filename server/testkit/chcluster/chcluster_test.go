package chcluster_test

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
	"github.com/crumbhq/crumb/server/testkit/chcluster"
)

// TestCluster_StorageLayer migrates a 2 × 2 cluster and checks that events
// written through two different servers are split across the shards,
// replicated within them, pre-aggregated once, erased everywhere, and still
// written and read with one replica down.
func TestCluster_StorageLayer(t *testing.T) {
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Skip("needs Debian's zookeeper package")
	}
	ctx := context.Background()
	start := time.Now()
	c, err := chcluster.Start(ctx, chcluster.Options{Dir: testDir(t), Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))

	open := func(first int) *clickhouse.DB {
		db, err := clickhouse.Open(ctx, c.URL("crumb", first), nil, clickhouse.WithCluster(c.Name()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := open(0) // shard 1 replica 1 first
	migs, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := a.Migrate(ctx, migs); err != nil {
		t.Fatal(err)
	}
	t.Logf("migrated in %v", time.Since(start).Round(time.Millisecond))
	b := open(2) // shard 2 replica 1 first
	if st, err := b.MigrationState(ctx); err != nil || st.Version != migs[len(migs)-1].Version {
		t.Fatalf("state seen from another server: %+v, %v", st, err)
	}

	site := model.NewSite("clus01", "example.com", "Example", time.Now())
	if err := a.PutSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	events := func(prefix string, n int) []model.Event {
		out := make([]model.Event, n)
		for i := range out {
			v := uuid.New()
			out[i] = model.Event{ID: uuid.New(), SiteID: site.ID, Time: time.Now().UTC(), Type: model.Pageview,
				VisitorID: v, SessionID: uuid.New(), Path: fmt.Sprintf("/%s/%d", prefix, i)}
		}
		return out
	}
	first := events("a", 200)
	if err := a.InsertEvents(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := b.InsertEvents(ctx, events("b", 200)); err != nil {
		t.Fatal(err)
	}
	count := func(db *clickhouse.DB, q string) uint64 {
		t.Helper()
		var n uint64
		if err := db.Conn().QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	// Reads pick any replica of each shard: a replica that did not
	// receive an insert shows it once it has fetched the part.
	waitCount := func(db *clickhouse.DB, q string, want uint64) {
		t.Helper()
		var n uint64
		deadline := time.Now().Add(20 * time.Second)
		for n = count(db, q); n != want; n = count(db, q) {
			if time.Now().After(deadline) {
				t.Fatalf("%s = %d, want %d", q, n, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitCount(b, "SELECT count() FROM events", 400)
	waitCount(a, "SELECT sum(pageviews) FROM report_daily", 400)
	shard1 := count(a, "SELECT count() FROM events_local")
	if shard1 == 0 || shard1 == 400 {
		t.Fatalf("shard 1 holds %d of 400 events: not split across shards", shard1)
	}
	// Replication: the other replica of shard 1 catches up.
	replica, err := clickhouse.Open(ctx, c.Server(0, 1).URL("crumb"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	waitFor(t, 20*time.Second, func() bool { return count(replica, "SELECT count() FROM events_local") == shard1 })
	waitFor(t, 20*time.Second, func() bool {
		sites, err := replica.Sites(ctx)
		return err == nil && len(sites) == 1
	})

	t.Logf("written and replicated at %v", time.Since(start).Round(time.Millisecond))
	// Erasure reaches the shard that holds the visitor.
	if err := b.Erase(ctx, []model.Erasure{{ID: uuid.New(), SiteID: site.ID, VisitorID: first[0].VisitorID}}); err != nil {
		t.Fatal(err)
	}
	waitCount(a, "SELECT count() FROM events", 399)
	// The pre-aggregated rows of the erased visitor's day are rebuilt
	// without it.
	waitCount(a, "SELECT sum(pageviews) FROM report_daily", 399)

	t.Logf("erased at %v", time.Since(start).Round(time.Millisecond))
	// One replica down: writes and reads go on through the others.
	if err := c.Server(0, 0).Crash(); err != nil {
		t.Fatal(err)
	}
	if err := a.InsertEvents(ctx, events("c", 100)); err != nil {
		// The pool's connections to the stopped server fail once; the
		// buffer retries a batch, and so does this test.
		if err := a.InsertEvents(ctx, events("c", 100)); err != nil {
			t.Fatal(err)
		}
	}
	waitCount(b, "SELECT count() FROM events", 499)
	waitCount(b, "SELECT sum(pageviews) FROM report_daily", 499)
	t.Logf("replica down checked at %v", time.Since(start).Round(time.Millisecond))

	// An erasure with a server down is queued for it and applied by the
	// others at once, consent records included.
	consentID := uuid.New()
	if err := b.InsertDecisions(ctx, []model.Decision{{ID: uuid.New(), SiteID: site.ID, Time: time.Now().UTC(),
		ConsentID: consentID, PolicyVersion: 1, Action: model.AcceptAll}}); err != nil {
		t.Fatal(err)
	}
	waitCount(b, "SELECT count() FROM consent_decisions", 1)
	if err := b.Erase(ctx, []model.Erasure{{ID: uuid.New(), SiteID: site.ID, VisitorID: first[1].VisitorID, ConsentIDs: []uuid.UUID{consentID}}}); err != nil {
		t.Fatal(err)
	}
	waitCount(b, "SELECT count() FROM events", 498)
	waitCount(b, "SELECT count() FROM consent_decisions", 0)
	t.Logf("erased with a replica down at %v", time.Since(start).Round(time.Millisecond))
}

func waitFor(t *testing.T, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not so within %v", within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testDir is a temporary folder, or CRUMB_CLUSTER_TEST_DIR kept for a look
// at the servers' logs.
func testDir(t *testing.T) string {
	if d := os.Getenv("CRUMB_CLUSTER_TEST_DIR"); d != "" {
		os.RemoveAll(d)
		return d
	}
	return t.TempDir()
}
