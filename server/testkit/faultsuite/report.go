package faultsuite

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the figures of the results as a plain-text table,
// followed by each scenario's notes and failed checks.
func WriteTable(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tduration\trate/s\tacknowledged\tstored\tlost\tduplicates\t503 share\tpeak RSS\tverdict\t")
	for _, r := range results {
		verdict := "pass"
		if !r.Passed() {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%d\t%d\t%d\t%d\t%.1f%%\t%.0f MB\t%s\t\n", r.Scenario, round(r.Duration), r.Rate,
			r.Acknowledged, r.Stored, r.Lost, r.Duplicates, 100*r.Share503, r.PeakRSSMB, verdict)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range results {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "%s: %s\n", r.Scenario, n)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(w, "%s: FAILED: %s\n", r.Scenario, f)
		}
	}
}

// WriteSamples prints at most rows of a result's samples, evenly spread,
// as a time series of RSS and buffer depth.
func WriteSamples(w io.Writer, r Result, rows int) {
	if len(r.Samples) == 0 || rows < 2 {
		return
	}
	fmt.Fprintf(w, "%s over time:\n", r.Scenario)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time\tRSS\tbuffer depth\t")
	n := len(r.Samples)
	for i := range min(rows, n) {
		s := r.Samples[i*(n-1)/max(min(rows, n)-1, 1)]
		fmt.Fprintf(tw, "%s\t%.0f MB\t%d\t\n", round(s.At), s.RSSMB, s.Depth)
	}
	tw.Flush()
}

// round shortens a duration for the table: whole seconds, or tenths below
// ten seconds.
func round(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}
