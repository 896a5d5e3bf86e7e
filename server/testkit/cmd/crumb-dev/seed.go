package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/crumbhq/crumb/server/internal/app"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/testkit/seed"
)

// seed fills a ClickHouse database with realistic traffic for one site
// (package seed) and measures the dashboard queries of package report on
// it.
//
//	crumb-dev seed --clickhouse-url clickhouse://127.0.0.1:9000/crumb_seed --site demo --events 10000000 --days 30
//	crumb-dev seed --clickhouse-url … --site demo --events 0 --bench
func seedMain(args []string) {
	fs := flag.NewFlagSet("crumb-dev seed", flag.ContinueOnError)
	url := fs.String("clickhouse-url", envOr("CRUMB_CLICKHOUSE_URL", "clickhouse://127.0.0.1:9000/crumb_seed"), "ClickHouse database to fill (created and migrated if needed)")
	site := fs.String("site", "demo", "site ID")
	domain := fs.String("domain", "", "site domain (default SITE.example.com)")
	events := fs.Int("events", 1_000_000, "event rows to insert (0: insert nothing)")
	days := fs.Int("days", 30, "days of traffic, ending today")
	end := fs.String("end", "", "last day of traffic, YYYY-MM-DD (default today, UTC; today's traffic stops now)")
	seedN := fs.Uint64("seed", 1, "random seed; the same seed gives the same data")
	nPages := fs.Int("pages", 3000, "distinct pages")
	batchSize := fs.Int("batch", 100_000, "events per insert")
	anon := fs.Bool("anonymous-counting", true, "store page views of visitors without consent anonymously")
	k := fs.Int("k", model.DefaultK, "the site's k (minimum visitors per breakdown row)")
	bench := fs.Bool("bench", false, "after seeding, measure the default dashboard")
	runs := fs.Int("bench-runs", 30, "dashboard loads to measure")
	cases := fs.String("bench-cases", "", "comma-separated cases to measure: default, compare, country, alone-de (each country-filtered panel on its own), source, loyalty, analysis, analysis-de, me (GET /api/me), erase (erasure batches; deletes 20 visitors) (default all but erase)")
	noMigrate := fs.Bool("no-migrate", false, "do not apply migrations first")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *domain == "" {
		*domain = *site + ".example.com"
	}
	now := time.Now().UTC()
	endDay := now.Truncate(24 * time.Hour)
	if *end != "" {
		d, err := time.Parse("2006-01-02", *end)
		if err != nil {
			fatal(fmt.Errorf("--end: %w", err))
		}
		endDay = d
		if endDay.Before(now.Truncate(24 * time.Hour)) {
			now = endDay.Add(24*time.Hour - time.Second)
		}
	}
	if *days < 1 || *events < 0 || *batchSize < 1 {
		fatal(errors.New("--days and --batch must be positive, --events not negative"))
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := clickhouse.Open(ctx, *url, log)
	if err != nil {
		fatal(err)
	}
	defer db.Close()
	migs, err := migrations.All()
	if err != nil {
		fatal(err)
	}
	if !*noMigrate {
		if _, err := db.Migrate(ctx, migs); err != nil {
			fatal(err)
		}
	}
	s := model.NewSite(*site, *domain, "", now)
	s.AnonymousCounting = *anon
	s.K = *k
	if err := s.Validate(); err != nil {
		fatal(err)
	}
	if err := db.PutSite(ctx, s); err != nil {
		fatal(err)
	}

	if *events > 0 {
		if err := seed.Fill(ctx, db, seed.Options{
			Site: *site, Domain: *domain, Events: *events, Days: *days, End: endDay, Now: now,
			Seed: *seedN, Pages: *nPages, AnonymousCounting: *anon,
		}, *batchSize, os.Stdout); err != nil {
			fatal(err)
		}
	}
	if *events > 0 || *bench {
		// What a running server's background job does: seal the closed
		// days' exact counts.
		start := time.Now()
		n, err := app.Seal(ctx, db, report.New(db.Conn(), nil, report.Options{}), *site, s.RetentionMonths, now)
		if err != nil {
			fatal(err)
		}
		if n > 0 {
			fmt.Printf("sealed %d days and windows of the preset periods in %s\n", n, time.Since(start).Round(time.Millisecond))
		}
	}
	if *bench {
		if err := runBench(ctx, db, *site, now, *runs, *cases); err != nil {
			fatal(err)
		}
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "crumb-dev seed:", err)
	os.Exit(1)
}
