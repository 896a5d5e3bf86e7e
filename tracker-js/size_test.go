package trackerjs_test

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/crumbhq/crumb/server/testkit/crumbtest"
	trackerjs "github.com/crumbhq/crumb/tracker-js"
)

// budget is the most t.js may weigh minified and gzipped: banner, styles
// and tracker together.
const budget = 7 * 1024

func TestSize(t *testing.T) {
	s, err := crumbtest.Build(trackerjs.Source)
	if err != nil {
		t.Fatal(err)
	}
	// The server gzips at the best level; check it independently.
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(s.JS)
	w.Close()
	t.Logf("t.js: %d bytes minified, %d bytes gzipped (budget %d)", len(s.JS), gz.Len(), budget)
	if gz.Len() > budget {
		t.Errorf("t.js is %d bytes gzipped, over the budget of %d", gz.Len(), budget)
	}
	if len(s.Gzipped) != gz.Len() {
		t.Logf("server's gzip: %d bytes", len(s.Gzipped))
	}
}
