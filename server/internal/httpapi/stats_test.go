package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sync/semaphore"

	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/metrics"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func TestMain(m *testing.M) { chtest.Main(m) }

// newApp returns the HTTP edge over the report fixture; requests carry
// ownerToken unless they say otherwise.
func newApp(t *testing.T) (*fiber.App, reporttest.Fixture) {
	t.Helper()
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	now := func() time.Time { return reporttest.Now }
	sites := reporttest.Sites{f.Site.ID: &f.Site}
	svc := report.New(db.Conn(), sites, report.Options{Now: now})
	return newServer(t, httpapi.Deps{Report: svc, Sites: testSites{f.Site.ID: &f.Site}, Now: now}), f
}

type statsResponse struct {
	code int
	body []byte
	typ  string
}

func get(t *testing.T, app *fiber.App, path string) statsResponse {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+ownerToken)
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return statsResponse{res.StatusCode, b, res.Header.Get("Content-Type")}
}

const base = "/api/v1/stats/" + reporttest.Site
const period = "period=custom&from=2026-03-08&to=2026-03-10"

// goldens are compared with testdata/golden; the report package's tests
// check the same numbers by hand (see reporttest for the fixture).
var goldens = []struct{ name, path string }{
	{"overview", "/overview?" + period + "&compare=previous_period"},
	{"overview_country_de", "/overview?" + period + "&filter=country:is:DE"},
	{"overview_source_google", "/overview?" + period + "&filter=source:is:Google"},
	{"timeseries", "/timeseries?" + period + "&compare=previous_period&metrics=visitors,visits,pageviews,bounce_rate,visit_duration,time_on_page"},
	{"breakdown_page", "/breakdown/page?" + period},
	{"breakdown_page_source_google", "/breakdown/page?" + period + "&filter=source:is:Google"},
	{"breakdown_entry_page", "/breakdown/entry_page?" + period},
	{"breakdown_exit_page", "/breakdown/exit_page?" + period},
	{"breakdown_channel", "/breakdown/channel?" + period},
	{"breakdown_source", "/breakdown/source?" + period},
	{"breakdown_country", "/breakdown/country?" + period},
	{"breakdown_device", "/breakdown/device?" + period},
	{"breakdown_event", "/breakdown/event?" + period},
	{"breakdown_event_prop", "/breakdown/event_prop?" + period + "&event=signup&property=plan"},
	{"breakdown_page_compared", "/breakdown/page?" + period + "&compare=previous_period"},
	{"goals", "/goals?" + period},
	{"goals_filtered", "/goals?" + period + "&filter=goal:is:Pricing"},
	{"funnel", "/funnel?" + period + "&step=page:/&step=page:/pricing&step=event:signup"},
	{"funnel_saved_day", "/funnel?" + period + "&funnel=Home+to+signup"},
	{"retention", "/retention?period=custom&from=2026-03-02&to=2026-03-15&interval=week"},
	{"paths", "/paths?" + period + "&page=/"},
	{"realtime", "/realtime"},
	{"consent_overview", "/consent/overview?" + period},
	{"consent_timeseries", "/consent/timeseries?" + period},
	{"consent_country", "/consent/breakdown/country?" + period},
	{"consent_cookies", "/consent/cookies?" + period},
	{"consent_cookies_page", "/consent/cookies?" + period + "&by=page"},
	{"proof", "/proof/CONSENT1"},
	{"proof_export", "/proof/export?from=2026-03-08&to=2026-03-10"},
	{"overview_withheld", "/overview?" + period + "&filter=entry_page:is:/blog"},
	{"breakdown_page_withheld", "/breakdown/page?" + period + "&filter=entry_page:is:/blog"},
	{"csv_breakdown_page_withheld", "/breakdown/page?" + period + "&filter=entry_page:is:/blog&format=csv"},
	{"csv_overview", "/overview?" + period + "&compare=previous_period&format=csv"},
	{"csv_breakdown_page", "/breakdown/page?" + period + "&format=csv"},
	{"csv_breakdown_page_compared", "/breakdown/page?" + period + "&compare=previous_year&format=csv"},
	{"csv_funnel", "/funnel?" + period + "&step=page:/&step=page:/pricing&step=event:signup&window=7d&format=csv"},
	{"csv_retention", "/retention?period=custom&from=2026-03-02&to=2026-03-15&format=csv"},
	{"csv_consent_country", "/consent/breakdown/country?" + period + "&format=csv"},
	{"csv_proof_export", "/proof/export?from=2026-03-08&to=2026-03-10&format=csv"},
}

