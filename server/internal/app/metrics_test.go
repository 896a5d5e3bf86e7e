package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
)

// scrape reads /metrics from the metrics app.
func (f *fixture) scrape() string {
	f.t.Helper()
	resp, err := f.app.MetricsHTTP.Test(httptest.NewRequest("GET", "/metrics", nil), -1)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// serve runs the app on real loopback listeners, public and metrics, until
// the test ends, and returns their base URLs.
func (f *fixture) serve() (public, metrics string) {
	f.t.Helper()
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.t.Fatal(err)
		}
		return ln
	}
	ln, mln := listen(), listen()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.app.Serve(ctx, ln, mln) }()
	f.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.t.Error(err)
		}
	})
	return "http://" + ln.Addr().String(), "http://" + mln.Addr().String()
}

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = http.DefaultClient.Do(req); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Anyone reaching the public listener used to read login failure rates,
// stats usage and volumes at /metrics; it is served on its own listener.
func TestMetrics_PublicListenerDoesNotServeMetrics(t *testing.T) {
	f := newFixture(t, nil)
	public, metrics := f.serve()
	if code, body := get(t, public+"/healthz"); code != 200 {
		t.Fatalf("public /healthz: %d %s", code, body)
	}
	code, body := get(t, public+"/metrics")
	var e struct{ Error string }
	if code != 404 || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		t.Fatalf("public /metrics: %d %s, want a 404 JSON error", code, body)
	}
	code, body = get(t, metrics+"/metrics")
	if code != 200 || !strings.Contains(body, "# TYPE crumb_http_requests_total counter") ||
		!strings.Contains(body, `crumb_http_requests_total{code="404",route="unmatched"} 1`) {
		t.Fatalf("metrics listener /metrics: %d\n%.2000s", code, body)
	}
	if code, _ := get(t, metrics+"/healthz"); code != 404 {
		t.Fatalf("metrics listener serves other routes: /healthz %d", code)
	}
}

// With --metrics-token, a scrape without the bearer token, or with a wrong
// one, is refused.
func TestMetrics_ScrapeWithoutTheTokenIsRefused(t *testing.T) {
	const token = "metrics-token-0123456789"
	f := newFixture(t, func(c *config.Serve, _ *model.Site) { c.MetricsToken = token })
	_, metrics := f.serve()
	for name, header := range map[string][]string{
		"none": nil, "wrong": {"Authorization", "Bearer metrics-token-0123456780"},
		"basic": {"Authorization", "Basic " + token}, "empty": {"Authorization", "Bearer "},
	} {
		code, body := get(t, metrics+"/metrics", header...)
		if code != 401 || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %.200s, want a 401 JSON error", name, code, body)
		}
	}
	if code, body := get(t, metrics+"/metrics", "Authorization", "Bearer "+token); code != 200 || !strings.Contains(body, "crumb_buffer_depth") {
		t.Fatalf("with the token: %d %.200s", code, body)
	}
}
