package useragent

import (
	"os"
	"testing"
)

// newTestBotMatcher builds a botMatcher or fails the test.
func newTestBotMatcher(t testing.TB) *botMatcher {
	t.Helper()
	m, err := newBotMatcher()
	if err != nil {
		t.Fatalf("newBotMatcher: %v", err)
	}
	return m
}

func TestBotMatcher_IsBot(t *testing.T) {
	m := newTestBotMatcher(t)
	tests := []struct {
		name string
		ua   string
		want bool
	}{
		// Crawlers, as they appear in access logs.
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Google-InspectionTool", "Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)", true},
		{"bingbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36", true},
		{"AhrefsBot", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", true},
		{"GPTBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", true},
		{"ClaudeBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", true},
		{"PerplexityBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)", true},
		{"facebookexternalhit", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
		{"Applebot", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", true},
		{"YandexBot", "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", true},
		{"DuckDuckBot", "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", true},
		{"SemrushBot", "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", true},
		{"Bytespider", "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)", true},
		{"Twitterbot", "Twitterbot/1.0", true},
		{"Slackbot", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true},
		{"HeadlessChrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36", true},
		{"curl", "curl/8.5.0", true},
		{"python-requests", "python-requests/2.31.0", true},
		{"Go-http-client", "Go-http-client/1.1", true},
		{"Wget", "Wget/1.21.4", true},

		// Browsers and in-app browsers people actually use.
		{"Chrome Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", false},
		{"Chrome macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", false},
		{"Chrome Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", false},
		{"Chrome iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", false},
		{"Chrome OS", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", false},
		{"Firefox Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", false},
		{"Firefox Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", false},
		{"Firefox Android", "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", false},
		{"Safari macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15", false},
		{"Safari iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", false},
		{"Safari iPad", "Mozilla/5.0 (iPad; CPU OS 16_7_10 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", false},
		{"Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", false},
		{"Opera", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", false},
		{"Samsung Internet", "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", false},
		{"Silk on Kindle Fire", "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.3.1 like Chrome/130.0.6723.102 Safari/537.36", false},
		{"Facebook in-app iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/471.0.0.38.108;FBBV/614383451;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;FBSV/17.5.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/616400893]", false},
		{"Instagram in-app Android", "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 Instagram 315.0.0.29.109 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B; a53x; s5e8825; en_GB; 556277181)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := m.Match(tt.ua)
			if ok != tt.want {
				t.Errorf("Match(%q) = %q, %v; want match %v", tt.ua, got, ok, tt.want)
			}
			if m.IsBot(tt.ua) != tt.want {
				t.Errorf("IsBot(%q) = %v, want %v", tt.ua, !tt.want, tt.want)
			}
		})
	}
}

// TestBotMatcher_Instances checks that every example user agent published with
// the list is recognised, which also exercises every pattern's prefilter
// literal.
func TestBotMatcher_Instances(t *testing.T) {
	m := newTestBotMatcher(t)
	list, err := crawlers()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range list {
		for _, ua := range c.Instances {
			n++
			if !m.IsBot(ua) {
				t.Errorf("instance of %q not recognised: %q", c.Pattern, ua)
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d instances in the embedded list", n)
	}
}

func TestBotMatcher_Counts(t *testing.T) {
	m := newTestBotMatcher(t)
	list, err := crawlers()
	if err != nil {
		t.Fatal(err)
	}
	if m.Len()+len(m.Skipped()) != len(list) {
		t.Errorf("Len %d + Skipped %d != %d patterns", m.Len(), len(m.Skipped()), len(list))
	}
	if m.Len() < 1000 {
		t.Errorf("only %d patterns compiled", m.Len())
	}
	t.Logf("%d patterns, %d skipped: %q", m.Len(), len(m.Skipped()), m.Skipped())
}

func TestBotMatcher_Empty(t *testing.T) {
	m := newTestBotMatcher(t)
	if m.IsBot("") {
		t.Error(`IsBot("") = true; the list has no pattern matching the empty string`)
	}
}

// TestDataSize keeps the embedded data file small enough for git.
func TestDataSize(t *testing.T) {
	fi, err := os.Stat("data/crawler-user-agents.json")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 1<<20 {
		t.Errorf("data/crawler-user-agents.json is %d bytes, want < 1 MiB", fi.Size())
	}
}

var botSink bool

func BenchmarkBotMatcher_IsBot(b *testing.B) {
	m := newTestBotMatcher(b)
	for _, bc := range []struct{ name, ua string }{
		{"browser", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
		{"browser_mobile", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"},
		{"googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				botSink = m.IsBot(bc.ua)
			}
		})
	}
}

func BenchmarkNewBotMatcher(b *testing.B) {
	for b.Loop() {
		if _, err := newBotMatcher(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBotMatcherFromJSON_SkipsRE2Rejects(t *testing.T) {
	data := []byte(`[
		{"pattern": "Googlebot\\/"},
		{"pattern": "^(?!Mozilla).*bot"},
		{"pattern": "[Ss]pider(?=/)"},
		{"pattern": "(?i)examplecrawler"}
	]`)
	m, err := botMatcherFromJSON(data)
	if err != nil {
		t.Fatalf("botMatcherFromJSON: %v", err)
	}
	if m.Len() != 2 || len(m.Skipped()) != 2 {
		t.Fatalf("Len %d, Skipped %q; want 2 and 2", m.Len(), m.Skipped())
	}
	for ua, want := range map[string]bool{
		"Mozilla/5.0 (compatible; Googlebot/2.1)": true,
		"EXAMPLECrawler/1.0":                      true,
		"somebot/1.0":                             false,
	} {
		if got := m.IsBot(ua); got != want {
			t.Errorf("IsBot(%q) = %v, want %v", ua, got, want)
		}
	}
}

func TestBotMatcherFromJSON_BadJSON(t *testing.T) {
	if _, err := botMatcherFromJSON([]byte(`{"pattern": 1}`)); err == nil {
		t.Error("botMatcherFromJSON accepted malformed JSON")
	}
}
