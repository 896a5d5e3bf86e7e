package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

// The attacks an outsider or the holder of a public share link can try
// against a fresh `crumb serve`, replayed over real HTTP. Each is refused
// with a 4xx, and crumb stays up and small.

// target is a crumb process with one site, a share link and an API token.
type target struct {
	*node
	db    *clickhouse.DB
	site  string
	share string
	token string
}

func newTarget(t *testing.T, env ...string) *target {
	t.Helper()
	ctx := context.Background()
	url := chtest.NewDatabaseURL(t)
	env = append([]string{"CRUMB_CLICKHOUSE_URL=" + url}, env...)
	if out, err := crumbCommand(env, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	db, err := clickhouse.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	site := model.NewSite("atk001", "example.com", "Attacked", time.Now())
	if err := db.PutSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	out, err := crumbCommand(env, "share", "add", "--site", site.ID, "--name", "public")
	if err != nil {
		t.Fatalf("share add: %v\n%s", err, out)
	}
	share := regexp.MustCompile(`/share/([A-Za-z0-9_-]+)`).FindStringSubmatch(out)
	if share == nil {
		t.Fatalf("no share link in %q", out)
	}
	out, err = crumbCommand(env, "token", "add", "--name", "attacks")
	if err != nil {
		t.Fatalf("token add: %v\n%s", err, out)
	}
	n := startNode(t, t.TempDir(), env...)
	return &target{node: n, db: db, site: site.ID, share: share[1], token: regexp.MustCompile(`crumb_\S+`).FindString(out)}
}

// send makes one request and returns its status and body; a transport
// error fails the test (the process must answer everything).
func (tg *target) send(t *testing.T, method, path string, body []byte, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+tg.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("User-Agent", browserUA)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\ncrumb's log:\n%s", method, path, err, lastBytes(tg.log.String(), 4000))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// refused fails unless the answer is a 4xx with a JSON error.
func refused(t *testing.T, what string, code int, body string) {
	t.Helper()
	if code < 400 || code > 499 || !strings.Contains(body, `"error"`) {
		t.Errorf("%s: got %d %.200s, want a 4xx JSON error", what, code, body)
	}
}

// healthy fails unless the process answers /healthz and stays under the
// memory it may use.
func (tg *target) healthy(t *testing.T) {
	t.Helper()
	start := time.Now()
	if code, body := tg.send(t, "GET", "/healthz", nil); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("healthz took %v", d)
	}
	if rss := rssMB(tg.cmd.Process.Pid); rss > 150 {
		t.Errorf("RSS %d MB, want at most 150", rss)
	}
}

func rssMB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb / 1024
}

func gzipped(t *testing.T, data []byte, times int) []byte {
	t.Helper()
	for i := 0; i < times; i++ {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(data)
		w.Close()
		data = buf.Bytes()
	}
	return data
}

func TestAttack_PageOverflowDoesNotStopServer(t *testing.T) {
	tg := newTarget(t)
	big := "limit=1000&page=9223372036854777"
	for _, path := range []string{
		"/breakdown/country?period=today&" + big,
		"/breakdown/entry_page?period=today&" + big,
		"/breakdown/exit_page?period=today&" + big,
		"/breakdown/page?period=today&filters=country%3D%3DDE&" + big,
		"/consent/breakdown/country?period=today&" + big,
		"/breakdown/country?period=today&limit=9223372036854775807",
		"/breakdown/country?period=today&limit=1&page=-9223372036854775808",
		"/breakdown/country?period=today&page=99999999999999999999999",
		"/paths?period=today&page=/&limit=9223372036854775807",
		"/realtime?limit=-1",
		"/consent/cookies?period=today&limit=1e9",
	} {
		code, body := tg.send(t, "GET", "/api/v1/stats/"+tg.site+path+"&share="+tg.share, nil)
		refused(t, path, code, body)
	}
	tg.healthy(t)
}

