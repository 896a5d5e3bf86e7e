package httpapi

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext feeds safeNext arbitrary next parameters and checks that
// what it lets through stays on this site the way a browser reads a
// Location header: tabs and newlines dropped, backslashes read as slashes,
// leading control characters and spaces trimmed.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{
		"/dashboard/?site=abc&period=7d#consent", "/\\evil.example/phish", "/%09/evil.example", "//evil.example",
		"/\t/evil.example", "https://evil.example", "/%5Cevil.example", "/%2F%2Fevil.example", "javascript:alert(1)",
		" /x", "/x\r\nLocation: //evil", "/dashboard/?q=a%20b", "/%E0%A4%A", "\x00//evil.example",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://crumb.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		out := safeNext(next)
		if out == "/dashboard/" {
			return
		}
		if out != next || !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\t\r\n ") {
			t.Fatalf("safeNext(%q) = %q", next, out)
		}
		read := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(strings.TrimLeft(out, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "))
		u, err := base.Parse(read)
		if err != nil || u.Host != "crumb.example" || u.Scheme != "https" {
			t.Fatalf("safeNext(%q) = %q leads a browser to %v (%v)", next, out, u, err)
		}
	})
}
