package useragent

import (
	"regexp"
	"slices"
	"testing"

	"github.com/ua-parser/uap-go/uaparser"
)

// FuzzParse feeds Parse arbitrary User-Agent headers. The prefiltered match
// must agree with uap-go running every regex, the Agent must be
// consistent (a bot names nothing else; a version needs a name), and the
// cache must not change the answer.
func FuzzParse(f *testing.F) {
	p := testParser(f, 0)
	cached := testParser(f, 64)
	ref, err := uaparser.New(uaparser.WithCacheSize(1))
	if err != nil {
		f.Fatal(err)
	}
	for _, ua := range []string{chromeWindows, safariIPhone, samsungInternet, googlebot, "curl/8.5.0", ""} {
		f.Add(ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		a := p.Parse(ua)
		if c := cached.Parse(ua); c != a {
			t.Fatalf("Parse(%q) = %+v, cached %+v", ua, a, c)
		}
		if c := cached.Parse(ua); c != a {
			t.Fatalf("Parse(%q) = %+v, from the cache %+v", ua, a, c)
		}
		switch {
		case a.Bot && a != (Agent{Bot: true}):
			t.Fatalf("Parse(%q) = %+v: a bot with details", ua, a)
		case a.BrowserVersion != "" && a.Browser == "", a.OSVersion != "" && a.OS == "":
			t.Fatalf("Parse(%q) = %+v: a version without a name", ua, a)
		case a.Device != "" && !slices.Contains(DeviceTypes, a.Device), a.Device == DeviceOther:
			t.Fatalf("Parse(%q) = %+v: unknown device", ua, a)
		}
		if len(ua) > MaxLength {
			ua = ua[:MaxLength]
		}
		b, o, d := p.match(ua)
		if b != *ref.ParseUserAgent(ua) || o != *ref.ParseOs(ua) || d != *ref.ParseDevice(ua) {
			t.Fatalf("match(%q) = %+v %+v %+v; uap-go says %+v %+v %+v", ua, b, o, d,
				*ref.ParseUserAgent(ua), *ref.ParseOs(ua), *ref.ParseDevice(ua))
		}
	})
}

// FuzzMatch checks the prefiltered Match against running every pattern of
// the list in order, for arbitrary User-Agent headers: both must name the
// same first matching pattern.
func FuzzMatch(f *testing.F) {
	m, err := newBotMatcher()
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
		filter, err := newPrefilter([]string{pattern}, common)
		if err != nil {
			t.Fatalf("newPrefilter(%q): %v", pattern, err)
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
