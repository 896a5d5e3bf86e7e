package bots

import (
	"regexp"
	"testing"
)

// FuzzMatch checks the prefiltered Match against running every pattern of
// the list in order, for arbitrary User-Agent headers: both must name the
// same first matching pattern.
func FuzzMatch(f *testing.F) {
	m, err := New()
	if err != nil {
		f.Fatal(err)
	}
	all := make([]*regexp.Regexp, len(m.patterns))
	for i, p := range m.patterns {
		all[i] = regexp.MustCompile(p.src)
	}
	f.Add("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	f.Add("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
	f.Add("curl/8.5.0")
	f.Add("")
	f.Fuzz(func(t *testing.T, ua string) {
		want, wantOK := "", false
		for i, re := range all {
			if re.MatchString(ua) {
				want, wantOK = m.patterns[i].src, true
				break
			}
		}
		if got, ok := m.Match(ua); got != want || ok != wantOK {
			t.Fatalf("Match(%q) = %q, %v; every pattern in order gives %q, %v", ua, got, ok, want, wantOK)
		}
	})
}
