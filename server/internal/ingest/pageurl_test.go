package ingest

import (
	"net/url"
	"strings"
	"testing"
)

// viaURLParse is what the events pipeline read of a page URL with
// url.Parse alone.
func viaURLParse(raw string) (pageURL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return pageURL{}, false
	}
	return pageURL{host: u.Hostname(), path: u.Path, query: u.Query()}, true
}

var pageURLSeeds = []string{
	"https://example.com/products/item-1?utm_source=newsletter&utm_medium=email",
	"http://Example.COM", "https://example.com?", "https://example.com/?", "https://example.com/a?b?c",
	"https://example.com/a#frag?x=1", "https://example.com?x=/y", "https://example.com/a+b?q=red+shoes&q=blue",
	"https://example.com/?a+b=c+d&a%20b=x", "https://example.com/?x=1;y=2&utm_source=s", "https://example.com/?&&utm_source=&utm_source=b",
	"https://example.com/?utm_source", "https://example.com:8080/a", "https://user@example.com/", "https://[::1]/",
	"https://exa mple.com/", "https://example.com/a b", "https://example.com/%7Ea", "https://example.com/a%zz",
	"https://example.com/#%zz", "HTTPS://example.com/", "https:example.com", "https:///a", "https://", "ftp://example.com/",
	"https://ex_ample.com/", "https://example.com/caf\u00e9?q=\u00e9", "https://example.com/\x7f", "https://example.com/a\tb",
	"https://example.com/?q=" + strings.Repeat("&", 70) + "utm_source=x", "https://-.-/", "https://example.com/\\a",
}

func checkPageURL(t *testing.T, raw string) {
	t.Helper()
	want, wantOK := viaURLParse(raw)
	got, ok := parsePageURL(raw)
	if ok != wantOK || got.host != want.host || got.path != want.path {
		t.Fatalf("parsePageURL(%q) = %q %q %v; url.Parse gives %q %q %v", raw, got.host, got.path, ok, want.host, want.path, wantOK)
	}
	if !ok {
		return
	}
	keys := []string{"utm_source", "utm_medium", "q", "a b", "a+b", "x", "", "y"}
	for k := range want.query {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if g, w := got.get(k), want.get(k); g != w {
			t.Fatalf("parsePageURL(%q).get(%q) = %q; url.Values gives %q", raw, k, g, w)
		}
	}
}

func TestParsePageURL_AgreesWithURLParse(t *testing.T) {
	for _, raw := range pageURLSeeds {
		checkPageURL(t, raw)
	}
	if _, ok := splitPlainURL(pageURLSeeds[0]); !ok {
		t.Error("a plain URL took the slow path")
	}
}

// FuzzPageURL checks that the events pipeline reads any page URL exactly as
// url.Parse and url.Values would.
func FuzzPageURL(f *testing.F) {
	for _, s := range pageURLSeeds {
		f.Add(s)
	}
	f.Fuzz(checkPageURL)
}
