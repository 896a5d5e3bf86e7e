package assets

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/crumbhq/crumb/dashboards"
	trackerjs "github.com/crumbhq/crumb/tracker-js"
)

func TestBuildScript(t *testing.T) {
	s, err := BuildScript(trackerjs.Source)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.JS) == 0 || len(s.Version) != 12 || s.ETag() != `"`+s.Version+`"` {
		t.Fatalf("script: %d bytes, version %q", len(s.JS), s.Version)
	}
	r, err := gzip.NewReader(bytes.NewReader(s.Gzipped))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(r); !bytes.Equal(plain, s.JS) {
		t.Fatal("the gzipped script is not the script")
	}
	again, err := BuildScript(trackerjs.Source)
	if err != nil || again.Version != s.Version {
		t.Fatalf("a second build has version %q, want %q (%v)", again.Version, s.Version, err)
	}
}

func TestBuildDashboard(t *testing.T) {
	d, err := BuildDashboard(dashboards.Web)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(d.Index, []byte("<")) || !bytes.Contains(d.Login, []byte("<")) {
		t.Fatal("no HTML pages")
	}
	for name, typ := range map[string]string{"app.js": "text/javascript", "login.js": "text/javascript", "app.css": "text/css"} {
		f, ok := d.Files[name]
		if !ok || len(f.Body) == 0 || !strings.HasPrefix(f.ContentType, typ) {
			t.Errorf("%s: %d bytes, %q", name, len(f.Body), f.ContentType)
		}
	}
}
