package buffer_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func events(n int, site string) []buffer.Record {
	now := time.Now().UTC().Truncate(time.Second)
	out := make([]buffer.Record, n)
	for i := range out {
		out[i] = buffer.Record{Event: &model.Event{ID: uuid.New(), SiteID: site, Time: now, Type: model.Pageview, Path: "/p"}}
	}
	return out
}

func count(t *testing.T, db *clickhouse.DB, table string) (total, distinct uint64) {
	t.Helper()
	id := map[string]string{"events": "event_id", "consent_decisions": "decision_id", "consent_impressions": "impression_id"}[table]
	if err := db.Conn().QueryRow(context.Background(), "SELECT count(), uniqExact("+id+") FROM "+table).Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	return total, distinct
}

func TestBuffer_WritesAllKindsInBatches(t *testing.T) {
	db := chtest.DB(t)
	b, err := buffer.Open(buffer.Options{Dir: t.TempDir(), BatchSize: 100, FlushInterval: 50 * time.Millisecond}, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := b.Append(events(250, "s1")...); err != nil {
		t.Fatal(err)
	}
	err = b.Append(
		buffer.Record{Decision: &model.Decision{ID: uuid.New(), SiteID: "s1", Time: now, ConsentID: uuid.New(), PolicyVersion: 1, Action: model.RejectAll}},
		buffer.Record{Impression: &model.Impression{ID: uuid.New(), SiteID: "s1", Time: now, PolicyVersion: 1, UndeclaredCookies: []string{"_ga"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Depth() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]uint64{"events": 250, "consent_decisions": 1, "consent_impressions": 1} {
		if n, _ := count(t, db, table); n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
}

// flakySink lands inserts but reports failure for the first ones, as a
// timeout after the server committed would.
type flakySink struct {
	*clickhouse.DB
	failures atomic.Int32
	down     atomic.Bool
}

func (s *flakySink) InsertEvents(ctx context.Context, es []model.Event) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	if err := s.DB.InsertEvents(ctx, es); err != nil {
		return err
	}
	if s.failures.Add(-1) >= 0 {
		return errors.New("read timeout")
	}
	return nil
}

func TestBuffer_RetryAfterAmbiguousFailureWritesOnce(t *testing.T) {
	db := chtest.DB(t)
	sink := &flakySink{DB: db}
	sink.failures.Store(2)
	b, err := buffer.Open(buffer.Options{Dir: t.TempDir(), BatchSize: 50, FlushInterval: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(events(120, "s1")...); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, d := count(t, db, "events"); n != 120 || d != 120 {
		t.Fatalf("events = %d (%d distinct), want 120 once each", n, d)
	}
}

func TestBuffer_ReplaysAfterCrash(t *testing.T) {
	db := chtest.DB(t)
	dir := t.TempDir()
	sink := &flakySink{DB: db}
	sink.down.Store(true)
	a, err := buffer.Open(buffer.Options{Dir: dir, BatchSize: 10, FlushInterval: 10 * time.Millisecond}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append(events(35, "s1")...); err != nil {
		t.Fatal(err)
	}
	if _, err := buffer.Open(buffer.Options{Dir: dir}, db); err == nil {
		t.Fatal("a second buffer opened a log in use")
	}
	// ClickHouse stays down until the process stops: the records stay in
	// the log for the next start.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := a.Close(ctx); err == nil {
		t.Fatal("close with ClickHouse down reported success")
	}
	b, err := buffer.Open(buffer.Options{Dir: dir, BatchSize: 10, FlushInterval: 10 * time.Millisecond}, db)
	if err != nil {
		t.Fatal(err)
	}
	if b.Depth() != 35 {
		t.Fatalf("replayed depth = %d, want 35", b.Depth())
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, d := count(t, db, "events"); n != 35 || d != 35 {
		t.Fatalf("events = %d (%d distinct), want 35", n, d)
	}
	// A third start finds nothing to replay.
	c, err := buffer.Open(buffer.Options{Dir: dir}, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if c.Depth() != 0 {
		t.Fatalf("depth after clean close = %d", c.Depth())
	}
}

func TestBuffer_FullAndOutage(t *testing.T) {
	db := chtest.DB(t)
	srv := chtest.LocalServer(t)
	if srv == nil {
		t.Skip("outage test needs the local test server")
	}
	b, err := buffer.Open(buffer.Options{Dir: t.TempDir(), BatchSize: 20, FlushInterval: 20 * time.Millisecond, MaxRecords: 100, RetryMax: 100 * time.Millisecond}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(events(90, "s1")...); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(events(11, "s1")...); !errors.Is(err, buffer.ErrFull) {
		t.Fatalf("append over the limit: %v, want ErrFull", err)
	}
	if !b.Full() && b.Depth() != 90 {
		t.Fatalf("depth = %d", b.Depth())
	}
	time.Sleep(300 * time.Millisecond) // inserts fail meanwhile
	if err := srv.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n, d := count(t, db, "events"); n != 90 || d != 90 {
		t.Fatalf("events = %d (%d distinct), want 90", n, d)
	}
}

func TestRecord_RoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	recs := []buffer.Record{
		{Event: &model.Event{ID: uuid.New(), SiteID: "s", Time: now, Type: model.Custom, VisitorID: uuid.New(), Name: "signup",
			PropKeys: []string{"plan"}, PropValues: []string{"pro"}, Country: "DE", ASN: 3320, DurationMS: 5, Status: 404}},
		{Decision: &model.Decision{ID: uuid.New(), SiteID: "s", Time: now, ConsentID: uuid.New(), PolicyVersion: 2,
			Action: model.Customize, Granted: model.Categories{Performance: true}, GPC: true}},
		{Impression: &model.Impression{ID: uuid.New(), SiteID: "s", Time: now, UndeclaredCookies: []string{"_ga"}}},
	}
	for _, r := range recs {
		data, err := buffer.EncodeForTest(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := buffer.DecodeForTest(data)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v %+v %+v", derefE(got.Event), derefD(got.Decision), derefI(got.Impression)) !=
			fmt.Sprintf("%+v %+v %+v", derefE(r.Event), derefD(r.Decision), derefI(r.Impression)) {
			t.Fatalf("round trip changed the record:\n got %+v\nwant %+v", got, r)
		}
	}
	if _, err := buffer.DecodeForTest([]byte("x")); err == nil {
		t.Fatal("unknown kind decoded")
	}
}

func derefE(e *model.Event) model.Event {
	if e == nil {
		return model.Event{}
	}
	return *e
}

func derefD(d *model.Decision) model.Decision {
	if d == nil {
		return model.Decision{}
	}
	return *d
}

func derefI(i *model.Impression) model.Impression {
	if i == nil {
		return model.Impression{}
	}
	return *i
}

// TestBuffer_StoresEveryField writes events with every field set through the
// buffer and reads them back from ClickHouse.
func TestBuffer_StoresEveryField(t *testing.T) {
	db := chtest.DB(t)
	b, err := buffer.Open(buffer.Options{Dir: t.TempDir(), BatchSize: 10, FlushInterval: 10 * time.Millisecond}, db)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	visitor := uuid.New()
	full := model.Event{ID: uuid.New(), SiteID: "s1", Time: at, Type: model.Custom, VisitorID: visitor, SessionID: uuid.New(),
		ConsentID: uuid.New(), Hostname: "example.com", Path: "/pricing", ReferrerHost: "google.com", ReferrerPath: "/search",
		Source: "Google", Channel: "Organic Search", UTMSource: "news", UTMMedium: "email", UTMCampaign: "spring",
		UTMContent: "hero", UTMTerm: "shoes", Country: "DE", Region: "Berlin", City: "Berlin", ASN: 3320,
		Provider: "Deutsche Telekom AG", Browser: "Firefox", BrowserVersion: "133", OS: "Windows", OSVersion: "10",
		Device: "desktop", Screen: "laptop", Language: "de-DE", Name: "signup", PropKeys: []string{"plan", "seats"},
		PropValues: []string{"pro", "5"}, SearchTerm: "red shoes", LinkURL: "https://x.org/a", DurationMS: 1500, Status: 404}
	var recs []buffer.Record
	for i, typ := range []model.EventType{model.Pageview, model.Engagement, model.Search, model.Outbound, model.Download, model.Custom, model.Error} {
		e := full
		e.ID, e.Type, e.Time = uuid.New(), typ, at.Add(-time.Duration(i)*time.Second)
		if typ != model.Custom {
			e.Name, e.PropKeys, e.PropValues = "", nil, nil
		}
		recs = append(recs, buffer.Record{Event: &e})
	}
	if err := b.Append(recs...); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := db.VisitorEvents(context.Background(), "s1", visitor, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d events stored, want %d", len(got), len(recs))
	}
	for i, r := range recs { // newest first
		want, g := *r.Event, got[i]
		if len(want.PropKeys) == 0 {
			want.PropKeys, want.PropValues = []string{}, []string{}
		}
		g.Time = g.Time.UTC()
		if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", want) {
			t.Errorf("stored\n%+v\nwant\n%+v", g, want)
		}
	}
}
