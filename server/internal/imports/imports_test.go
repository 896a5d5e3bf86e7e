package imports_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/crumbhq/crumb/server/internal/imports"
)

// plausibleZip zips testdata/plausible (the columns of Plausible's CSV
// export), with files replaced or added by extra.
func plausibleZip(t *testing.T, extra map[string]string) string {
	t.Helper()
	files := map[string]string{}
	entries, err := os.ReadDir("testdata/plausible")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/plausible", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	for k, v := range extra {
		if v == "" {
			delete(files, k)
		} else {
			files[k] = v
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "plausible-export.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rows writes a data's rows of dim as "day value visitors/pageviews", sorted.
func rows(d *imports.Data, dim string) string {
	var out []string
	for _, r := range d.Rows {
		if r.Dim == dim {
			out = append(out, fmt.Sprintf("%s %s %d/%d", r.Date.Format("01-02"), r.Value, r.Visitors, r.Pageviews))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func TestPlausible(t *testing.T) {
	d, err := imports.Read("plausible", plausibleZip(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, x := range d.Days {
		days = append(days, fmt.Sprintf("%s %d/%d/%d/%d/%d", x.Date.Format("01-02"), x.Visitors, x.Visits, x.Pageviews, x.Bounces, x.VisitDurationSecond))
	}
	if got := strings.Join(days, ", "); got != "05-01 120/150/300/40/9000, 05-02 80/100/200/30/5000, 05-03 100/110/260/20/8800" {
		t.Errorf("days: %s", got)
	}
	// Two hostnames' rows of one page, two regions of one country: added.
	for dim, want := range map[string]string{
		"page":    "05-01 / 98/162, 05-01 /pricing 40/80, 05-02 / 60/110, 05-02 /rare 2/2, 05-03 / 70/120",
		"source":  "05-01  70/200, 05-01 Google 50/100, 05-03 Google 45/90",
		"country": "05-01 DE 50/130, 05-01 US 70/170",
		"browser": "",
	} {
		if got := rows(d, dim); got != want {
			t.Errorf("%s: %s, want %s", dim, got, want)
		}
	}
}

func TestPlausible_Refusals(t *testing.T) {
	for name, tc := range map[string]struct {
		extra map[string]string
		says  string
	}{
		"bad count": {map[string]string{"imported_pages_20260501_20260503.csv": "date,hostname,page,visits,visitors,pageviews\n2026-05-01,a,/,1,2,3\n2026-05-02,a,/,1,many,3\n"},
			`imported_pages_20260501_20260503.csv, line 3: visitors "many" is not a count`},
		"bad date": {map[string]string{"imported_visitors_20260501_20260503.csv": "date,visitors,pageviews,bounces,visits,visit_duration\n05/01/2026,1,1,1,1,1\n"},
			`line 2: date "05/01/2026" is not YYYY-MM-DD`},
		"missing column": {map[string]string{"imported_visitors_20260501_20260503.csv": "date,visitors,pageviews\n2026-05-01,1,1\n"},
			"no bounces column"},
		"no visitors file": {map[string]string{"imported_visitors_20260501_20260503.csv": ""}, "no imported_visitors_*.csv"},
		"a day twice": {map[string]string{"imported_visitors_20260504_20260504.csv": "date,visitors,pageviews,bounces,visits,visit_duration\n2026-05-01,1,1,1,1,1\n"},
			"day 2026-05-01 is in the export twice"},
		"a bare quote in the first field": {map[string]string{"imported_pages_20260501_20260503.csv": "date,hostname,page,visits,visitors,pageviews\n2026-05-01,a,/,1,2,3\na\"b,a,/,1,2,3\n"},
			`imported_pages_20260501_20260503.csv, line 3: bare " in non-quoted-field`},
		"an unterminated quote": {map[string]string{"imported_pages_20260501_20260503.csv": "date,hostname,page,visits,visitors,pageviews\n\"2026-05-01,a,/,1,2,3\n"},
			`imported_pages_20260501_20260503.csv, line 2: extraneous or missing " in quoted-field`},
		"a page of 3000 bytes": {map[string]string{"imported_pages_20260501_20260503.csv": "date,hostname,page,visits,visitors,pageviews\n2026-05-01,a,/" + strings.Repeat("x", 3000) + ",1,2,3\n"},
			"line 2: a value of 3001 bytes (at most 2048)"},
		"a page row of 1969": {map[string]string{"imported_pages_20260501_20260503.csv": "date,hostname,page,visits,visitors,pageviews\n1969-12-31,a,/,1,2,3\n"},
			"a page row of 1969-12-31 is out of range"},
	} {
		_, err := imports.Read("plausible", plausibleZip(t, tc.extra))
		var ie *imports.Error
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.says)
		}
	}
	if _, err := imports.Read("plausible", "testdata/goatcounter-v2.csv"); err == nil || !strings.Contains(err.Error(), "not a zip") {
		t.Errorf("a CSV as Plausible's zip: %v", err)
	}
	if _, err := imports.Read("matomo", "testdata/goatcounter-v2.csv"); err == nil || !strings.Contains(err.Error(), `unknown format "matomo"`) {
		t.Errorf("an unknown format: %v", err)
	}
}

func TestGoatCounter(t *testing.T) {
	raw, err := os.ReadFile("testdata/goatcounter-v2.csv")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	gzPath := filepath.Join(t.TempDir(), "export.csv.gz")
	if err := os.WriteFile(gzPath, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"testdata/goatcounter-v2.csv", gzPath} {
		d, err := imports.Read("goatcounter", file)
		if err != nil {
			t.Fatal(err)
		}
		var days []string
		for _, x := range d.Days {
			days = append(days, fmt.Sprintf("%s %d/%d/%d %v", x.Date.Format("01-02"), x.Visitors, x.Visits, x.Pageviews, x.HasVisits))
		}
		// 1 May: three sessions, four page views (the bot's left out);
		// 2 May: two sessions, two page views.
		if got := strings.Join(days, ", "); got != "05-01 3/3/4 false, 05-02 2/2/2 false" {
			t.Errorf("%s days: %s", file, got)
		}
		for dim, want := range map[string]string{
			"page":    "05-01 / 3/3, 05-01 /pricing 1/1, 05-02 / 1/1, 05-02 /docs 1/1",
			"event":   "05-01 signup 1/1",
			"source":  "05-01 Hacker News 1/1, 05-01 google.com 1/1, 05-01 news.ycombinator.com 1/1, 05-02 newsletter 1/1",
			"country": "05-01 DE 1/2, 05-01 US 2/2, 05-02 FR 1/1, 05-02 US 1/1",
			"browser": "05-01 Chrome 2/2, 05-01 Firefox 1/2, 05-02 Safari 2/2",
		} {
			if got := rows(d, dim); got != want {
				t.Errorf("%s %s: %s, want %s", file, dim, got, want)
			}
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	_ = os.WriteFile(bad, []byte(string(raw)+"/x,,false,,,,s9,0,,,,,true,yesterday\n"), 0o600)
	if _, err := imports.Read("goatcounter", bad); err == nil || !strings.Contains(err.Error(), `line 11: Date "yesterday" is not RFC 3339`) {
		t.Errorf("a bad date: %v", err)
	}
	if _, err := imports.Read("goatcounter", plausibleZip(t, nil)); err == nil || !strings.Contains(err.Error(), "use --format plausible") {
		t.Errorf("Plausible's zip as GoatCounter's: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other.csv")
	_ = os.WriteFile(other, []byte("a,b\n1,2\n"), 0o600)
	if _, err := imports.Read("goatcounter", other); err == nil || !strings.Contains(err.Error(), "not a GoatCounter export") {
		t.Errorf("another CSV: %v", err)
	}
}
