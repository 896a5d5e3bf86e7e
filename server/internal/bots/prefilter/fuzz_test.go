package prefilter

import (
	"regexp"
	"testing"
)

// FuzzConservative checks the promise the bot and User-Agent parsers rely
// on, for arbitrary patterns, inputs and common inputs: a pattern that
// matches a string is always among its candidates, and a pattern the filter
// calls a plain literal matches whenever it is a candidate.
func FuzzConservative(f *testing.F) {
	f.Add(`Googlebot/\d+`, "Mozilla/5.0 (compatible; Googlebot/2.1)", "")
	f.Add(`(?i)bingbot|slurp`, "Mozilla/5.0 (compatible; BingBot/2.0)", "Mozilla/5.0 (Windows NT 10.0)")
	f.Add(`(Acer [^;)]+)\) AppleWebKit`, "Mozilla/5.0 (Linux; Acer A1) AppleWebKit/537.36", ") AppleWebKit")
	f.Add(`(?i)\x{212a}elvin`, "kelvin", "")
	f.Add(`facebookexternalhit`, "facebookexternalhit/1.1", "")
	f.Add(`^$|a{3,}`, "", "")
	f.Fuzz(func(t *testing.T, pattern, s, common string) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		filter, err := New([]string{pattern}, common)
		if err != nil {
			t.Fatalf("New(%q): %v", pattern, err)
		}
		candidate := false
		filter.Candidates(s, func(i int) bool {
			if i != 0 {
				t.Fatalf("candidate %d of one pattern", i)
			}
			candidate = true
			return true
		})
		match := re.MatchString(s)
		if match && !candidate {
			t.Fatalf("%q matches %q but is not a candidate", pattern, s)
		}
		if filter.IsLiteral(0) && candidate && !match {
			t.Fatalf("literal %q is a candidate for %q but does not match", pattern, s)
		}
	})
}
