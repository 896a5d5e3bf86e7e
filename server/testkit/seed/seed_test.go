package seed_test

import (
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/testkit/seed"
)

func TestGenerate_ExactlyTheEventsAskedFor(t *testing.T) {
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	o := seed.Options{Site: "demo", Domain: "demo.example.com", Events: 20_000, Days: 7, End: end,
		Now: end.Add(12 * time.Hour), Seed: 1, Pages: 300, AnonymousCounting: true}
	var events, decisions, impressions int
	seed.Generate(o, 5000, func(b seed.Batch) {
		if len(b.Events) > 5000 {
			t.Errorf("batch of %d events, want at most 5000", len(b.Events))
		}
		for _, e := range b.Events {
			if e.SiteID != o.Site || e.Time.Before(end.AddDate(0, 0, -o.Days+1)) {
				t.Fatalf("event %+v not of the site or before the first day", e)
			}
		}
		events, decisions, impressions = events+len(b.Events), decisions+len(b.Decisions), impressions+len(b.Impressions)
	})
	if events != o.Events || decisions == 0 || impressions == 0 {
		t.Fatalf("%d events, %d decisions, %d impressions; want %d events and some consent rows", events, decisions, impressions, o.Events)
	}
}
