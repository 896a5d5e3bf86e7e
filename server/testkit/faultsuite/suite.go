// Package faultsuite runs crumb through faults and measures what they cost:
// ClickHouse stopped under steady load, crumb killed with SIGKILL and
// restarted, load at a multiple of the measured capacity, and a long soak.
// Every event carries a path of its own, so acknowledged (202) events are
// compared with the rows in ClickHouse one by one: lost, duplicated, or
// stored without an acknowledgement (in flight at a kill).
//
// Each scenario runs the crumb binary as a child process with a fresh
// database on a supervised clickhouse-server that the suite may stop and
// start again. Package e2e runs a short plan as a test; the command
// crumb-dev faults runs the full one and prints the figures.
package faultsuite

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/crumbhq/crumb/server/internal/chserver"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
)

// Suite runs fault scenarios against one ClickHouse server.
type Suite struct {
	// Crumb is the crumb binary to run.
	Crumb string
	// ClickHouse is the server the scenarios write to; the outage scenario
	// stops and restarts it.
	ClickHouse *chserver.Server
	// Dir holds each scenario's crumb data folder and log.
	Dir string
	// Keep leaves the scenarios' databases in ClickHouse.
	Keep bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Result holds the figures of one scenario.
type Result struct {
	Scenario string
	// Duration is the length of the fault: the outage, the overload, the
	// soak; for kills, the whole load.
	Duration time.Duration
	// Rate is the offered load in requests (events) per second, or the
	// achieved one for the capacity measurement.
	Rate float64
	Tally
	// Answers counts HTTP answers by status code; 0 is no answer (refused,
	// reset, timed out).
	Answers map[int]int
	// Share503 is the fraction of answers that were 503.
	Share503  float64
	PeakRSSMB float64
	Samples   []Sample
	// Notes explain the figures; Failures name every check that failed.
	Notes    []string
	Failures []string
}

// Passed reports whether every check of the scenario held.
func (r *Result) Passed() bool { return len(r.Failures) == 0 }

func (r *Result) notef(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// check records a failure described by format unless ok.
func (r *Result) check(ok bool, format string, args ...any) {
	if !ok {
		r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
	}
}

// checkStored is the check every scenario makes: each acknowledged event is
// in ClickHouse exactly once.
func (r *Result) checkStored() {
	r.check(r.Lost == 0, "%d acknowledged events not stored", r.Lost)
	r.check(r.Duplicates == 0, "%d events stored more than once", r.Duplicates)
}

func (s *Suite) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// scenario is one running scenario: its database, crumb node, load and
// monitor.
type scenario struct {
	s    *Suite
	name string
	db   *clickhouse.DB
	res  Result

	node    *node
	load    *load
	workers int
	mon     *monitor
	stop    context.CancelFunc // ends the load
	results chan loadResult    // the load's result, once
	ended   bool               // the load has ended and was collected
}

// setup creates the database and starts crumb with the extra environment.
func (s *Suite) setup(ctx context.Context, name, title string, env ...string) (*scenario, error) {
	url, db, err := s.database(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: database: %w", name, err)
	}
	env = append([]string{"CRUMB_CLICKHOUSE_URL=" + url}, env...)
	n, err := startNode(ctx, s.Crumb, filepath.Join(s.Dir, name), env...)
	if err != nil {
		s.drop(db)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &scenario{s: s, name: name, db: db, node: n, res: Result{Scenario: title}}, nil
}

// teardown ends a load still running, stops crumb and drops the database.
func (sc *scenario) teardown() {
	if sc.load != nil && !sc.ended {
		sc.endLoad()
	}
	if err := sc.node.stop(); err != nil {
		sc.res.check(false, "%v", err)
	}
	sc.s.drop(sc.db)
}

// startLoad starts an open-loop load of rate requests per second, or a
// closed-loop one when rate is 0, and samples the node every interval.
func (sc *scenario) startLoad(ctx context.Context, rate float64, workers int, every time.Duration) {
	sc.load, sc.workers = newLoad(sc.node, siteID, workers), workers
	sc.mon = watch(sc.node, every)
	lctx, cancel := context.WithCancel(ctx)
	sc.stop, sc.results = cancel, make(chan loadResult, 1)
	go func() {
		if rate == 0 {
			sc.results <- sc.load.closed(lctx, workers)
		} else {
			sc.results <- sc.load.open(lctx, rate, workers)
		}
	}()
}

// finish stops the load, waits until crumb has written its buffer and
// compares the acknowledged events with the stored ones.
func (sc *scenario) finish(ctx context.Context, settleWithin time.Duration) (loadResult, error) {
	lr := sc.endLoad()
	sc.res.Answers = lr.codes
	sc.res.Share503 = lr.share(http.StatusServiceUnavailable)
	t, err := settle(ctx, sc.node, sc.db, lr, settleWithin)
	if err != nil {
		return lr, fmt.Errorf("%s: counting stored events: %w", sc.name, err)
	}
	sc.res.Tally = t
	sc.res.PeakRSSMB = sc.node.peak()
	sc.res.checkStored()
	if t.Unacked > 0 {
		sc.res.notef("%d events stored without a 202 (no answer reached the client)", t.Unacked)
	}
	if lr.unsent > 0 {
		sc.res.notef("%d requests not sent: all %d client connections were busy", lr.unsent, sc.workers)
	}
	return lr, nil
}

// endLoad stops the load and the monitor and collects their results.
func (sc *scenario) endLoad() loadResult {
	sc.stop()
	lr := <-sc.results
	sc.ended = true
	// Idle keep-alive connections would hold crumb's graceful shutdown up.
	sc.load.client.CloseIdleConnections()
	sc.res.Samples = sc.mon.finish()
	return lr
}

// sleep waits d or until ctx ends.
// loadFor runs a load (as startLoad) for d and returns its result once
// every acknowledged event is stored (as finish, within a minute).
func (sc *scenario) loadFor(ctx context.Context, rate float64, workers int, every, d time.Duration) (loadResult, error) {
	sc.startLoad(ctx, rate, workers, every)
	if err := sleep(ctx, d); err != nil {
		return loadResult{}, err
	}
	return sc.finish(ctx, time.Minute)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
