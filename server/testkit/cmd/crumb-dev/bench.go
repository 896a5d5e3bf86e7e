package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/chserver"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
)

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// bench measures Crumb's ingest on this machine in one run:
// end-to-end events/s (HTTP 202 to rows in ClickHouse) against a bare Fiber
// handler that parses the same body, the buffer writer's rows/s against the
// raw clickhouse-go batch rate, and crumb's peak memory. It needs wrk and
// clickhouse-server; make bench installs them.
func benchMain(args []string) {
	fl := flag.NewFlagSet("crumb-dev bench", flag.ExitOnError)
	crumbBin := fl.String("crumb", "bin/crumb", "the crumb binary to measure")
	duration := fl.Duration("duration", 10*time.Second, "how long each HTTP load runs")
	conns := fl.Int("connections", 64, "wrk connections")
	rows := fl.Int("rows", 500_000, "rows for the writer comparison")
	writerOnly := fl.Bool("writer-only", false, "measure only the writer")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the writer comparison to this file")
	fl.Parse(args)
	if err := runIngestBench(*crumbBin, *duration, *conns, *rows, *writerOnly, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "crumb-dev bench:", err)
		os.Exit(1)
	}
}

func runIngestBench(crumbBin string, d time.Duration, conns, nrows int, writerOnly bool, cpuProfile string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "crumb-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Println("starting a private ClickHouse …")
	srv, err := chserver.Start(ctx, chserver.Options{Dir: filepath.Join(tmp, "clickhouse")})
	if err != nil {
		return err
	}
	defer srv.Stop()

	if !writerOnly {
		if err := httpIngest(ctx, crumbBin, srv, tmp, d, conns); err != nil {
			return err
		}
	}
	fmt.Printf("\n== Writer: %d rows into ClickHouse 18.16\n", nrows)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	// The n fixture rows are this process's, not crumb's (whose heap holds
	// one batch or so), yet every garbage collection scans them, and the
	// way that allocates more pays for that: collect less often while
	// measuring, the same for all three ways.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	// Three rounds, each the three ways in turn, and the medians: the
	// server's background merges of one round's rows slow the next inserts,
	// whichever way they come.
	var raws, lives, replays []float64
	for round := 0; round < 3; round++ {
		raw, writer, err := writerRates(ctx, srv, tmp, nrows, round)
		if err != nil {
			return err
		}
		raws, lives, replays = append(raws, raw), append(lives, writer.live), append(replays, writer.replay)
	}
	raw, writer := median(raws), writerResult{live: median(lives), replay: median(replays)}
	fmt.Printf("(medians of 3 rounds; live/raw per round: %.0f%%, %.0f%%, %.0f%%)\n", 100*lives[0]/raws[0], 100*lives[1]/raws[1], 100*lives[2]/raws[2])
	fmt.Printf("raw clickhouse-go PrepareBatch:        %7.0f rows/s\n", raw)
	fmt.Printf("buffer writer, live (append + drain):  %7.0f rows/s   %3.0f%% of raw (goal ≥ 80%%)\n", writer.live, 100*writer.live/raw)
	fmt.Printf("buffer writer, replay from the log:    %7.0f rows/s   %3.0f%% of raw\n", writer.replay, 100*writer.replay/raw)
	return nil
}

