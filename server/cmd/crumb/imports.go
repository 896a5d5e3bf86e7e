package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/imports"
)

// runImport loads another tool's export: `crumb import --site ID --format
// plausible|goatcounter FILE`.
func runImport(ctx context.Context, args []string, w io.Writer) error {
	var site, format, file string
	return withStoreArgs(ctx, "import", "Usage: crumb import --site ID --format plausible|goatcounter FILE\n\n"+
		"Loads another tool's export as imported daily numbers, shown (marked imported) for the days before the site's own data:\n"+
		"Plausible's CSV export (the zip) or GoatCounter's CSV export (.csv or .csv.gz). The whole file is read and checked\n"+
		"before anything is stored; importing the same export again replaces its days.", args, []*string{&file},
		func(fs *flag.FlagSet) {
			fs.StringVar(&site, "site", "", "the site ID (required)")
			fs.StringVar(&format, "format", "", "plausible or goatcounter")
		},
		func(db *clickhouse.DB) error {
			if file == "" {
				return errors.New("give the export's file: crumb import --site ID --format " + strings.Join(imports.Formats, "|") + " FILE")
			}
			if err := checkSite(ctx, db, site); err != nil {
				return err
			}
			d, err := imports.Read(format, file)
			if err != nil {
				return err
			}
			id, err := db.Import(ctx, site, d)
			if err != nil {
				return err
			}
			from, to := d.Range()
			var visitors, pv uint64
			for _, day := range d.Days {
				visitors += day.Visitors
				pv += day.Pageviews
			}
			fmt.Fprintf(w, "imported %d days of %s (%s to %s): %d page views, %d visitors summed by day, %d rows of pages, sources, countries, browsers, devices and events (import %s)\n",
				len(d.Days), format, from.Format("2006-01-02"), to.Format("2006-01-02"), pv, visitors, len(d.Rows), id[:8])
			return nil
		})
}
