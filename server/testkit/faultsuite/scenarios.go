package faultsuite

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Client connections of the steady loads, and of the capacity measurement
// (as many as make bench gives wrk).
const (
	steadyWorkers   = 64
	capacityWorkers = 64
)

// run sets a scenario up, runs body and tears it down.
func (s *Suite) run(ctx context.Context, name, title string, env []string, body func(*scenario) error) (Result, error) {
	s.logf("%s: starting", title)
	sc, err := s.setup(ctx, name, title, env...)
	if err != nil {
		return Result{Scenario: title}, err
	}
	err = body(sc)
	sc.teardown()
	if err == nil {
		verdict := "passed"
		if !sc.res.Passed() {
			verdict = fmt.Sprintf("FAILED: %v", sc.res.Failures)
		}
		s.logf("%s: acknowledged %d, stored %d, lost %d, duplicates %d: %s",
			title, sc.res.Acknowledged, sc.res.Stored, sc.res.Lost, sc.res.Duplicates, verdict)
	}
	return sc.res, err
}

// Capacity measures how many requests per second crumb acknowledges with
// default settings when clients send the next request as soon as the last
// is answered, for d. The load generator shares the machine with crumb and
// ClickHouse, as in make bench.
func (s *Suite) Capacity(ctx context.Context, d time.Duration) (Result, error) {
	return s.run(ctx, "capacity", "capacity (closed loop)", nil, func(sc *scenario) error {
		lr, err := sc.loadFor(ctx, 0, capacityWorkers, max(d/10, 100*time.Millisecond), d)
		if err != nil {
			return err
		}
		sc.res.Duration = lr.elapsed
		sc.res.Rate = float64(len(lr.acked)) / lr.elapsed.Seconds()
		sc.res.check(sc.res.Acknowledged > 0, "nothing acknowledged")
		sc.res.notef("%d client connections; %.0f requests/s acknowledged", capacityWorkers, sc.res.Rate)
		return nil
	})
}

// OutageOptions parameterise Outage.
type OutageOptions struct {
	// Rate is the steady load in page views per second.
	Rate float64
	// Down is how long ClickHouse is stopped.
	Down time.Duration
	// Around is the load before ClickHouse stops and after it is back.
	Around time.Duration
}

// Outage stops the ClickHouse server under steady load (SIGTERM; once the
// process has exited, connections are refused, as in a real outage), keeps
// it stopped for o.Down, starts it again and checks that every
// acknowledged event arrives exactly once and that crumb acknowledged every
// request meanwhile. The result's Duration is from the exit to the server
// answering again.
func (s *Suite) Outage(ctx context.Context, o OutageOptions) (Result, error) {
	return s.run(ctx, "outage", "ClickHouse stopped", nil, func(sc *scenario) error {
		sc.startLoad(ctx, o.Rate, steadyWorkers, sampleInterval(o.Down+2*o.Around))
		err := sleep(ctx, o.Around)
		var down, stopping time.Duration
		if err == nil {
			s.logf("outage: stopping ClickHouse")
			start := time.Now()
			if err = s.ClickHouse.Pause(); err == nil {
				gone := time.Now()
				stopping = gone.Sub(start)
				s.logf("outage: ClickHouse exited %v after SIGTERM; down for %v", stopping.Round(100*time.Millisecond), o.Down)
				err = sleep(ctx, o.Down)
				// Bring it back even when ctx has ended.
				rctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				if rerr := s.ClickHouse.Resume(rctx); rerr != nil && err == nil {
					err = rerr
				}
				cancel()
				down = time.Since(gone)
				s.logf("outage: ClickHouse ready again")
			}
		}
		if err == nil {
			err = sleep(ctx, o.Around)
		}
		if err != nil {
			return err
		}
		lr, err := sc.finish(ctx, time.Minute+o.Down)
		if err != nil {
			return err
		}
		sc.res.Duration, sc.res.Rate = down, o.Rate
		refused := lr.sent - uint64(lr.codes[http.StatusAccepted])
		sc.res.check(refused == 0, "%d requests not acknowledged during the outage", refused)
		sc.res.notef("no ClickHouse process for %v (exit to ready again); SIGTERM to exit took %v; deepest buffer %d records",
			down.Round(100*time.Millisecond), stopping.Round(100*time.Millisecond), maxDepth(sc.res.Samples))
		return nil
	})
}