func httpIngest(ctx context.Context, crumbBin string, srv *chserver.Server, tmp string, d time.Duration, conns int) error {
	fmt.Printf("\n== HTTP ingest (wrk -t2 -c%d -d%s, load generator on the same 2 cores)\n", conns, d)
	body1, body10, err := bodies(ctx, crumbBin, srv, tmp)
	if err != nil {
		return err
	}
	bare1, err := bareHandler(body1.bare, d, conns)
	if err != nil {
		return err
	}
	bare10, err := bareHandler(body10.bare, d, conns)
	if err != nil {
		return err
	}
	e2e1, rss1, err := endToEnd(ctx, crumbBin, srv, tmp, body1, d, conns, 1, false)
	if err != nil {
		return err
	}
	e2e10, rss10, err := endToEnd(ctx, crumbBin, srv, tmp, body10, d, conns, 10, false)
	if err != nil {
		return err
	}
	spread, rssSpread, err := endToEnd(ctx, crumbBin, srv, tmp, body1, d, conns, 1, true)
	if err != nil {
		return err
	}
	fmt.Printf("%-34s %12s %12s %8s\n", "", "bare req/s", "crumb req/s", "ratio")
	fmt.Printf("%-34s %12.0f %12.0f %7.0f%%   (goal ≥ 50%%)\n", "1 event per request", bare1, e2e1.reqs, 100*e2e1.reqs/bare1)
	fmt.Printf("%-34s %12.0f %12.0f %7.0f%%\n", "10 events per request", bare10, e2e10.reqs, 100*e2e10.reqs/bare10)
	fmt.Printf("end-to-end events/s (202 → rows in ClickHouse): %.0f at 1/request, %.0f at 10/request\n", e2e1.events, e2e10.events)
	fmt.Printf("crumb peak RSS: %.0f MB at 1/request, %.0f MB at 10/request   (goal ≤ 150 MB)\n", rss1, rss10)
	fmt.Printf("1 event per request, every request from another network (GeoIP and reverse DNS each time): %.0f req/s, %.0f events/s end to end, peak RSS %.0f MB (with the GeoIP files' mapped pages)\n",
		spread.reqs, spread.events, rssSpread)

	return nil
}

type body struct {
	bare  string // same shape, what the bare handler parses
	crumb string
	site  string
}

// bodies starts crumb once to create a site and get a consent token, and
// returns request bodies with 1 and 10 events.
func bodies(ctx context.Context, crumbBin string, srv *chserver.Server, tmp string) (body, body, error) {
	db, err := clickhouse.Open(ctx, srv.URL("bench"), nil)
	if err != nil {
		return body{}, body{}, err
	}
	defer db.Close()
	migs, _ := migrations.All()
	if _, err := db.Migrate(ctx, migs); err != nil {
		return body{}, body{}, err
	}
	site := model.NewSite("benchsite", "example.com", "Bench", time.Now())
	if err := db.PutSite(ctx, site); err != nil {
		return body{}, body{}, err
	}
	p, err := startCrumb(crumbBin, srv.URL("bench"), filepath.Join(tmp, "token-node"))
	if err != nil {
		return body{}, body{}, err
	}
	defer p.stop()
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/api/consent", strings.NewReader(fmt.Sprintf(
		`{"site":"benchsite","consent_id":%q,"policy_version":1,"action":"accept_all","url":"https://example.com/"}`, uuid.NewString())))
	req.Header.Set("User-Agent", browserUA)
	req.Header.Set("Origin", "https://example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return body{}, body{}, err
	}
	var res struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if res.Token == "" {
		return body{}, body{}, fmt.Errorf("no consent token (status %d)", resp.StatusCode)
	}
	mk := func(n int) body {
		evs := make([]string, n)
		for i := range evs {
			evs[i] = fmt.Sprintf(`{"type":"pageview","url":"https://example.com/products/item-%d?utm_source=newsletter","referrer":"https://www.google.com/","sw":1440,"lang":"en-US"}`, i)
		}
		b := fmt.Sprintf(`{"site":"benchsite","visitor":%q,"session":%q,"consent":%q,"events":[%s]}`,
			uuid.NewString(), uuid.NewString(), res.Token, strings.Join(evs, ","))
		return body{bare: b, crumb: b, site: "benchsite"}
	}
	return mk(1), mk(10), nil
}

// bareHandler measures a Fiber handler that parses the body and answers 204.
func bareHandler(b string, d time.Duration, conns int) (float64, error) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/api/events", func(c *fiber.Ctx) error {
		var v struct {
			Site, Visitor, Session, Consent string
			Events                          []map[string]any
		}
		if err := json.Unmarshal(c.Body(), &v); err != nil {
			return c.SendStatus(400)
		}
		return c.SendStatus(204)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go app.Listener(ln)
	defer app.Shutdown()
	r, err := wrk("http://"+ln.Addr().String()+"/api/events", b, d, conns, false)
	if err != nil {
		return 0, err
	}
	if r.non2xx > 0 {
		return 0, fmt.Errorf("bare handler answered %d errors", r.non2xx)
	}
	return r.rps, nil
}

type e2eResult struct{ reqs, events float64 }

