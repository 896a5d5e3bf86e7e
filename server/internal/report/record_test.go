package report

import (
	"context"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/testkit/chrecord"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// TestRecord_ForCurrentClickHouse records, for server/testkit/chcompat, the
// migrations, the fixture's rows and every statement the report layer
// makes, with its answer on the test server. It runs only with
// CRUMB_CHCOMPAT_DIR set.
func TestRecord_ForCurrentClickHouse(t *testing.T) {
	chrecord.Skip(t)
	conn := chtest.DB(t)
	r := chrecord.New(t, conn)
	r.Migrations()
	f := reporttest.Load(t, conn)
	r.Part("fixture")
	r.Rows("sites", "events", "consent_decisions", "consent_impressions")
	r.Part("dashboard")
	svc := New(conn.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }})
	svc.trace = func(sql string, args []any) {
		s, err := chrecord.Render(sql, args...)
		if err != nil {
			t.Errorf("render: %v", err)
			return
		}
		r.Query(s)
	}
	// Four at a time: half of each job's time is waiting for the server.
	runJobs(t, everyQuery(context.Background(), svc, f), 4)
	sampled := New(conn.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }, SessionSampleEvents: 1, MinEstimated: 1})
	sampled.trace = svc.trace
	runJobs(t, everyQuery(context.Background(), sampled, f)[:60], 4)
	// Large ranges: the sketches, the sealed windows and the exact
	// recounts beside them. The windows are sealed through a recorded
	// connection, so that current ClickHouse seals its own.
	r.Part("windows")
	sealer, err := clickhouse.Open(context.Background(), chtest.Server(t)+"/"+conn.Database(), nil, clickhouse.WithConnWrapper(r.Conn))
	if err != nil {
		t.Fatal(err)
	}
	defer sealer.Close()
	sealFixture(t, sealer)
	r.Part("dashboard")
	estimated := New(conn.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }, ExactEvents: 1, ExactCount: 2, ExactRowEvents: 1})
	estimated.trace = svc.trace
	runJobs(t, everyQuery(context.Background(), estimated, f), 4)
	r.Write("report")
}
