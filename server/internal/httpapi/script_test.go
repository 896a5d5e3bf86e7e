package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/model"
)

func TestScript_CachingAndPinning(t *testing.T) {
	app := newServer(t, httpapi.Deps{})
	s, _ := built(t)
	res := do(t, app, "GET", "/t.js", "")
	if res.code != 200 || res.raw != string(s.JS) || res.header.Get("ETag") != s.ETag() ||
		res.header.Get("Cache-Control") != "public, max-age=300" || res.header.Get("X-Crumb-Version") != s.Version {
		t.Fatalf("/t.js: %d %v", res.code, res.header)
	}
	if res := do(t, app, "GET", "/t.js", "", "If-None-Match", s.ETag()); res.code != 304 {
		t.Fatalf("/t.js with its ETag: %d", res.code)
	}
	if res := do(t, app, "GET", "/t.js", "", "Accept-Encoding", "gzip"); res.header.Get("Content-Encoding") != "gzip" || res.raw != string(s.Gzipped) {
		t.Fatalf("/t.js gzipped: %d %v", res.code, res.header)
	}
	if res := do(t, app, "GET", "/t/"+s.Version+".js", ""); res.code != 200 || !strings.Contains(res.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("pinned script: %d %v", res.code, res.header)
	}
	if res := do(t, app, "GET", "/t/0123456789ab.js", ""); res.code != 404 || res.body["error"] != "not found" {
		t.Fatalf("unknown script version: %d %s", res.code, res.raw)
	}
}

func TestDemo_NeedsTheDemoSite(t *testing.T) {
	if res := do(t, newServer(t, httpapi.Deps{}), "GET", "/demo/", ""); res.code != 404 {
		t.Fatalf("demo without a demo site: %d", res.code)
	}
	demo := model.NewSite("demo1", "localhost", "Demo", time.Now())
	app := newServer(t, httpapi.Deps{Sites: testSites{"demo1": &demo}})
	s, _ := built(t)
	res := do(t, app, "GET", "/demo/", "")
	if res.code != 200 || !strings.Contains(res.raw, "demo1") || strings.Contains(res.raw, "{{SITE}}") || strings.Contains(res.raw, "{{VERSION}}") {
		t.Fatalf("demo page: %d %.300s", res.code, res.raw)
	}
	if !strings.Contains(res.raw, s.Version) && strings.Contains(res.raw, "/t/") {
		t.Errorf("demo page does not pin the current script")
	}
	if res := do(t, app, "GET", "/demo", ""); res.code != 301 {
		t.Fatalf("/demo: %d", res.code)
	}
}