// endToEnd loads a crumb process and waits until every acknowledged event
// is in ClickHouse.
func endToEnd(ctx context.Context, crumbBin string, srv *chserver.Server, tmp string, b body, d time.Duration, conns, perReq int, spread bool) (e2eResult, float64, error) {
	dbName := fmt.Sprintf("bench%d", perReq)
	if spread {
		dbName += "spread"
	}
	db, err := clickhouse.Open(ctx, srv.URL(dbName), nil)
	if err != nil {
		return e2eResult{}, 0, err
	}
	defer db.Close()
	migs, _ := migrations.All()
	if _, err := db.Migrate(ctx, migs); err != nil {
		return e2eResult{}, 0, err
	}
	if err := db.PutSite(ctx, model.NewSite(b.site, "example.com", "Bench", time.Now())); err != nil {
		return e2eResult{}, 0, err
	}
	p, err := startCrumb(crumbBin, srv.URL(dbName), filepath.Join(tmp, dbName))
	if err != nil {
		return e2eResult{}, 0, err
	}
	defer p.stop()
	start := time.Now()
	r, err := wrk("http://"+p.addr+"/api/events", b.crumb, d, conns, spread)
	if err != nil {
		return e2eResult{}, 0, err
	}
	want := uint64(r.total-r.non2xx) * uint64(perReq)
	for {
		var n uint64
		if err := db.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
			return e2eResult{}, 0, err
		}
		if n >= want {
			break
		}
		if time.Since(start) > d+2*time.Minute {
			return e2eResult{}, 0, fmt.Errorf("only %d of %d acknowledged events arrived", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if r.non2xx > 0 {
		fmt.Printf("  (%d of %d requests not accepted)\n", r.non2xx, r.total)
	}
	return e2eResult{reqs: r.rps, events: float64(want) / elapsed.Seconds()}, p.peakRSS(), nil
}

type crumbProc struct {
	cmd  *exec.Cmd
	addr string
}

func startCrumb(bin, url, dataDir string) (*crumbProc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "CRUMB_LISTEN="+addr, "CRUMB_DATA_DIR="+dataDir, "CRUMB_CLICKHOUSE_URL="+url,
		"CRUMB_RATE_LIMIT=0", "CRUMB_SECRET=bench-secret-bench-secret-bench-secret", "CRUMB_LOG_LEVEL=warn",
		"CRUMB_METRICS_LISTEN=off", "CRUMB_TRUSTED_PROXIES=127.0.0.1/32")
	// Enrich with the real GeoIP files when the run command has built them.
	for env, file := range map[string]string{"CRUMB_GEOIP_CITY": "crumb-data/geoip/city.mmdb", "CRUMB_GEOIP_ASN": "crumb-data/geoip/asn.mmdb"} {
		if _, err := os.Stat(file); err == nil {
			cmd.Env = append(cmd.Env, env+"="+file)
		}
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &crumbProc{cmd: cmd, addr: addr}
	for i := 0; i < 300; i++ {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("crumb did not start")
}

func (p *crumbProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

// peakRSS is the process's high-water resident set size in MB.
func (p *crumbProc) peakRSS() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	return kb / 1024
}

type wrkResult struct {
	rps           float64
	total, non2xx int
}

// wrk loads url with POSTs of b; with spread, every request comes from
// another address.
func wrk(url, b string, d time.Duration, conns int, spread bool) (wrkResult, error) {
	script, err := os.CreateTemp("", "crumb-bench-*.lua")
	if err != nil {
		return wrkResult{}, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintf(script, "wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"text/plain\"\nwrk.headers[\"User-Agent\"] = %q\nwrk.headers[\"Origin\"] = \"https://example.com\"\n", b, browserUA)
	// Every request from another address (crumb trusts the loopback
	// proxy): GeoIP and reverse DNS see a new network almost every time.
	if spread {
		script.WriteString(`math.randomseed(os.time())
request = function()
  wrk.headers["X-Forwarded-For"] = string.format("%d.%d.%d.%d", math.random(1, 223), math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format(nil)
end
`)
	}
	script.Close()
	out, err := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", conns), "-d"+d.String(), "-s", script.Name(), url).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	var r wrkResult
	if m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out); m != nil {
		r.total, _ = strconv.Atoi(string(m[1]))
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(string(m[1]))
	}
	if r.total == 0 {
		return r, fmt.Errorf("wrk reported nothing: %s", out)
	}
	return r, nil
}

// writerRates inserts n rows through the raw driver and through the buffer.
type writerResult struct{ live, replay float64 }

func writerRates(ctx context.Context, srv *chserver.Server, tmp string, n, round int) (raw float64, writer writerResult, err error) {
	now := time.Now().UTC()
	events := make([]model.Event, n)
	for i := range events {
		events[i] = model.Event{ID: uuid.New(), SiteID: "benchsite", Time: now, Type: model.Pageview, VisitorID: uuid.New(),
			SessionID: uuid.New(), Path: fmt.Sprintf("/p/%d", i%5000), Hostname: "example.com", Country: "DE", Browser: "Chrome",
			BrowserVersion: "131", OS: "Windows", Device: "desktop", Source: "Google", Channel: "Organic Search", Language: "en-US"}
	}
	open := func(name string) (*clickhouse.DB, error) {
		db, err := clickhouse.Open(ctx, srv.URL(name), nil)
		if err != nil {
			return nil, err
		}
		migs, _ := migrations.All()
		_, err = db.Migrate(ctx, migs)
		return db, err
	}
	rawDB, err := open(fmt.Sprintf("%s_%d", "bench_raw", round))
	if err != nil {
		return 0, writer, err
	}
	defer rawDB.Close()
	const batch = 5000
	start := time.Now()
	for i := 0; i < n; i += batch {
		if err := rawDB.InsertEvents(ctx, events[i:min(i+batch, n)]); err != nil {
			return 0, writer, err
		}
	}
	raw = float64(n) / time.Since(start).Seconds()

	// Live: one goroutine appends as fast as it can (10 records per call, as
	// a request would), the writer drains at the same time.
	ldb, err := open(fmt.Sprintf("%s_%d", "bench_live", round))
	if err != nil {
		return 0, writer, err
	}
	defer ldb.Close()
	start = time.Now()
	lb, err := buffer.Open(buffer.Options{Dir: filepath.Join(tmp, fmt.Sprintf("live-buffer-%d", round)), BatchSize: batch, FlushInterval: 50 * time.Millisecond, MaxRecords: n + 1}, ldb)
	if err != nil {
		return 0, writer, err
	}
	if err := appendTens(lb, events); err != nil {
		return 0, writer, err
	}
	if err := lb.Close(ctx); err != nil {
		return 0, writer, err
	}
	writer.live = float64(n) / time.Since(start).Seconds()

	wdb, err := open(fmt.Sprintf("%s_%d", "bench_writer", round))
	if err != nil {
		return 0, writer, err
	}
	defer wdb.Close()
	// Fill the log first (as after an outage), then time the drain alone.
	dir := filepath.Join(tmp, fmt.Sprintf("writer-buffer-%d", round))
	{
		down := &downSink{wdb}
		b, err := buffer.Open(buffer.Options{Dir: dir, BatchSize: batch, FlushInterval: time.Hour, MaxRecords: n + 1, Log: slog.New(slog.DiscardHandler)}, down)
		if err != nil {
			return 0, writer, err
		}
		if err := appendTens(b, events); err != nil {
			return 0, writer, err
		}
		cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		b.Close(cctx)
		cancel()
	}
	start = time.Now()
	b, err := buffer.Open(buffer.Options{Dir: dir, BatchSize: batch, FlushInterval: 10 * time.Millisecond, MaxRecords: n + 1}, wdb)
	if err != nil {
		return 0, writer, err
	}
	if err := b.Close(ctx); err != nil {
		return 0, writer, err
	}
	writer.replay = float64(n) / time.Since(start).Seconds()
	for _, db := range []*clickhouse.DB{ldb, wdb} {
		var stored uint64
		db.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&stored)
		if int(stored) != n {
			return 0, writer, fmt.Errorf("writer stored %d of %d rows", stored, n)
		}
	}
	return raw, writer, nil
}

// appendTens appends events to b ten at a time, as requests would.
func appendTens(b *buffer.Buffer, events []model.Event) error {
	for i := 0; i < len(events); i += 10 {
		recs := make([]buffer.Record, 0, 10)
		for j := i; j < min(i+10, len(events)); j++ {
			recs = append(recs, buffer.Record{Event: &events[j]})
		}
		if err := b.Append(recs...); err != nil {
			return err
		}
	}
	return nil
}

// downSink refuses inserts, to fill the buffer's log.
type downSink struct{ *clickhouse.DB }

func (downSink) InsertEvents(context.Context, []model.Event) error { return io.ErrClosedPipe }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