func TestAPI_Golden(t *testing.T) {
	app, f := newApp(t)
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			path := strings.ReplaceAll(base+g.path, "CONSENT1", f.Consent1.String())
			res := get(t, app, path)
			if res.code != 200 {
				t.Fatalf("GET %s: %d %s", path, res.code, res.body)
			}
			got := res.body
			ext := ".csv"
			if !strings.HasPrefix(g.name, "csv_") {
				ext = ".json"
				var buf bytes.Buffer
				if err := json.Indent(&buf, got, "", "  "); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, got)
				}
				got = append(buf.Bytes(), '\n')
			}
			file := filepath.Join("testdata", "golden", g.name+ext)
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("GET %s differs from %s:\n%s", path, file, got)
			}
		})
	}
}

// TestAPI_HandChecked ties the goldens to the hand-worked numbers of the
// fixture (reporttest), independently of the golden files.
func TestAPI_HandChecked(t *testing.T) {
	app, _ := newApp(t)
	var o struct {
		Metrics  map[string]float64  `json:"metrics"`
		Previous map[string]float64  `json:"previous"`
		Change   map[string]*float64 `json:"change"`
	}
	decode(t, get(t, app, base+"/overview?"+period+"&compare=previous_period"), &o)
	for m, want := range map[string]float64{"visitors": 8, "returning_visitors": 1, "visits": 9, "pageviews": 17,
		"anonymous_pageviews": 3, "views_per_visit": 1.56, "bounce_rate": 33.3, "visit_duration": 26.3, "time_on_page": 8.4, "events": 30} {
		if o.Metrics[m] != want {
			t.Errorf("%s = %v, want %v", m, o.Metrics[m], want)
		}
	}
	if o.Previous["visitors"] != 3 || o.Previous["bounce_rate"] != 66.7 || *o.Change["visitors"] != 166.7 || o.Change["returning_visitors"] != nil {
		t.Errorf("comparison: %+v %+v", o.Previous, o.Change)
	}
	var b struct {
		Rows   []map[string]any `json:"rows"`
		Other  map[string]any   `json:"other"`
		Totals map[string]any   `json:"totals"`
	}
	decode(t, get(t, app, base+"/breakdown/page?"+period), &b)
	if len(b.Rows) != 2 || b.Rows[0]["value"] != "/" || b.Rows[0]["visitors"] != 6.0 || b.Rows[0]["pageviews"] != 9.0 ||
		b.Rows[1]["value"] != "/pricing" || b.Rows[1]["time_on_page"] != 7.5 || b.Other["visitors"] != 3.0 || b.Totals["visitors"] != 8.0 {
		t.Errorf("pages: %+v other %+v totals %+v", b.Rows, b.Other, b.Totals)
	}
	// The CSV holds the same numbers.
	csv := string(get(t, app, base+"/breakdown/page?"+period+"&format=csv").body)
	for _, line := range []string{"page,visitors,visits,pageviews,time_on_page", "/,6,7,9,5", "/pricing,3,4,5,7.5", "(other),3,3,3,17.3", "(total),8,9,17,8.4"} {
		if !strings.Contains(csv, line+"\n") {
			t.Errorf("CSV lacks %q:\n%s", line, csv)
		}
	}
}

func decode(t *testing.T, r statsResponse, v any) {
	t.Helper()
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}

