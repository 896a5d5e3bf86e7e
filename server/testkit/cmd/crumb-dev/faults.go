package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/crumbhq/crumb/server/internal/chserver"
	"github.com/crumbhq/crumb/server/testkit/faultsuite"
)

// faults runs Crumb's fault suite and prints its figures: a
// ClickHouse outage under steady load, crumb killed with SIGKILL and
// restarted, load at twice the measured capacity, and a soak. It starts a
// private clickhouse-server, runs the crumb binary against it, and exits
// with status 1 if any check fails. make faults runs the full suite.
func faultsMain(args []string) {
	fl := flag.NewFlagSet("crumb-dev faults", flag.ExitOnError)
	crumbBin := fl.String("crumb", "", "the crumb binary (default: build one)")
	short := fl.Bool("short", false, "the short plan of the test command (seconds instead of minutes)")
	keep := fl.Bool("keep", false, "keep the work folder and the scenarios' databases")
	full := faultsuite.FullPlan()
	capacity := fl.Duration("capacity-time", full.CapacityTime, "closed-loop load that measures the capacity")
	steady := fl.Float64("steady-share", full.SteadyShare, "steady load as a share of the capacity (outage, kills, soak)")
	factor := fl.Float64("overload-factor", full.OverloadFactor, "overload as a multiple of the capacity")
	outage := fl.Duration("outage", full.Outage.Down, "how long ClickHouse is stopped")
	kills := fl.Int("kills", full.Kill.Kills, "how many times crumb is killed")
	overload := fl.Duration("overload", full.Overload.Duration, "how long the overload runs")
	bufferMax := fl.Int("buffer-max", full.Overload.BufferMax, "crumb's --buffer-max during the overload")
	memLimit := fl.Int("memory-limit-mb", full.Overload.MemoryLimitMB, "crumb's --memory-limit-mb during the overload")
	maxRSS := fl.Float64("max-rss-mb", full.Overload.MaxRSSMB, "the RSS crumb must stay under during the overload")
	soak := fl.Duration("soak", full.Soak.Duration, "how long the soak runs")
	soakEvery := fl.Duration("soak-every", full.Soak.Every, "sampling interval of the soak")
	only := fl.String("only", "", "comma-separated scenarios to run: outage, kill, overload, soak (default all)")
	fl.Parse(args)

	plan := full
	if *short {
		plan = faultsuite.ShortPlan()
	}
	if *only != "" {
		plan.Only = strings.Split(*only, ",")
	}
	// Flags given on the command line override the chosen plan.
	fl.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "capacity-time":
			plan.CapacityTime = *capacity
		case "steady-share":
			plan.SteadyShare = *steady
		case "overload-factor":
			plan.OverloadFactor = *factor
		case "outage":
			plan.Outage.Down = *outage
		case "kills":
			plan.Kill.Kills = *kills
		case "overload":
			plan.Overload.Duration = *overload
		case "buffer-max":
			plan.Overload.BufferMax = *bufferMax
		case "memory-limit-mb":
			plan.Overload.MemoryLimitMB = *memLimit
		case "max-rss-mb":
			plan.Overload.MaxRSSMB = *maxRSS
		case "soak":
			plan.Soak.Duration = *soak
		case "soak-every":
			plan.Soak.Every = *soakEvery
		}
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ok, err := runFaults(ctx, plan, *crumbBin, *keep)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crumb-dev faults:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// run starts ClickHouse, runs the plan and prints the figures. It reports
// whether every check passed.
func runFaults(ctx context.Context, plan faultsuite.Plan, crumbBin string, keep bool) (bool, error) {
	dir, err := os.MkdirTemp("", "crumb-faults-")
	if err != nil {
		return false, err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "work folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if crumbBin == "" {
		crumbBin = filepath.Join(dir, "crumb")
		fmt.Fprintln(os.Stderr, "building crumb …")
		build := exec.Command("go", "build", "-o", crumbBin, "github.com/crumbhq/crumb/server/cmd/crumb")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return false, fmt.Errorf("building crumb: %w", err)
		}
	} else if crumbBin, err = filepath.Abs(crumbBin); err != nil {
		return false, err
	}
	fmt.Fprintln(os.Stderr, "starting a private ClickHouse …")
	srv, err := chserver.Start(ctx, chserver.Options{Dir: filepath.Join(dir, "clickhouse"), MaxMemoryBytes: 2 << 30})
	if err != nil {
		return false, err
	}
	defer srv.Stop()

	suite := &faultsuite.Suite{
		Crumb: crumbBin, ClickHouse: srv, Dir: dir, Keep: keep,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
		},
	}
	start := time.Now()
	results, err := suite.Run(ctx, plan)
	fmt.Printf("\nFault suite, %s, finished in %v\n\n", describe(plan), time.Since(start).Round(time.Second))
	faultsuite.WriteTable(os.Stdout, results)
	for _, r := range results {
		if r.Scenario == "soak" {
			fmt.Println()
			faultsuite.WriteSamples(os.Stdout, r, 11)
		}
	}
	ok := err == nil
	for _, r := range results {
		ok = ok && r.Passed()
	}
	return ok, err
}

func describe(p faultsuite.Plan) string {
	return fmt.Sprintf("outage %v, %d kills, overload %v at %gx capacity, soak %v",
		p.Outage.Down, p.Kill.Kills, p.Overload.Duration, p.OverloadFactor, p.Soak.Duration)
}