// KillOptions parameterise Kill.
type KillOptions struct {
	// Rate is the steady load in page views per second.
	Rate float64
	// Kills is how many times crumb is killed.
	Kills int
	// Every is the load before each kill and after the last restart.
	Every time.Duration
	// Down is how long crumb stays dead before it is started again; the
	// load goes on, and its requests are refused.
	Down time.Duration
}

// Kill sends crumb SIGKILL under steady load, o.Kills times, and starts it
// again on the same data folder each time. Every acknowledged event must be
// stored exactly once: the restarted process replays its log, and a batch
// whose insert was cut off must not be written twice.
func (s *Suite) Kill(ctx context.Context, o KillOptions) (Result, error) {
	return s.run(ctx, "kill9", "crumb kill -9, restart", nil, func(sc *scenario) error {
		start := time.Now()
		sc.startLoad(ctx, o.Rate, steadyWorkers, sampleInterval(o.Every))
		pending := 0 // acknowledged but not yet in ClickHouse at the kills
		var err error
		for k := 0; k < o.Kills && err == nil; k++ {
			if err = sleep(ctx, o.Every); err != nil {
				break
			}
			acked := sc.load.acks.Load()
			sc.node.kill()
			var rows uint64
			if qerr := sc.db.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&rows); qerr == nil {
				pending += max(int(acked)-int(rows), 0)
			}
			s.logf("kill9: killed crumb (%d acknowledged, %d stored); restarting in %v", acked, rows, o.Down)
			if err = sleep(ctx, o.Down); err == nil {
				err = sc.node.start(ctx)
			}
		}
		if err == nil {
			err = sleep(ctx, o.Every)
		}
		if err != nil {
			return err
		}
		lr, err := sc.finish(ctx, time.Minute)
		if err != nil {
			return err
		}
		sc.res.Duration, sc.res.Rate = time.Since(start), o.Rate
		sc.res.notef("%d kills; about %d acknowledged events were only in crumb's log at the kills and came from its replay; %d requests got no answer (cut off or refused)",
			o.Kills, pending, lr.codes[noAnswer])
		return nil
	})
}

// OverloadOptions parameterise Overload.
type OverloadOptions struct {
	// Rate is the offered load in page views per second: twice the
	// measured capacity in the standard plan.
	Rate float64
	// Duration is how long the load runs.
	Duration time.Duration
	// Connections bounds the requests in flight.
	Connections int
	// BufferMax and MemoryLimitMB are crumb's --buffer-max and
	// --memory-limit-mb: small, so that the buffer fills and crumb sheds
	// load with 503.
	BufferMax     int
	MemoryLimitMB int
	// MaxRSSMB is the resident set crumb must stay under.
	MaxRSSMB float64
}

// Overload offers more load than crumb can take, open loop, and checks that
// crumb sheds the excess with 503 while every acknowledged event is stored
// and its memory stays bounded.
func (s *Suite) Overload(ctx context.Context, o OverloadOptions) (Result, error) {
	env := []string{fmt.Sprintf("CRUMB_BUFFER_MAX=%d", o.BufferMax), fmt.Sprintf("CRUMB_MEMORY_LIMIT_MB=%d", o.MemoryLimitMB)}
	return s.run(ctx, "overload", "overload", env, func(sc *scenario) error {
		lr, err := sc.loadFor(ctx, o.Rate, o.Connections, sampleInterval(o.Duration), o.Duration)
		if err != nil {
			return err
		}
		sc.res.Duration, sc.res.Rate = lr.elapsed, o.Rate
		answered := lr.answered()
		sc.res.check(sc.res.Share503 > 0, "no 503 answers: the load did not fill the buffer")
		sc.res.check(sc.res.PeakRSSMB <= o.MaxRSSMB, "peak RSS %.0f MB over %.0f MB", sc.res.PeakRSSMB, o.MaxRSSMB)
		sc.res.notef("offered %.0f/s, answered %.0f/s (%d with 202, %d with 503, %d other, %d without answer); --buffer-max %d, --memory-limit-mb %d, RSS limit %.0f MB",
			o.Rate, float64(answered)/lr.elapsed.Seconds(), lr.codes[http.StatusAccepted], lr.codes[http.StatusServiceUnavailable],
			answered-lr.codes[http.StatusAccepted]-lr.codes[http.StatusServiceUnavailable], lr.codes[noAnswer],
			o.BufferMax, o.MemoryLimitMB, o.MaxRSSMB)
		return nil
	})
}