// TestAPI_NoIDsNoSmallRows walks every aggregate endpoint — every
// dimension, filters, comparison, both formats — and checks that no
// response holds a stored visitor, session, consent, event, decision or
// impression ID, and that no breakdown row covers fewer than k visitors
// (consent IDs for consent rows, impressions for cookie rows). The proof
// endpoints, which exist to show consent IDs, must show them.
func TestAPI_NoIDsNoSmallRows(t *testing.T) {
	app, f := newApp(t)
	var paths []string
	queries := []string{period, period + "&filter=country:is:DE", period + "&filter=source:is:Google&compare=1", "period=7d", "period=today", "period=30d&filter=page:is_not:/"}
	for _, q := range queries {
		paths = append(paths, "/overview?"+q+"&compare=1", "/timeseries?"+q+"&metrics=visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration,time_on_page,events,anonymous_pageviews",
			"/timeseries?"+q+"&interval=hour", "/paths?"+q+"&page=/", "/paths?"+q+"&page=/pricing", "/paths?"+q+"&page=/blog")
		for _, d := range query.Dimensions() {
			extra := ""
			if d == query.DimEventProp {
				extra = "&event=signup&property=plan"
			}
			paths = append(paths, "/breakdown/"+string(d)+"?"+q+extra, "/breakdown/"+string(d)+"?"+q+extra+"&limit=1&page=2")
		}
		if !strings.Contains(q, "source") && !strings.Contains(q, "page:") {
			paths = append(paths, "/consent/overview?"+q, "/consent/timeseries?"+q, "/consent/cookies?"+q, "/consent/cookies?"+q+"&by=page")
			for _, d := range query.ConsentDimensions {
				paths = append(paths, "/consent/breakdown/"+string(d)+"?"+q)
			}
		}
	}
	paths = append(paths, "/realtime", "/breakdown/event_prop?"+period+"&event=signup")
	var ids []string
	for _, id := range f.IDs {
		s := id.String()
		ids = append(ids, s, strings.ToUpper(s), strings.ReplaceAll(s, "-", ""))
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range work {
				res := get(t, app, path)
				if res.code != 200 {
					t.Errorf("GET %s: %d %s", path, res.code, res.body)
					continue
				}
				body := string(res.body)
				for _, id := range ids {
					if strings.Contains(body, id) {
						t.Errorf("GET %s: the response holds the stored ID %s", path, id)
					}
				}
				if !strings.Contains(path, "format=csv") {
					checkRows(t, path, res.body)
				}
			}
		}()
	}
	for _, p := range paths {
		sep := "&"
		if !strings.Contains(p, "?") {
			sep = "?"
		}
		work <- base + p
		work <- base + p + sep + "format=csv"
	}
	close(work)
	wg.Wait()
	// The proof of consent shows the consent ID.
	for _, p := range []string{"/proof/" + f.Consent1.String(), "/proof/export?from=2026-03-08&to=2026-03-10", "/proof/export?from=2026-03-08&to=2026-03-10&format=csv"} {
		res := get(t, app, base+p)
		if res.code != 200 || !strings.Contains(string(res.body), f.Consent1.String()) {
			t.Errorf("GET %s: %d, consent ID missing: %.300s", p, res.code, res.body)
		}
	}
	t.Logf("%d responses checked", 2*len(paths))
}

// checkRows finds every breakdown row of a JSON response and checks it
// covers at least k.
func checkRows(t *testing.T, path string, body []byte) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Errorf("GET %s: %v", path, err)
		return
	}
	k := float64(reporttest.K)
	check := func(key string, rows any) {
		list, _ := rows.([]any)
		if m, ok := rows.(map[string]any); ok {
			list = []any{m}
		}
		for _, r := range list {
			row := r.(map[string]any)
			var n float64
			switch {
			case row["consents"] != nil:
				n = row["consents"].(float64)
			case row["visitors"] != nil:
				n = row["visitors"].(float64)
			case row["impressions"] != nil:
				n = row["impressions"].(float64)
			default:
				t.Errorf("GET %s: %s row without a count: %v", path, key, row)
				continue
			}
			if n < k {
				t.Errorf("GET %s: %s row %v covers %v < k = %v", path, key, row["value"], n, k)
			}
		}
	}
	for _, key := range []string{"rows", "other", "previous_other", "next_other", "pages", "pages_other"} {
		if v, ok := doc[key]; ok && v != nil {
			check(key, v)
		}
	}
	// Paths: previous and next are lists of rows there (not the previous
	// period's metrics, which are an object).
	for _, key := range []string{"previous", "next"} {
		if v, ok := doc[key].([]any); ok && doc["page"] != nil {
			check(key, v)
		}
	}
}

