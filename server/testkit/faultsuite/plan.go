package faultsuite

import (
	"context"
	"slices"
	"time"
)

// Plan is a whole run of the suite. Rates left at 0 are derived from the
// capacity measured first: SteadyShare of it for the outage, the kills and
// the soak, OverloadFactor times it for the overload.
type Plan struct {
	CapacityTime   time.Duration
	SteadyShare    float64
	OverloadFactor float64
	Outage         OutageOptions
	Kill           KillOptions
	Overload       OverloadOptions
	Soak           SoakOptions
	// Only names the scenarios to run (outage, kill, overload, soak); empty
	// runs them all. The capacity is always measured.
	Only []string
}

// FullPlan is the standard run: ClickHouse stopped for 60 s, three kills,
// a minute at twice the capacity, a 10-minute soak. It takes about 15
// minutes.
func FullPlan() Plan {
	return Plan{
		CapacityTime:   5 * time.Second,
		SteadyShare:    0.3,
		OverloadFactor: 2,
		Outage:         OutageOptions{Down: 60 * time.Second, Around: 5 * time.Second},
		Kill:           KillOptions{Kills: 3, Every: 10 * time.Second, Down: time.Second},
		Overload:       OverloadOptions{Duration: 60 * time.Second, Connections: 256, BufferMax: 5000, MemoryLimitMB: 64, MaxRSSMB: 150},
		Soak:           SoakOptions{Duration: 10 * time.Minute, Every: 10 * time.Second, WarmUp: time.Minute, RSSTolerance: 0.10},
	}
}

// ShortPlan is the same run in well under a minute of load, for the test
// command.
func ShortPlan() Plan {
	p := FullPlan()
	p.CapacityTime = 2 * time.Second
	p.Outage.Down, p.Outage.Around = 4*time.Second, time.Second
	p.Kill.Kills, p.Kill.Every, p.Kill.Down = 1, 2*time.Second, 500*time.Millisecond
	// Half a batch: the buffer fills even when a busy machine answers
	// fewer requests than usual.
	p.Overload.Duration, p.Overload.BufferMax = 4*time.Second, 2500
	p.Soak.Duration, p.Soak.Every, p.Soak.WarmUp = 15*time.Second, 500*time.Millisecond, 6*time.Second
	p.Soak.RSSTolerance = 0.25
	return p
}

// Run measures the capacity, then runs the four scenarios in turn. It
// returns the results of the scenarios that completed and the first error
// that stopped it; a scenario whose checks fail does not stop the run.
func (s *Suite) Run(ctx context.Context, p Plan) ([]Result, error) {
	capacity, err := s.Capacity(ctx, p.CapacityTime)
	if err != nil {
		return nil, err
	}
	results := []Result{capacity}
	steady := capacity.Rate * p.SteadyShare
	if p.Outage.Rate == 0 {
		p.Outage.Rate = steady
	}
	if p.Kill.Rate == 0 {
		p.Kill.Rate = steady
	}
	if p.Soak.Rate == 0 {
		p.Soak.Rate = steady
	}
	if p.Overload.Rate == 0 {
		p.Overload.Rate = capacity.Rate * p.OverloadFactor
	}
	for _, sc := range []struct {
		name string
		run  func() (Result, error)
	}{
		{"outage", func() (Result, error) { return s.Outage(ctx, p.Outage) }},
		{"kill", func() (Result, error) { return s.Kill(ctx, p.Kill) }},
		{"overload", func() (Result, error) { return s.Overload(ctx, p.Overload) }},
		{"soak", func() (Result, error) { return s.Soak(ctx, p.Soak) }},
	} {
		if len(p.Only) > 0 && !slices.Contains(p.Only, sc.name) {
			continue
		}
		r, err := sc.run()
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}
