package buffer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
)

// TestAppend_Concurrent appends from many goroutines at once: every record
// acknowledged reaches the sink exactly once, and a reopened log holds
// nothing more.
func TestAppend_Concurrent(t *testing.T) {
	dir := t.TempDir()
	sink := &memSink{}
	b, err := Open(Options{Dir: dir, BatchSize: 50, FlushInterval: 5 * time.Millisecond}, sink)
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, appends = 32, 100
	var wg sync.WaitGroup
	ids := make(chan uuid.UUID, goroutines*appends*3)
	at := time.Now().UTC()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < appends; i++ {
				n := 1 + i%3
				recs := make([]Record, n)
				for j := range recs {
					e := &model.Event{ID: uuid.New(), SiteID: "s", Time: at, Type: model.Pageview, Path: "/"}
					recs[j] = Record{Event: e}
				}
				if err := b.Append(recs...); err != nil {
					t.Error(err)
					return
				}
				for _, r := range recs {
					ids <- r.Event.ID
				}
			}
		}()
	}
	wg.Wait()
	close(ids)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]bool{}
	for id := range ids {
		want[id] = true
	}
	got := map[uuid.UUID]int{}
	for _, e := range sink.events {
		got[e.ID]++
	}
	if len(got) != len(want) || len(sink.events) != len(want) {
		t.Fatalf("sink has %d events (%d distinct), %d were acknowledged", len(sink.events), len(got), len(want))
	}
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("event %v written %d times", id, got[id])
		}
	}
	again, err := Open(Options{Dir: dir}, &memSink{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(context.Background())
	if again.Depth() != 0 {
		t.Fatalf("reopened log holds %d records", again.Depth())
	}
}

// TestAppend_FullAndClosed checks the limits while appends queue.
func TestAppend_FullAndClosed(t *testing.T) {
	sink := &memSink{}
	b, err := Open(Options{Dir: t.TempDir(), BatchSize: 1000, FlushInterval: time.Hour, MaxRecords: 10}, sink)
	if err != nil {
		t.Fatal(err)
	}
	ev := func() Record { return Record{Event: &model.Event{ID: uuid.New(), SiteID: "s", Time: time.Now()}} }
	if err := b.Append(ev(), ev(), ev(), ev(), ev(), ev(), ev(), ev(), ev()); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(ev(), ev()); !errors.Is(err, ErrFull) {
		t.Fatalf("append over the limit: %v", err)
	}
	if err := b.Append(ev()); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(Record{}); err == nil {
		t.Fatal("empty record appended")
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(ev()); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if len(sink.events) != 10 {
		t.Fatalf("%d events written, want 10", len(sink.events))
	}
}

// slowSink stores every batch it is given, but takes a while to answer, as a
// server does that has the rows before it acknowledges them.
type slowSink struct {
	memSink
	delay   time.Duration
	started chan struct{}
}

func (s *slowSink) InsertEvents(ctx context.Context, es []model.Event) error {
	select {
	case s.started <- struct{}{}:
	default:
	}
	s.memSink.InsertEvents(ctx, es)
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Closing while an insert is under way must not cut it off: its rows are
// already on the server, and a retry would store them twice.
func TestClose_DuringAnInsertStoresItOnce(t *testing.T) {
	sink := &slowSink{delay: 300 * time.Millisecond, started: make(chan struct{}, 1)}
	b, err := Open(Options{Dir: t.TempDir(), BatchSize: 10, FlushInterval: time.Millisecond, MaxRecords: 100}, sink)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]Record, 10)
	for i := range recs {
		recs[i] = Record{Event: &model.Event{ID: uuid.New(), SiteID: "s", Time: time.Now().UTC(), Type: model.Pageview}}
	}
	if err := b.Append(recs...); err != nil {
		t.Fatal(err)
	}
	<-sink.started
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.events); n != 10 {
		t.Fatalf("stored %d rows for 10 records", n)
	}
}
