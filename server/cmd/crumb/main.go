// Command crumb is the Crumb server: cookie consent and first-party
// analytics on your own machines. Run `crumb --help` for its subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the server: ingest, banner config, dashboards (starts a private ClickHouse unless --clickhouse-url is set)", runServe},
		{"migrate", "apply the ClickHouse schema migrations (also done by serve at start)", runMigrate},
		{"site", "manage sites: site add|list|update", runSite},
		{"goal", "manage a site's goals: goal add|list|remove", runGoal},
		{"funnel", "manage a site's saved funnels: funnel add|list|remove", runFunnel},
		{"report", "e-mail digests: report send|subscribe|unsubscribe|list", runReport},
		{"alert", "traffic alerts by e-mail or webhook: alert add|list|remove", runAlert},
		{"import", "load another tool's export: import --site ID --format plausible|goatcounter FILE", runImport},
		{"token", "manage API tokens: token add|list|revoke", runToken},
		{"user", "manage dashboard logins: user add|list|password|remove", runUser},
		{"share", "manage public read-only dashboard links: share add|list|revoke", runShare},
		{"geoip", "build GeoIP City/ASN files from the npm data: geoip build --src DIR --out DIR", runGeoIP},
		{"version", "print the version", func(_ context.Context, _ []string, w io.Writer) error {
			fmt.Fprintln(w, "crumb", version)
			return nil
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "crumb %s: cookie consent and first-party analytics.\n\nUsage: crumb <command> [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nEvery flag can also be set as CRUMB_<FLAG> in the environment (secrets as CRUMB_<FLAG>_FILE).\nRun `crumb <command> --help` for a command's flags.\n")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("CRUMB_CPU_PROFILE"); path != "" {
		// A CPU profile of the whole run, for performance work.
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "crumb:", err)
		}
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}
