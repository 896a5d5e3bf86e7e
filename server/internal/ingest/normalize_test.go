package ingest

import (
	"net/url"
	"strings"
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
	if got := searchTerm("", &pageURL{query: q}, []string{"q", "s"}); got != "red shoes" {
		t.Errorf("searchTerm = %q", got)
	}
	if got := searchTerm("", &pageURL{rawQuery: "q=&s=Red++Shoes"}, []string{"q", "s"}); got != "red shoes" {
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

// normalizeLanguageRef is normalizeLanguage as first written, the reference
// for the allocation-free one.
func normalizeLanguageRef(l string) string {
	l = strings.ReplaceAll(strings.TrimSpace(l), "_", "-")
	if l == "" {
		return ""
	}
	parts := strings.Split(l, "-")
	for _, p := range parts {
		if p == "" || len(p) > 8 || strings.IndexFunc(p, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return ""
		}
	}
	parts[0] = strings.ToLower(parts[0])
	if len(parts) > 1 && len(parts[1]) == 2 {
		parts[1] = strings.ToUpper(parts[1])
	}
	return strings.Join(parts, "-")
}

func FuzzNormalizeLanguage(f *testing.F) {
	for _, s := range []string{"en_us", "DE", "zh-Hant-TW", "", " en-GB ", "en--US", "-en", "en-", "x<script>", "EN_us_Posix",
		"abcdefghi", "sr-Latn-RS", "é", "en-\u00e9", strings.Repeat("a-", 30), "de-1996", "es-419"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := normalizeLanguage(s), normalizeLanguageRef(s); got != want {
			t.Fatalf("normalizeLanguage(%q) = %q, want %q", s, got, want)
		}
	})
}
