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