func TestAttack_CompressionBombIsRefusedCheaply(t *testing.T) {
	tg := newTarget(t)
	// 1 GiB of zeros, gzipped twice: about 2 KB on the wire.
	zeros := make([]byte, 1<<20)
	var once bytes.Buffer
	w, _ := gzip.NewWriterLevel(&once, gzip.BestCompression)
	for i := 0; i < 1024; i++ {
		w.Write(zeros)
	}
	w.Close()
	bomb := gzipped(t, once.Bytes(), 1)
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}

	code, body := tg.send(t, "POST", "/api/events", bomb, "Content-Encoding", "gzip, gzip")
	if code != 415 {
		t.Errorf("chained encodings: %d %s, want 415", code, body)
	}
	code, body = tg.send(t, "POST", "/api/events", once.Bytes()[:60<<10], "Content-Encoding", "gzip")
	if code != 413 {
		t.Errorf("gzip expanding past the body limit: %d %s, want 413", code, body)
	}
	code, body = tg.send(t, "POST", "/api/events", []byte("not gzip at all"), "Content-Encoding", "gzip")
	refused(t, "a body that is not gzip", code, body)
	code, body = tg.send(t, "POST", "/api/events", []byte("{}"), "Content-Encoding", "br")
	if code != 415 {
		t.Errorf("br: %d %s, want 415", code, body)
	}

	// A flood of them, 8 at a time: each answered in under a second.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				start := time.Now()
				code, body := tg.send(t, "POST", "/api/events", once.Bytes()[:60<<10], "Content-Encoding", "gzip")
				refused(t, "flooded gzip bomb", code, body)
				mu.Lock()
				slowest = max(slowest, time.Since(start))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if slowest > time.Second {
		t.Errorf("slowest answer in the flood took %v", slowest)
	}
	tg.healthy(t)

	// A small gzipped batch is still read (and here refused for want of
	// consent, which only its decoded body can tell).
	code, body = tg.send(t, "POST", "/api/events", gzipped(t, []byte(`{"site":"`+tg.site+`","events":[{"type":"pageview","url":"https://example.com/"}]}`), 1),
		"Content-Encoding", "gzip", "Origin", "https://example.com")
	if code != 403 || !strings.Contains(body, "consent") {
		t.Errorf("small gzipped batch: %d %s, want it decoded and refused for want of consent", code, body)
	}
}

func TestAttack_ErasureOfUnknownIDsQueuesNoMutation(t *testing.T) {
	tg := newTarget(t, "CRUMB_FLUSH_INTERVAL=200ms")
	ctx := context.Background()
	var limited int
	for i := 0; i < 40; i++ {
		code, body := tg.send(t, "DELETE", "/api/me?site="+tg.site, nil, "X-Crumb-Visitor", uuid.NewString())
		switch code {
		case 202:
		case 429:
			limited++
		default:
			t.Fatalf("erasure %d: %d %s", i, code, body)
		}
	}
	if limited == 0 {
		t.Error("40 erasure requests from one address within a second were all accepted; want a rate limit")
	}
	time.Sleep(2 * time.Second) // several flushes of the buffer
	var n uint64
	// The migrations' own mutations (on empty tables) are not counted.
	if err := tg.db.Conn().QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND command NOT LIKE '%WHERE 1 = 1'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d mutations for erasures of IDs without rows, want 0", n)
	}
	tg.healthy(t)
}