func TestAPI_Errors(t *testing.T) {
	// The credentials: none, a token of another site, a share link of the
	// site (no proof of consent) and a token of the site.
	creds := map[string][]string{
		"stranger": {"Authorization", "Bearer " + strangerToken},
		"viewer":   {"X-Crumb-Share", shareID},
		"owner":    {"Authorization", "Bearer " + ownerToken},
	}
	app, f := newApp(t)
	for _, tc := range []struct {
		path, auth string
		code       int
	}{
		{"/overview?" + period, "", 401},
		{"/overview?" + period, "stranger", 403},
		{"/overview?" + period, "viewer", 200},
		{"/proof/" + f.Consent1.String(), "viewer", 403},
		{"/proof/export?from=2026-03-08&to=2026-03-10", "viewer", 403},
		{"/proof/" + f.Consent1.String(), "owner", 200},
		{"/proof/6f0c1d7e-1a2b-4c3d-8e4f-5a6b7c8d9e0f", "owner", 404},
		{"/proof/not-a-uuid", "owner", 400},
		{"/proof/export?from=2026-03-08", "owner", 400},
		{"/proof/export?from=2024-01-01&to=2026-03-10", "owner", 400},
		{"/proof/export?from=2026-03-08&to=2026-03-10&format=xml", "owner", 400},
		{"/overview?period=yesterday", "viewer", 400},
		{"/overview?" + period + "&filter=colour:is:red", "viewer", 400},
		{"/overview?" + period + "&filter=country", "viewer", 400},
		{"/overview?" + period + "&format=xml", "viewer", 400},
		{"/overview?%zz", "viewer", 400},
		{"/timeseries?" + period + "&metrics=visitors,colour", "viewer", 400},
		{"/timeseries?period=12mo&interval=hour", "viewer", 400},
		{"/breakdown/colour?" + period, "viewer", 400},
		{"/breakdown/page?" + period + "&limit=0", "viewer", 400},
		{"/breakdown/page?" + period + "&page=-1", "viewer", 400},
		{"/breakdown/event_prop?" + period, "viewer", 400},
		{"/paths?" + period, "viewer", 400},
		{"/realtime?limit=5000", "viewer", 400},
		{"/realtime?filter=page:is:/x", "viewer", 400},                       // the whole site's: a filter would be ignored
		{"/realtime?" + period, "viewer", 200},                               // the period is the last minutes, whatever is asked
		{"/breakdown/page?" + period + "&limit=100&page=101", "viewer", 400}, // rows 10,001–10,100
		{"/consent/overview?" + period + "&filter=browser:is:Chrome", "viewer", 400},
		{"/consent/breakdown/browser?" + period, "viewer", 400},
		{"/consent/cookies?" + period + "&by=visitor", "viewer", 400},
		{"/nothing-here", "viewer", 404},
	} {
		req := httptest.NewRequest("GET", base+tc.path, nil)
		if c := creds[tc.auth]; c != nil {
			req.Header.Set(c[0], c[1])
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.code {
			t.Errorf("GET %s (%s): %d %s, want %d", tc.path, tc.auth, res.StatusCode, body, tc.code)
		}
		if tc.code != 200 {
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Errorf("GET %s: error body %q is not {\"error\": …}", tc.path, body)
			}
		}
	}
	// An unknown site is a 404 once the credentials let the request in.
	req := httptest.NewRequest("GET", "/api/v1/stats/nope/overview?"+period, nil)
	req.Header.Set("Authorization", "Bearer "+allToken)
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 404 {
		t.Errorf("unknown site: %d", res.StatusCode)
	}
}

