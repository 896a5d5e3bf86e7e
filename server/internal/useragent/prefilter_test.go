package useragent

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/ua-parser/uap-go/uaparser"
)

// candidates collects the indices Candidates reports.
func candidates(f *prefilter, s string) []int {
	var out []int
	f.Candidates(s, func(i int) bool {
		out = append(out, i)
		return true
	})
	return out
}

func TestPrefilter_Candidates(t *testing.T) {
	patterns := []string{
		`Googlebot\/`,                   // 0: plain literal
		`(?i)headless`,                  // 1: case-insensitive
		`[wW]get`,                       // 2: short literal after a class
		`(iPod|iPod touch|iPhone|iPad)`, // 3: factored alternation
		`^curl`,                         // 4: anchored
		`\d+`,                           // 5: no literal
		`([MS]?IE) (\d+)\.(\d+)`,        // 6: optional class in front
		`(?i)^(lg g|lge\-|zte\-)`,       // 7: folded alternation
	}
	f, err := newPrefilter(patterns)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != len(patterns) || f.Unfiltered() != 1 {
		t.Fatalf("Len %d, Unfiltered %d; want %d, 1", f.Len(), f.Unfiltered(), len(patterns))
	}
	if !f.IsLiteral(0) || f.IsLiteral(1) || f.IsLiteral(4) {
		t.Errorf("IsLiteral: 0=%v 1=%v 4=%v; want true false false", f.IsLiteral(0), f.IsLiteral(1), f.IsLiteral(4))
	}
	tests := []struct {
		s    string
		want []int
	}{
		{"", []int{5}},
		{"Mozilla/5.0 (compatible; Googlebot/2.1)", []int{0, 5}},
		{"googlebot/2.1", []int{5}},
		{"Mozilla/5.0 HEADLESSchrome", []int{1, 5}},
		{"Wget/1.21", []int{2, 5}},
		{"Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X)", []int{3, 5}},
		{"x curl/8", []int{4, 5}}, // the literal is there; the anchor is the regexp's job
		{"Mozilla/4.0 (compatible; MSIE 8.0)", []int{5, 6}},
		{"LGE-VX8300", []int{5, 7}},
		// The Kelvin sign folds to k, which ASCII lowercasing cannot see, so
		// every pattern with a case-folded literal stays a candidate. Go's
		// parser turns [wW] into a case-folded w, so pattern 2 is one too.
		{"HEADLESS", []int{1, 5}},
		{"\u212a", []int{1, 2, 5, 7}},
	}
	for _, tt := range tests {
		if got := candidates(f, tt.s); !slices.Equal(got, tt.want) {
			t.Errorf("Candidates(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestPrefilter_StopsEarly(t *testing.T) {
	f, err := newPrefilter([]string{`a`, `b`, `c`})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	f.Candidates("abc", func(int) bool {
		calls++
		return false
	})
	if calls != 1 {
		t.Errorf("yield called %d times after returning false, want 1", calls)
	}
}

func TestPrefilter_BadPattern(t *testing.T) {
	if _, err := newPrefilter([]string{`ok`, `(unclosed`}); err == nil {
		t.Error("New accepted a pattern that does not parse")
	}
}

func TestPrefilter_LongInput(t *testing.T) {
	f, err := newPrefilter([]string{`needle`})
	if err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 2*stackBytes)
	for i := range long {
		long[i] = 'x'
	}
	s := string(long) + "NEEDLE needle"
	if got := candidates(f, s); !slices.Equal(got, []int{0}) {
		t.Errorf("Candidates(long) = %v, want [0]", got)
	}
}

// TestPrefilter_Conservative checks, pattern by pattern, that no pattern which
// matches a real user agent is left out, for the two lists the project uses:
// crawler-user-agents and ua-parser's regexes.
func TestPrefilter_Conservative(t *testing.T) {
	corpus := userAgents(t)
	bots, err := botPatterns()
	if err != nil {
		t.Fatal(err)
	}
	uap, err := uapPatterns()
	if err != nil {
		t.Fatal(err)
	}
	for name, patterns := range map[string][]string{"crawler-user-agents": bots, "uap-core": uap} {
		t.Run(name, func(t *testing.T) {
			// Typical inputs change which literals are indexed, never the result.
			f, err := newPrefilter(patterns, corpus[:9]...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d patterns, %d without a literal", f.Len(), f.Unfiltered())
			res := make([]*regexp.Regexp, len(patterns))
			for i, p := range patterns {
				res[i] = regexp.MustCompile(p)
			}
			for _, s := range corpus {
				got := candidates(f, s)
				for i, re := range res {
					if _, found := slices.BinarySearch(got, i); !found && re.MatchString(s) {
						t.Errorf("pattern %d %q matches %q but is no candidate", i, patterns[i], s)
					}
				}
			}
		})
	}
}

func botPatterns() ([]string, error) {
	list, err := crawlers()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.Pattern
	}
	return out, nil
}

// uapPatterns returns ua-parser's user agent, OS and device regexes, written
// the way uap-go compiles them.
func uapPatterns() ([]string, error) {
	p, err := uaparser.New(uaparser.WithCacheSize(1))
	if err != nil {
		return nil, err
	}
	var out []string
	add := func(flags, expr string) {
		if flags != "" {
			expr = fmt.Sprintf("(?%s)%s", flags, expr)
		}
		out = append(out, expr)
	}
	for _, r := range p.UA {
		add(r.Flags, r.Expr)
	}
	for _, r := range p.OS {
		add(r.Flags, r.Expr)
	}
	for _, r := range p.Device {
		add(r.Flags, r.Expr)
	}
	return out, nil
}

// userAgents returns real user agents: browsers, and every 25th crawler
// instance of crawler-user-agents.
func userAgents(t *testing.T) []string {
	t.Helper()
	out := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (iPad; CPU OS 16_7_10 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.3.1 like Chrome/130.0.6723.102 Safari/537.36",
		"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
		"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
		"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
		"Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
		"Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 Instagram 315.0.0.29.109 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B; a53x; s5e8825; en_GB; 556277181)",
		"Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	}
	list, err := crawlers()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range list {
		for _, ua := range c.Instances {
			if n%25 == 0 {
				out = append(out, ua)
			}
			n++
		}
	}
	return out
}

func BenchmarkPrefilter_Candidates(b *testing.B) {
	patterns, err := uapPatterns()
	if err != nil {
		b.Fatal(err)
	}
	f, err := newPrefilter(patterns)
	if err != nil {
		b.Fatal(err)
	}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		f.Candidates(ua, func(int) bool { n++; return true })
	}
}

func TestPrefilter_CommonInputsSteerLiterals(t *testing.T) {
	const chrome = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	const acer = "Mozilla/5.0 (Linux; Android 11; Acer Iconia Tab) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	pattern := `(Acer [^;)]+)\) AppleWebKit`
	plain, err := newPrefilter([]string{pattern})
	if err != nil {
		t.Fatal(err)
	}
	steered, err := newPrefilter([]string{pattern}, chrome)
	if err != nil {
		t.Fatal(err)
	}
	// Without a hint the longest literal wins, ") AppleWebKit", which every
	// browser sends; with one, "Acer " is indexed instead.
	if got := candidates(plain, chrome); !slices.Equal(got, []int{0}) {
		t.Errorf("without common inputs, Candidates(chrome) = %v, want [0]", got)
	}
	if got := candidates(steered, chrome); len(got) != 0 {
		t.Errorf("with common inputs, Candidates(chrome) = %v, want none", got)
	}
	if got := candidates(steered, acer); !slices.Equal(got, []int{0}) {
		t.Errorf("with common inputs, Candidates(acer) = %v, want [0]", got)
	}
}
