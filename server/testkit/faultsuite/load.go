package faultsuite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// noAnswer is the status recorded for a request that got no HTTP answer:
// connection refused or reset, or a time-out.
const noAnswer = 0

// load sends page views to a node, one per request, each with a path of its
// own (/f/SEQ), so that ClickHouse can later be checked event by event.
type load struct {
	url    string
	site   string
	client *http.Client
	seq    atomic.Uint64 // the next sequence number
	acks   atomic.Int64  // requests answered 202 so far

	mu     sync.Mutex
	acked  []uint64    // sequence numbers answered 202
	codes  map[int]int // answers by status code; noAnswer for none
	unsent int         // open-loop requests not sent because every worker was busy
}

// loadResult is what a load sent and what came back.
type loadResult struct {
	acked   []uint64
	sent    uint64 // sequence numbers 0..sent-1 were used
	codes   map[int]int
	unsent  int
	elapsed time.Duration
}

// answered is the number of requests that got an HTTP answer.
func (r loadResult) answered() int {
	n := 0
	for code, c := range r.codes {
		if code != noAnswer {
			n += c
		}
	}
	return n
}

// share is the fraction of HTTP answers with the status code.
func (r loadResult) share(code int) float64 {
	if a := r.answered(); a > 0 {
		return float64(r.codes[code]) / float64(a)
	}
	return 0
}

func newLoad(n *node, site string, workers int) *load {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}
	return &load{
		url: "http://" + n.addr + "/api/events", site: site, codes: map[int]int{},
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
	}
}

// closed runs workers that each send the next request as soon as the last
// one is answered, until ctx ends: the most the node can take.
func (l *load) closed(ctx context.Context, workers int) loadResult {
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var w worker
			for ctx.Err() == nil {
				if l.send(&w) != http.StatusAccepted {
					time.Sleep(20 * time.Millisecond)
				}
			}
			l.merge(&w)
		})
	}
	wg.Wait()
	return l.result(time.Since(start))
}

// open sends rate requests per second until ctx ends, whatever the answers,
// from at most workers requests in flight. A request that finds every
// worker busy is not sent and counted as unsent.
func (l *load) open(ctx context.Context, rate float64, workers int) loadResult {
	start := time.Now()
	jobs := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var w worker
			for range jobs {
				l.send(&w)
			}
			l.merge(&w)
		})
	}
	tick := time.NewTicker(2 * time.Millisecond)
	issued, unsent := 0, 0
pace:
	for {
		select {
		case <-ctx.Done():
			break pace
		case <-tick.C:
		}
		due := int(rate * time.Since(start).Seconds())
		for ; issued < due; issued++ {
			select {
			case jobs <- struct{}{}:
			default:
				unsent++
			}
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	l.mu.Lock()
	l.unsent += unsent
	l.mu.Unlock()
	return l.result(time.Since(start))
}

// worker collects one goroutine's answers without locking.
type worker struct {
	acked []uint64
	codes map[int]int
}

// send posts the next page view and records the answer.
func (l *load) send(w *worker) int {
	seq := l.seq.Add(1) - 1
	body := fmt.Sprintf(`{"site":%q,"events":[{"type":"pageview","url":"https://example.com%s"}]}`, l.site, eventPath(seq))
	req, _ := http.NewRequest("POST", l.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("User-Agent", browserUA)
	req.Header.Set("Origin", "https://example.com")
	code := noAnswer
	if resp, err := l.client.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		code = resp.StatusCode
		if resp.Header.Get("X-Crumb-Dropped") != "" {
			code = -code // accepted but not stored (a bot): never expected here
		}
	}
	if w.codes == nil {
		w.codes = map[int]int{}
	}
	w.codes[code]++
	if code == http.StatusAccepted {
		w.acked = append(w.acked, seq)
		l.acks.Add(1)
	}
	return code
}

func (l *load) merge(w *worker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = append(l.acked, w.acked...)
	for c, n := range w.codes {
		l.codes[c] += n
	}
}

func (l *load) result(elapsed time.Duration) loadResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	codes := make(map[int]int, len(l.codes))
	for c, n := range l.codes {
		codes[c] = n
	}
	return loadResult{acked: append([]uint64(nil), l.acked...), sent: l.seq.Load(), codes: codes, unsent: l.unsent, elapsed: elapsed}
}

// eventPath is the unique path of the event with sequence number seq.
func eventPath(seq uint64) string { return fmt.Sprintf("/f/%d", seq) }
