// Package seed generates realistic traffic for one site, at any size, for
// measuring Crumb on a machine: visitors who see the consent banner and
// decide, sessions with several page views, engagement, referrers and UTM
// campaigns, countries, devices, site search, outbound links, downloads,
// custom events with properties, error pages and anonymous page views. The
// same seed gives the same data. It is test support, not part of the
// product; crumb-dev seed runs it.
package seed

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
)

// Options shape the generated traffic.
type Options struct {
	Site, Domain string
	Events       int       // events rows to generate, exactly
	Days         int       // days of traffic, ending on End
	End          time.Time // the last day; its traffic stops at Now when it is today
	Now          time.Time
	Seed         uint64
	Pages        int
	// AnonymousCounting stores the page views of visitors without
	// performance consent with the zero UUID, as a site with anonymous
	// counting does.
	AnonymousCounting bool
}

// Batch is one insert's worth of rows.
type Batch struct {
	Events      []model.Event
	Decisions   []model.Decision
	Impressions []model.Impression
}

// Generate produces o's traffic in time order and hands it to flush in
// batches of batchSize events, with the consent decisions and banner
// impressions of the same stretch of time.
func Generate(o Options, batchSize int, flush func(Batch)) {
	newGenerator(o, batchSize, flush).run()
}

// Fill inserts o's traffic into db, generating in one goroutine and
// inserting in another. Rows go through the normal tables (events,
// consent_decisions, consent_impressions) with the storage layer's batch
// inserts, so the materialized views of the report layer fill as they do
// in production. Progress is printed to w; with SEED_DEBUG set, the time of
// every events insert too.
func Fill(ctx context.Context, db *clickhouse.DB, o Options, batchSize int, w io.Writer) error {
	start := time.Now()
	batches := make(chan Batch, 2)
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		defer close(batches)
		Generate(o, batchSize, func(b Batch) {
			select {
			case batches <- b:
			case <-ctx.Done():
			}
		})
	}()
	var nEvents, nDecisions, nImpressions int
	var insertTime time.Duration
	lastReport := time.Now()
	for b := range batches {
		if ctx.Err() != nil {
			break
		}
		t := time.Now()
		if err := db.InsertEvents(ctx, b.Events); err != nil {
			return err
		}
		if os.Getenv("SEED_DEBUG") != "" {
			fmt.Fprintln(w, "events insert", len(b.Events), time.Since(t))
		}
		if err := db.InsertDecisions(ctx, b.Decisions); err != nil {
			return err
		}
		if err := db.InsertImpressions(ctx, b.Impressions); err != nil {
			return err
		}
		insertTime += time.Since(t)
		nEvents += len(b.Events)
		nDecisions += len(b.Decisions)
		nImpressions += len(b.Impressions)
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			el := time.Since(start)
			fmt.Fprintf(w, "  %d/%d events (%.0f/s), %d decisions, %d impressions, %s\n",
				nEvents, o.Events, float64(nEvents)/el.Seconds(), nDecisions, nImpressions, el.Round(time.Second))
		}
	}
	<-genDone
	if err := ctx.Err(); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(w, "seeded site %s: %d events, %d consent decisions, %d banner impressions over %d days in %s (%.0f events/s; %s inserting)\n",
		o.Site, nEvents, nDecisions, nImpressions, o.Days, el.Round(time.Second), float64(nEvents)/el.Seconds(), insertTime.Round(time.Second))
	return nil
}
