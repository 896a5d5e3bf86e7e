package faultsuite

import (
	"context"
	"sync"
	"time"
)

// Sample is one reading of a crumb process while a scenario runs.
type Sample struct {
	At    time.Duration // since the scenario's load started
	RSSMB float64       // resident set size
	Depth int           // records in the buffer not yet in ClickHouse
}

// monitor reads a node's memory and buffer depth at a fixed interval.
type monitor struct {
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples []Sample
}

// watch samples n every interval until the monitor is stopped. Readings
// while no process runs (between a kill and the restart) are skipped.
func watch(n *node, every time.Duration) *monitor {
	ctx, cancel := context.WithCancel(context.Background())
	m := &monitor{stop: cancel, done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(m.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			rss, _, ok := n.memory()
			depth, err := n.bufferDepth(ctx)
			if ok && err == nil {
				m.mu.Lock()
				m.samples = append(m.samples, Sample{At: time.Since(start), RSSMB: rss, Depth: depth})
				m.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

// finish stops sampling and returns the samples.
func (m *monitor) finish() []Sample {
	m.stop()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.samples
}

// maxDepth is the deepest buffer of the samples.
func maxDepth(samples []Sample) int {
	d := 0
	for _, s := range samples {
		d = max(d, s.Depth)
	}
	return d
}
