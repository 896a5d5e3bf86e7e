package ingest

import (
	"net/url"
	"testing"
)

func TestNormalizers(t *testing.T) {
	for in, want := range map[string]string{"en_us": "en-US", "DE": "de", "zh-Hant-TW": "zh-Hant-TW", "": "", "en US": "", "x<script>": ""} {
		if got := normalizeLanguage(in); got != want {
			t.Errorf("normalizeLanguage(%q) = %q, want %q", in, got, want)
		}
	}
	for w, want := range map[int]string{0: "", 375: "mobile", 800: "tablet", 1280: "laptop", 2560: "desktop"} {
		if got := screenClass(w); got != want {
			t.Errorf("screenClass(%d) = %q, want %q", w, got, want)
		}
	}
	q, _ := url.ParseQuery("s=Red%20%20Shoes&q=")
	if got := searchTerm("", q, []string{"q", "s"}); got != "red shoes" {
		t.Errorf("searchTerm = %q", got)
	}
	if got := cleanLink("https://Example.com/a%20b?token=secret#x"); got != "https://example.com/a%20b" {
		t.Errorf("cleanLink = %q", got)
	}
	if got := cleanLink("javascript:alert(1)"); got != "" {
		t.Errorf("cleanLink(javascript:) = %q", got)
	}
	if got := clip("héllo", 2); got != "h" {
		t.Errorf("clip split a rune: %q", got)
	}
	if got := pathOf("https://example.com/a/b?x=1#y"); got != "/a/b" {
		t.Errorf("pathOf = %q", got)
	}
}