// TestOversizedRequest_431: a request line and headers longer than the read
// buffer (8 KiB) get 431 with a JSON error from the real listener.
func TestOversizedRequest_431(t *testing.T) {
	app := newServer(t, httpapi.Deps{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	defer app.Shutdown()
	// The server answers once its header buffer is full and closes: the
	// client may still be writing the rest, and then sees a reset instead
	// of the answer. Asked again, it reads the answer.
	var res *http.Response
	for try := 0; try < 5; try++ {
		if res, err = http.Get("http://" + ln.Addr().String() + "/api/v1/stats/site1/overview?x=" + strings.Repeat("%BA", 4000)); err == nil || !errors.Is(err, syscall.ECONNRESET) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var e struct{ Error string }
	if res.StatusCode != 431 || json.Unmarshal(body, &e) != nil || e.Error == "" {
		t.Fatalf("%d %s, want 431 with a JSON error", res.StatusCode, body)
	}
}

// TestStats_HeavyRequestsTakeTurns: heavy requests (with filters, or
// reading every event or visit of their range) run a few at a time; one
// that finds no turn within the stats timeout gets a 503 with
// Retry-After, and the others never wait.
func TestStats_HeavyRequestsTakeTurns(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	now := func() time.Time { return reporttest.Now }
	svc := report.New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, report.Options{Now: now})
	turns, shared := semaphore.NewWeighted(1), semaphore.NewWeighted(1)
	m := metrics.New()
	app := newServer(t, httpapi.WithHeavyTurns(httpapi.Deps{Report: svc, Sites: testSites{f.Site.ID: &f.Site}, Now: now,
		StatsTimeout: time.Second, Metrics: m}, turns, shared))
	filtered := base + "/overview?" + period + "&filter=country:is:DE"
	if r := get(t, app, filtered); r.code != 200 {
		t.Fatalf("filtered, a turn free: %d %s", r.code, r.body)
	}
	// Every turn taken (by other filtered requests still running).
	if !turns.TryAcquire(1) {
		t.Fatal("the turn was not given back")
	}
	start := time.Now()
	if r := get(t, app, base+"/overview?"+period); r.code != 200 {
		t.Fatalf("without filters: %d %s", r.code, r.body)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("a request without filters waited %s", d)
	}
	// A malformed filter is refused at once, without waiting for a turn.
	start = time.Now()
	if r := get(t, app, base+"/overview?"+period+"&filter=country:like:DE"); r.code != 400 || !strings.Contains(string(r.body), "filter") {
		t.Errorf("malformed filter, no turn: %d %s, want 400 naming the filter", r.code, r.body)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("a malformed filter waited %s for its 400", d)
	}
	req := httptest.NewRequest("GET", filtered, nil)
	req.Header.Set("Authorization", "Bearer "+ownerToken)
	start = time.Now()
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "busy") {
		t.Errorf("filtered, no turn: %d %q %s, want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if d := time.Since(start); d < time.Second || d > 1900*time.Millisecond {
		t.Errorf("waited %s for a turn, want about 1 s (the stats timeout)", d)
	}
	// A turn given back while a request waits: it runs.
	done := make(chan statsResponse, 1)
	go func() { done <- get(t, app, filtered) }()
	time.Sleep(200 * time.Millisecond)
	turns.Release(1)
	if r := <-done; r.code != 200 {
		t.Errorf("filtered, a turn given back: %d %s", r.code, r.body)
	}
	// The operator sees the waits.
	var h dto.Metric
	if err := m.HeavyWait.Write(&h); err != nil {
		t.Fatal(err)
	}
	if n, sum := h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum(); n != 3 || sum < 1.1 {
		t.Errorf("crumb_stats_heavy_wait_seconds: %d waits, %.2f s in all; want 3 (one of them over 1 s)", n, sum)
	}
	var g dto.Metric
	if err := m.HeavyWaiting.Write(&g); err != nil || g.GetGauge().GetValue() != 0 {
		t.Errorf("crumb_stats_heavy_waiting = %v (%v), want 0 after the requests", g.GetGauge().GetValue(), err)
	}

	// Share links take turns of their own: a public link's heavy requests
	// can neither hold the turns of the site's logins and API tokens nor
	// wait for them.
	funnel := base + "/funnel?" + period + "&step=page:/&step=page:/pricing"
	viaShare := func() (int, time.Duration) {
		t.Helper()
		req := httptest.NewRequest("GET", funnel, nil)
		req.Header.Set("X-Crumb-Share", shareID)
		start := time.Now()
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, time.Since(start)
	}
	if !shared.TryAcquire(1) {
		t.Fatal("the share links' turn was not free")
	}
	start = time.Now()
	if r := get(t, app, funnel); r.code != 200 || time.Since(start) > 900*time.Millisecond {
		t.Errorf("API token, the share links' turn taken: %d after %s, want 200 without a wait", r.code, time.Since(start))
	}
	if code, d := viaShare(); code != 503 || d < time.Second {
		t.Errorf("share link, its turn taken: %d after %s, want 503 after the 1 s wait", code, d)
	}
	shared.Release(1)
	if !turns.TryAcquire(1) {
		t.Fatal("the turn was not given back")
	}
	if code, d := viaShare(); code != 200 || d > 900*time.Millisecond {
		t.Errorf("share link, the logins' turn taken: %d after %s, want 200 without a wait", code, d)
	}
	turns.Release(1)

	// Without filters, what reads every event or visit of its range waits
	// for a turn too; what reads the per-day tables does not.
	if !turns.TryAcquire(1) {
		t.Fatal("the turn was not given back")
	}
	t.Cleanup(func() { turns.Release(1) }) // after the parallel subtests
	for path, heavy := range map[string]bool{
		"/paths?" + period + "&page=/":                            true,
		"/funnel?" + period + "&step=page:/&step=page:/pricing":   true,
		"/retention?" + period:                                    true,
		"/goals?" + period:                                        true,
		"/breakdown/entry_page?" + period:                         true,
		"/breakdown/visits_per_visitor?" + period:                 true,
		"/breakdown/page?" + period:                               false,
		"/timeseries?" + period + "&metrics=visitors,bounce_rate": false,
		"/consent/breakdown/country?" + period:                    false,
		"/overview?" + period + "&compare=previous_period":        false,
	} {
		t.Run(strings.TrimPrefix(path[:strings.Index(path, "?")], "/"), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := get(t, app, base+path)
			d := time.Since(start)
			switch {
			case heavy && (r.code != 503 || d < time.Second):
				t.Errorf("%s, every turn taken: %d after %s, want 503 after the 1 s wait: %.200s", path, r.code, d, r.body)
			case !heavy && (r.code != 200 || d > 900*time.Millisecond):
				t.Errorf("%s, every turn taken: %d after %s, want 200 without a wait: %.200s", path, r.code, d, r.body)
			}
		})
	}
}

// TestStats_ShareLinksAreLimitedPerAddress: a share link is public, so its
// stats requests are limited per client address (429 with Retry-After and
// a JSON message past the limit); logins and API tokens are not.
func TestStats_ShareLinksAreLimitedPerAddress(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	now := func() time.Time { return reporttest.Now }
	svc := report.New(db.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, report.Options{Now: now})
	// Requests come through a trusted proxy (app.Test's peer), which names
	// the client in X-Forwarded-For.
	app := newServer(t, httpapi.Deps{Report: svc, Sites: testSites{f.Site.ID: &f.Site}, Now: now, ShareRateLimit: 3,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}})
	send := func(from, header, value string) (int, string, string) {
		t.Helper()
		req := httptest.NewRequest("GET", base+"/realtime", nil)
		req.Header.Set("X-Forwarded-For", from)
		req.Header.Set(header, value)
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Retry-After"), string(b)
	}
	for i := 1; i <= 3; i++ {
		if code, _, body := send("192.0.2.1", "X-Crumb-Share", shareID); code != 200 {
			t.Fatalf("share link, request %d of 3: %d %s", i, code, body)
		}
	}
	code, retry, body := send("192.0.2.1", "X-Crumb-Share", shareID)
	var msg struct{ Error string }
	if code != 429 || retry == "" || json.Unmarshal([]byte(body), &msg) != nil || !strings.Contains(msg.Error, "share link") {
		t.Errorf("share link, request 4 of 3: %d Retry-After %q %s; want 429 with Retry-After and a JSON error", code, retry, body)
	}
	if code, _, body := send("192.0.2.2", "X-Crumb-Share", shareID); code != 200 {
		t.Errorf("share link from another address: %d %s", code, body)
	}
	for i := 1; i <= 5; i++ {
		if code, _, body := send("192.0.2.1", "Authorization", "Bearer "+ownerToken); code != 200 {
			t.Fatalf("API token from the limited address, request %d: %d %s", i, code, body)
		}
	}
}
