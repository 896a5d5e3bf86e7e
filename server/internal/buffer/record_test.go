package buffer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/wal"

	"github.com/crumbhq/crumb/server/internal/model"
)

// oldLogRecords are the records in testdata/wal-v1, a log written by the
// codec generated in package model before it moved to this package.
func oldLogRecords() []Record {
	at := time.Date(2026, 11, 23, 14, 5, 6, 789_000_000, time.UTC)
	id := uuid.MustParse
	return []Record{
		{Event: &model.Event{ID: id("0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"), SiteID: "site1", Time: at, Type: model.Custom,
			VisitorID: id("11111111-2222-4333-8444-555555555555"), SessionID: id("66666666-7777-4888-9999-aaaaaaaaaaaa"),
			ConsentID: id("bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"), Hostname: "example.com", Path: "/pricing",
			ReferrerHost: "www.google.com", ReferrerPath: "/search", Source: "Google", Channel: "Organic Search",
			UTMSource: "newsletter", UTMMedium: "email", UTMCampaign: "spring", UTMContent: "hero", UTMTerm: "shoes",
			Country: "DE", Region: "BE", City: "Berlin", ASN: 3320, Provider: "Deutsche Telekom AG",
			Browser: "Firefox", BrowserVersion: "133", OS: "Windows", OSVersion: "10", Device: "desktop",
			Screen: "laptop", Language: "de-DE", Name: "signup", PropKeys: []string{"plan", "seats"},
			PropValues: []string{"pro", "5"}, SearchTerm: "red shoes", LinkURL: "https://x.org/a", DurationMS: 1500, Status: 404}},
		{Event: &model.Event{ID: id("0c6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"), SiteID: "site1", Time: at, Type: model.Pageview, Path: "/"}},
		{Decision: &model.Decision{ID: id("1b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"), SiteID: "site1", Time: at,
			ConsentID: id("2b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"), PolicyVersion: 3, TextsHash: "9f86d081884c7d65",
			Action: model.Customize, Granted: model.Categories{Performance: true, Targeting: true}, GPC: true,
			Path: "/", Language: "fr", Country: "FR", Device: "mobile"}},
		{Impression: &model.Impression{ID: id("3b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"), SiteID: "site1", Time: at,
			PolicyVersion: 2, Path: "/shop", Language: "en-GB", Country: "GB", Device: "tablet", GPC: true,
			UndeclaredCookies: []string{"_ga", "_fbp"}}},
	}
}

// copyOldLog copies testdata/wal-v1 into a fresh folder.
func copyOldLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/wal-v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata/wal-v1", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRecord_ReadsOldLog checks that a log written before the codec moved
// here decodes to the records it was written from, and that today's encoder
// writes the same bytes.
func TestRecord_ReadsOldLog(t *testing.T) {
	l, err := wal.Open(copyOldLog(t), &wal.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := oldLogRecords()
	if last, _ := l.LastIndex(); last != uint64(len(want)) {
		t.Fatalf("old log holds %d entries, want %d", last, len(want))
	}
	for i, r := range want {
		old, err := l.Read(uint64(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		var got Record
		if err := got.decode(old); err != nil {
			t.Fatalf("entry %d: %v", i+1, err)
		}
		if g, w := normalized(recordValue(got)), normalized(recordValue(r)); !reflect.DeepEqual(g, w) {
			t.Errorf("entry %d decodes to\n%+v\nwant\n%+v", i+1, g, w)
		}
		now, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(now, old) {
			t.Errorf("entry %d: today's encoding differs from the old log's\n got %x\nwant %x", i+1, now, old)
		}
		if n := r.msgsize(); len(now) > 1+n {
			t.Errorf("entry %d: %d bytes, over the size bound %d", i+1, len(now), 1+n)
		}
	}
}

// TestBuffer_ReplaysOldLog replays the old log through the buffer.
func TestBuffer_ReplaysOldLog(t *testing.T) {
	sink := &memSink{}
	b, err := Open(Options{Dir: copyOldLog(t)}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if b.Depth() != 4 {
		t.Fatalf("replayed depth = %d, want 4", b.Depth())
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := oldLogRecords()
	var got []any
	for _, e := range sink.events {
		got = append(got, normalized(e))
	}
	for _, d := range sink.decisions {
		got = append(got, normalized(d))
	}
	for _, im := range sink.impressions {
		got = append(got, normalized(im))
	}
	for i, r := range want {
		if i >= len(got) || !reflect.DeepEqual(got[i], normalized(recordValue(r))) {
			t.Fatalf("replay wrote\n%+v\nwant the records of\n%+v", got, want)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("replay wrote %d records, want %d", len(got), len(want))
	}
}

func recordValue(r Record) any {
	switch {
	case r.Event != nil:
		return *r.Event
	case r.Decision != nil:
		return *r.Decision
	case r.Impression != nil:
		return *r.Impression
	}
	return nil
}

// normalized returns a record's value with its time in UTC and empty
// slices as nil: MessagePack keeps the instant, not the location, and
// decodes an empty array as an empty slice.
func normalized(v any) any {
	norm := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	switch v := v.(type) {
	case model.Event:
		v.Time = v.Time.UTC()
		v.PropKeys, v.PropValues = norm(v.PropKeys), norm(v.PropValues)
		return v
	case model.Decision:
		v.Time = v.Time.UTC()
		return v
	case model.Impression:
		v.Time = v.Time.UTC()
		v.UndeclaredCookies = norm(v.UndeclaredCookies)
		return v
	}
	return v
}

// memSink keeps what it is given.
type memSink struct {
	mu          sync.Mutex
	events      []model.Event
	decisions   []model.Decision
	erasures    []model.Erasure
	impressions []model.Impression
}

func (s *memSink) InsertEvents(_ context.Context, es []model.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, es...)
	return nil
}

func (s *memSink) InsertDecisions(_ context.Context, ds []model.Decision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decisions = append(s.decisions, ds...)
	return nil
}

func (s *memSink) InsertImpressions(_ context.Context, ims []model.Impression) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.impressions = append(s.impressions, ims...)
	return nil
}

func (s *memSink) Erase(_ context.Context, es []model.Erasure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.erasures = append(s.erasures, es...)
	return nil
}

func (s *memSink) ExistingEventIDs(context.Context, []string, time.Time, time.Time, []uuid.UUID) (map[uuid.UUID]bool, error) {
	return nil, nil
}

func (s *memSink) ExistingDecisionIDs(context.Context, []string, time.Time, time.Time, []uuid.UUID) (map[uuid.UUID]bool, error) {
	return nil, nil
}

func (s *memSink) ExistingImpressionIDs(context.Context, []string, time.Time, time.Time, []uuid.UUID) (map[uuid.UUID]bool, error) {
	return nil, nil
}
