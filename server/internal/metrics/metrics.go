// Package metrics holds Crumb's Prometheus collectors, served at /metrics.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors of one crumb process.
type Metrics struct {
	Registry *prometheus.Registry

	Requests      *prometheus.CounterVec
	Accepted      *prometheus.CounterVec
	Dropped       *prometheus.CounterVec
	BufferDepth   prometheus.Gauge
	InsertLatency *prometheus.HistogramVec
	BatchRows     *prometheus.HistogramVec
	InsertErrors  *prometheus.CounterVec
	Dedup         *prometheus.CounterVec
	// HeavyWaiting and HeavyWait: heavy stats requests (filtered, paths,
	// funnels…) waiting for one of the node's turns (--heavy-requests),
	// and how long each waited.
	HeavyWaiting prometheus.Gauge
	HeavyWait    prometheus.Histogram
}

// New creates and registers every collector, with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crumb_http_requests_total", Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crumb_ingest_accepted_total", Help: "Records accepted into the buffer, by kind (event, decision, impression).",
		}, []string{"kind"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crumb_ingest_dropped_total", Help: "Records dropped by the ingest pipeline, by reason.",
		}, []string{"reason"}),
		BufferDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crumb_buffer_depth", Help: "Records in the durable buffer not yet written to ClickHouse.",
		}),
		InsertLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crumb_insert_duration_seconds", Help: "Time of one batch insert into ClickHouse, by table.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"table"}),
		BatchRows: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crumb_insert_batch_rows", Help: "Rows in one batch insert, by table.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"table"}),
		InsertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crumb_insert_errors_total", Help: "Failed batch inserts (retried), by table.",
		}, []string{"table"}),
		Dedup: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crumb_insert_deduplicated_total", Help: "Rows skipped on retry because an earlier insert had stored them, by table.",
		}, []string{"table"}),
		HeavyWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crumb_stats_heavy_waiting", Help: "Heavy stats requests (with filters, paths, funnels…) waiting for a turn (--heavy-requests).",
		}),
		HeavyWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "crumb_stats_heavy_wait_seconds", Help: "How long a heavy stats request waited for its turn.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 13),
		}),
	}
	m.Registry.MustRegister(m.Requests, m.Accepted, m.Dropped, m.BufferDepth, m.InsertLatency, m.BatchRows,
		m.InsertErrors, m.Dedup, m.HeavyWaiting, m.HeavyWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Depth implements buffer.Observer.
func (m *Metrics) Depth(n int) { m.BufferDepth.Set(float64(n)) }

// Inserted implements buffer.Observer.
func (m *Metrics) Inserted(table string, rows int, took time.Duration) {
	m.InsertLatency.WithLabelValues(table).Observe(took.Seconds())
	m.BatchRows.WithLabelValues(table).Observe(float64(rows))
}

// InsertFailed implements buffer.Observer.
func (m *Metrics) InsertFailed(table string) { m.InsertErrors.WithLabelValues(table).Inc() }

// Deduplicated implements buffer.Observer.
func (m *Metrics) Deduplicated(table string, rows int) {
	m.Dedup.WithLabelValues(table).Add(float64(rows))
}

// Drop counts n records dropped for reason.
func (m *Metrics) Drop(reason string, n int) { m.Dropped.WithLabelValues(reason).Add(float64(n)) }

// Accept counts n records of kind accepted.
func (m *Metrics) Accept(kind string, n int) { m.Accepted.WithLabelValues(kind).Add(float64(n)) }