// TestAttack_HostileRequestsOnEveryRoute sends every public route
// malformed, oversized, compressed, overflowing and unauthenticated
// requests.
func TestAttack_HostileRequestsOnEveryRoute(t *testing.T) {
	tg := newTarget(t, "CRUMB_RATE_LIMIT=100000")
	s := tg.site
	stats := []string{"overview", "timeseries", "breakdown/page", "paths?page=/", "realtime", "consent/overview",
		"consent/timeseries", "consent/breakdown/country", "consent/cookies", "proof/export", "proof/" + uuid.NewString()}
	oversized := bytes.Repeat([]byte("x"), 70<<10)
	bomb := gzipped(t, make([]byte, 8<<20), 1)
	bad := []struct {
		name    string
		body    []byte
		headers []string
	}{
		{"malformed", []byte(`{"site":` + "\x00\xff" + `[[[`), nil},
		{"oversized", oversized, nil},
		{"compressed", bomb, []string{"Content-Encoding", "gzip"}},
		{"chained", gzipped(t, []byte("{}"), 2), []string{"Content-Encoding", "gzip, gzip"}},
	}
	for _, path := range []string{"/api/events", "/api/consent", "/api/impressions", "/login"} {
		for _, b := range bad {
			// The login form answers a browser with a redirect back to
			// itself; asked for JSON, it answers like the API.
			code, body := tg.send(t, "POST", path, b.body, append([]string{"Accept", "application/json"}, b.headers...)...)
			refused(t, b.name+" POST "+path, code, body)
		}
	}
	for _, path := range []string{"/api/me?site=" + s, "/api/me?site=%00", "/api/me"} {
		for _, method := range []string{"GET", "DELETE"} {
			code, body := tg.send(t, method, path, nil, "X-Crumb-Visitor", "../../etc/passwd")
			refused(t, method+" "+path, code, body)
		}
	}
	for _, path := range []string{"/api/sites/%00/config", "/api/sites/" + strings.Repeat("a", 3000) + "/config",
		"/share/nope", "/t/" + strings.Repeat("%2e", 300), "/dashboard/api/session"} {
		code, body := tg.send(t, "GET", path, nil)
		refused(t, "GET "+path, code, body)
	}
	for _, route := range stats {
		sep := "?"
		if strings.Contains(route, "?") {
			sep = "&"
		}
		base := "/api/v1/stats/" + s + "/" + route
		// Unauthenticated, with a made-up share link and with a made-up token.
		code, body := tg.send(t, "GET", base, nil)
		refused(t, "no credential "+route, code, body)
		code, body = tg.send(t, "GET", base+sep+"share=nope", nil)
		refused(t, "unknown share "+route, code, body)
		code, body = tg.send(t, "GET", base, nil, "Authorization", "Bearer crumb_nope")
		refused(t, "unknown token "+route, code, body)
		// Overflowing and malformed parameters, with a real token.
		for _, q := range []string{"limit=99999999999999999999", "page=9223372036854775807&limit=1000", "from=9999-99-99&to=0000-00-00",
			"period=custom&from=0001-01-01&to=9999-12-31", "interval=hour&period=12mo", "filters=" + strings.Repeat("%28", 2000), "metrics=" + strings.Repeat("visitors,", 600)} {
			code, body := tg.send(t, "GET", base+sep+q, nil, "Authorization", "Bearer "+tg.token)
			if code >= 500 {
				t.Errorf("GET %s%s%s: %d %.200s", base, sep, q, code, body)
			}
		}
	}
	tg.healthy(t)
}

// TestAttack_ShareLinkFloodIsLimited: the holder of a public share link
// sending request after request gets 429 past --share-rate-limit (300 a
// minute by default) from one address, while the site's own API token
// still gets answers.
func TestAttack_ShareLinkFloodIsLimited(t *testing.T) {
	tg := newTarget(t)
	path := "/api/v1/stats/" + tg.site + "/realtime?share=" + tg.share
	codes := map[int]int{}
	for i := 0; i < 310; i++ {
		code, _ := tg.send(t, "GET", path, nil)
		codes[code]++
	}
	if codes[200] != 300 || codes[429] != 10 {
		t.Errorf("310 share-link requests in a minute answered %v, want 300 × 200 and 10 × 429", codes)
	}
	code, body := tg.send(t, "GET", path, nil)
	refused(t, "a share-link request past the limit", code, body)
	code, body = tg.send(t, "GET", "/api/v1/stats/"+tg.site+"/realtime", nil, "Authorization", "Bearer "+tg.token)
	if code != 200 {
		t.Errorf("the site's API token after the flood: %d %s", code, body)
	}
	tg.healthy(t)
}