// SoakOptions parameterise Soak.
type SoakOptions struct {
	// Rate is the steady load in page views per second.
	Rate float64
	// Duration is how long the load runs.
	Duration time.Duration
	// Every is the sampling interval of RSS and buffer depth.
	Every time.Duration
	// WarmUp is left out of the flatness check: the heap grows to its
	// working size first.
	WarmUp time.Duration
	// RSSTolerance is how much the RSS may grow after the warm-up, as a
	// fraction (plus 4 MB).
	RSSTolerance float64
}

// Soak runs a steady load for o.Duration, sampling crumb's RSS and buffer
// depth, and checks that both stay flat (see flat).
func (s *Suite) Soak(ctx context.Context, o SoakOptions) (Result, error) {
	return s.run(ctx, "soak", "soak", nil, func(sc *scenario) error {
		lr, err := sc.loadFor(ctx, o.Rate, steadyWorkers, o.Every, o.Duration)
		if err != nil {
			return err
		}
		sc.res.Duration, sc.res.Rate = lr.elapsed, o.Rate
		refused := lr.sent - uint64(lr.codes[http.StatusAccepted])
		sc.res.check(refused == 0, "%d requests not acknowledged", refused)
		f := flatness(sc.res.Samples, o.WarmUp)
		sc.res.notef("RSS MB first/last/max %.0f/%.0f/%.0f; buffer depth first/last/max %d/%d/%d; after warm-up, mean of the first vs last third: RSS %.1f vs %.1f MB, depth %.0f vs %.0f",
			f.first.RSSMB, f.last.RSSMB, f.maxRSS, f.first.Depth, f.last.Depth, f.maxDepth, f.earlyRSS, f.lateRSS, f.earlyDepth, f.lateDepth)
		sc.res.check(len(sc.res.Samples) >= 8, "only %d samples", len(sc.res.Samples))
		// Flat: after the warm-up, the RSS of the last third is within the
		// tolerance of the first third's, and the buffer did not grow by more
		// than one second of traffic (the writer keeps up).
		sc.res.check(f.lateRSS <= f.earlyRSS*(1+o.RSSTolerance)+4, "RSS grew from %.1f to %.1f MB", f.earlyRSS, f.lateRSS)
		sc.res.check(f.lateDepth <= f.earlyDepth+o.Rate, "buffer depth grew from %.0f to %.0f", f.earlyDepth, f.lateDepth)
		return nil
	})
}

// flat summarises a soak's samples.
type flat struct {
	first, last           Sample
	maxRSS                float64
	maxDepth              int
	earlyRSS, lateRSS     float64 // means over the first and last third after the warm-up
	earlyDepth, lateDepth float64
}

// flatness ignores the samples of the warm-up and compares the first and
// last third of the rest.
func flatness(samples []Sample, warmUp time.Duration) flat {
	var f flat
	if len(samples) == 0 {
		return f
	}
	f.first, f.last = samples[0], samples[len(samples)-1]
	for _, s := range samples {
		f.maxRSS, f.maxDepth = max(f.maxRSS, s.RSSMB), max(f.maxDepth, s.Depth)
	}
	rest := samples
	for len(rest) > 3 && rest[0].At < warmUp {
		rest = rest[1:]
	}
	third := max(len(rest)/3, 1)
	f.earlyRSS, f.earlyDepth = means(rest[:third])
	f.lateRSS, f.lateDepth = means(rest[len(rest)-third:])
	return f
}

func means(samples []Sample) (rss, depth float64) {
	for _, s := range samples {
		rss += s.RSSMB
		depth += float64(s.Depth)
	}
	n := float64(len(samples))
	return rss / n, depth / n
}

// sampleInterval gives about 40 samples over d, at most one every 100 ms.
func sampleInterval(d time.Duration) time.Duration {
	return max(d/40, 100*time.Millisecond)
}
