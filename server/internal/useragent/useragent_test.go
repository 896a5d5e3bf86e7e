package useragent

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ua-parser/uap-go/uaparser"
)

// shared builds the expensive part of a Parser once for the whole test run.
var shared = sync.OnceValues(func() (*Parser, error) { return newParser(0) })

// testParser returns a Parser with its own cache of cacheSize entries (none
// when cacheSize <= 0), sharing the compiled regexes of every other one.
func testParser(t testing.TB, cacheSize int) *Parser {
	t.Helper()
	p, err := shared()
	if err != nil {
		t.Fatalf("newParser: %v", err)
	}
	q := *p
	if cacheSize > 0 {
		q.cache = newLRU(cacheSize)
	}
	return &q
}

// Real User-Agent strings, as browsers and bots send them.
const (
	chromeWindows   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	safariIPhone    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
	samsungInternet = "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
	googlebot       = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

func TestParser_Parse(t *testing.T) {
	p := testParser(t, 100)
	tests := []struct {
		name string
		ua   string
		want Agent
	}{
		{"Chrome Windows", chromeWindows,
			Agent{Browser: "Chrome", BrowserVersion: "131", OS: "Windows", OSVersion: "10", Device: DeviceDesktop}},
		{"Chrome macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
			Agent{Browser: "Chrome", BrowserVersion: "130", OS: "macOS", OSVersion: "10.15", Device: DeviceDesktop}},
		{"Chrome Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
			Agent{Browser: "Chrome", BrowserVersion: "131", OS: "Android", OSVersion: "10", Device: DeviceMobile}},
		{"Chrome iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
			Agent{Browser: "Chrome", BrowserVersion: "131", OS: "iOS", OSVersion: "17.7", Device: DeviceMobile}},
		{"Chrome OS", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			Agent{Browser: "Chrome", BrowserVersion: "131", OS: "Chrome OS", OSVersion: "14541.0", Device: DeviceDesktop}},
		{"Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
			Agent{Browser: "Edge", BrowserVersion: "131", OS: "Windows", OSVersion: "10", Device: DeviceDesktop}},
		{"Opera", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
			Agent{Browser: "Opera", BrowserVersion: "115", OS: "Windows", OSVersion: "10", Device: DeviceDesktop}},
		{"Firefox Windows 7", "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
			Agent{Browser: "Firefox", BrowserVersion: "115", OS: "Windows", OSVersion: "7", Device: DeviceDesktop}},
		{"Firefox Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
			Agent{Browser: "Firefox", BrowserVersion: "128", OS: "Linux", Device: DeviceDesktop}},
		{"Firefox Ubuntu", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
			Agent{Browser: "Firefox", BrowserVersion: "133", OS: "Ubuntu", Device: DeviceDesktop}},
		{"Firefox Android", "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
			Agent{Browser: "Firefox", BrowserVersion: "133", OS: "Android", OSVersion: "14", Device: DeviceMobile}},
		{"Firefox Android tablet", "Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0",
			Agent{Browser: "Firefox", BrowserVersion: "133", OS: "Android", OSVersion: "14", Device: DeviceTablet}},
		{"Safari macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
			Agent{Browser: "Safari", BrowserVersion: "17", OS: "macOS", OSVersion: "10.15", Device: DeviceDesktop}},
		{"Safari iPhone", safariIPhone,
			Agent{Browser: "Safari", BrowserVersion: "17", OS: "iOS", OSVersion: "17.6", Device: DeviceMobile}},
		{"Safari iPad", "Mozilla/5.0 (iPad; CPU OS 16_7_10 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
			Agent{Browser: "Safari", BrowserVersion: "16", OS: "iOS", OSVersion: "16.7", Device: DeviceTablet}},
		{"Samsung Internet", samsungInternet,
			Agent{Browser: "Samsung Internet", BrowserVersion: "26", OS: "Android", OSVersion: "14", Device: DeviceMobile}},
		{"Galaxy Tab Chrome", "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
			Agent{Browser: "Chrome", BrowserVersion: "120", OS: "Android", OSVersion: "13", Device: DeviceTablet}},
		{"Silk on Kindle Fire", "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.3.1 like Chrome/130.0.6723.102 Safari/537.36",
			Agent{Browser: "Amazon Silk", BrowserVersion: "130", OS: "Android", OSVersion: "9", Device: DeviceTablet}},
		{"Instagram in-app Android", "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 Instagram 315.0.0.29.109 Android (33/13; 450dpi; 1080x2177; samsung; SM-A536B; a53x; s5e8825; en_GB; 556277181)",
			Agent{Browser: "Instagram", BrowserVersion: "315", OS: "Android", OSVersion: "13", Device: DeviceMobile}},
		{"Facebook in-app iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/471.0.0.38.108;FBBV/614383451;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;FBSV/17.5.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/616400893]",
			Agent{Browser: "Facebook", BrowserVersion: "471", OS: "iOS", OSVersion: "17.5", Device: DeviceMobile}},
		{"Internet Explorer 11", "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
			Agent{Browser: "IE", BrowserVersion: "11", OS: "Windows", OSVersion: "7", Device: DeviceDesktop}},
		{"Opera Mini", "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
			Agent{Browser: "Opera Mini", BrowserVersion: "9", OS: "Symbian OS", Device: DeviceMobile}},
		{"Samsung smart TV", "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) 85.0.4183.93/6.5 TV Safari/537.36",
			Agent{Browser: "Safari", BrowserVersion: "", OS: "Tizen", OSVersion: "6.5", Device: DeviceTV}},
		{"PlayStation 5", "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
			Agent{Browser: "Safari", BrowserVersion: "13", Device: DeviceConsole}},
		{"feature phone without Mobi", "NetFront/3.5.1 (BREW 5.0.2.1; U; en-us; Samsung ; NetFront/3.5.1/AMB) Sprint SPH-M570 MMP/2.0 Profile/MIDP-2.1 Configuration/CLDC-1.1",
			Agent{Browser: "NetFront", BrowserVersion: "3", OS: "BREW", OSVersion: "5.0", Device: DeviceMobile}},
		{"Apple Watch", "atc/1.0 watchOS/5.1.3 model/Watch3,4 hwp/t8004 build/16S535 (6; dt:156)",
			Agent{Browser: "Apple Watch App", BrowserVersion: "3", OS: "WatchOS", OSVersion: "5.1", Device: DeviceWearable}},

		// Bots: only Bot is set.
		{"Googlebot", googlebot,
			Agent{Bot: true}},
		{"Googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			Agent{Bot: true}},
		{"bingbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
			Agent{Bot: true}},
		{"GPTBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
			Agent{Bot: true}},
		{"HeadlessChrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36",
			Agent{Bot: true}},
		{"crawler only ua-parser knows (synthetic name)", "Mozilla/5.0 (compatible; Acmebot/2.3; +https://acme.example/bot.html)",
			Agent{Bot: true}},
		{"Android HTTP client", "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)", Agent{Bot: true}},
		{"curl", "curl/8.5.0", Agent{Bot: true}},
		{"python-requests", "python-requests/2.31.0",
			Agent{Bot: true}},
		{"Go-http-client", "Go-http-client/1.1", Agent{Bot: true}},
		{"Java", "Java/17.0.2 (Oracle Corporation)",
			Agent{Bot: true}},
		{"PostmanRuntime", "PostmanRuntime/7.36.0",
			Agent{Bot: true}},
		{"Node undici", "undici (https://github.com/nodejs/undici)", Agent{Bot: true}},
		{"empty", "", Agent{Bot: true}},
		{"blank", "                                        ", Agent{Bot: true}},
		{"too short", "Mozilla/5.0", Agent{Bot: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache.
			for range 2 {
				if got := p.Parse(tt.ua); got != tt.want {
					t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.ua, got, tt.want)
				}
			}
		})
	}
}

// TestParser_MatchesUAP checks that running uap-go's regexes through the
// prefilter gives exactly what uap-go itself gives.
func TestParser_MatchesUAP(t *testing.T) {
	p := testParser(t, 0)
	ref, err := uaparser.New(uaparser.WithCacheSize(1))
	if err != nil {
		t.Fatal(err)
	}
	corpus := []string{chromeWindows, safariIPhone, samsungInternet, googlebot}
	crawlers, err := crawlers()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range crawlers {
		if i%20 == 0 {
			corpus = append(corpus, c.Instances...)
		}
	}
	for _, ua := range corpus {
		b, o, d := p.match(ua)
		if b != *ref.ParseUserAgent(ua) || o != *ref.ParseOs(ua) || d != *ref.ParseDevice(ua) {
			t.Errorf("match(%q) = %+v %+v %+v; uap-go says %+v %+v %+v", ua, b, o, d,
				*ref.ParseUserAgent(ua), *ref.ParseOs(ua), *ref.ParseDevice(ua))
		}
	}
}

func TestParser_LongUserAgent(t *testing.T) {
	p := testParser(t, 10)
	long := chromeWindows + strings.Repeat(" padding", 200)
	got := p.Parse(long)
	want := p.Parse(chromeWindows)
	if got != want {
		t.Errorf("Parse(long) = %+v, want %+v", got, want)
	}
}

// TestParser_CacheKeyCopied checks that the cache does not keep a reference
// to the caller's buffer, which Fiber reuses between requests.
func TestParser_CacheKeyCopied(t *testing.T) {
	p := testParser(t, 10)
	buf := []byte(chromeWindows)
	ua := unsafeString(buf)
	first := p.Parse(ua)
	copy(buf, strings.Repeat("x", len(buf)))
	if got := p.Parse(chromeWindows); got != first {
		t.Errorf("after the caller's buffer changed, Parse = %+v, want %+v", got, first)
	}
}

// unsafeString returns a string sharing buf's memory, like Fiber's header
// accessors do.
func unsafeString(buf []byte) string {
	return unsafe.String(&buf[0], len(buf))
}

func TestParser_Concurrent(t *testing.T) {
	p := testParser(t, 2) // smaller than the working set, so entries are evicted while read
	uas := []string{chromeWindows, safariIPhone, samsungInternet, googlebot}
	want := make([]Agent, len(uas))
	for i, ua := range uas {
		want[i] = p.Parse(ua)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(uas)
				if got := p.Parse(uas[k]); got != want[k] {
					t.Errorf("Parse(%q) = %+v, want %+v", uas[k], got, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLRU(t *testing.T) {
	c := newLRU(2)
	c.add("a", Agent{Browser: "A"})
	c.add("b", Agent{Browser: "B"})
	if _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.add("c", Agent{Browser: "C"}) // evicts b
	if _, ok := c.get("b"); ok {
		t.Error("b still cached after eviction")
	}
	for _, k := range []string{"a", "c"} {
		if a, ok := c.get(k); !ok || a.Browser != strings.ToUpper(k) {
			t.Errorf("get(%q) = %+v, %v", k, a, ok)
		}
	}
	c.add("c", Agent{Browser: "C2"})
	if a, _ := c.get("c"); a.Browser != "C2" || c.len() != 2 {
		t.Errorf("update: got %+v, len %d", a, c.len())
	}
}

var sink Agent

// benchUAs are distinct real user agents for the uncached benchmark.
var benchUAs = []string{
	chromeWindows, safariIPhone, samsungInternet,
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	googlebot,
}

// BenchmarkParser_Parse measures a cache hit, a miss (the cache is off, so
// every call parses), and uap-go's own Parse on the same strings without its
// cache (size 1) for comparison.
func BenchmarkParser_Parse(b *testing.B) {
	b.Run("hit", func(b *testing.B) {
		p := New(1000)
		p.Parse(chromeWindows)
		b.ReportAllocs()
		for b.Loop() {
			sink = p.Parse(chromeWindows)
		}
	})
	b.Run("hit_parallel", func(b *testing.B) {
		p := New(1000)
		for _, ua := range benchUAs {
			p.Parse(ua)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				sink = p.Parse(benchUAs[i%len(benchUAs)])
				i++
			}
		})
	})
	for _, ua := range benchUAs[:3] {
		name := strings.Fields(ua)[1]
		b.Run("miss/"+strings.Trim(name, "(;"), func(b *testing.B) {
			p := New(0)
			b.ReportAllocs()
			for b.Loop() {
				sink = p.Parse(ua)
			}
		})
	}
	b.Run("miss/mix", func(b *testing.B) {
		p := New(0)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			sink = p.Parse(benchUAs[i%len(benchUAs)])
			i++
		}
	})
	b.Run("uap-go_uncached/mix", func(b *testing.B) {
		ref, err := uaparser.New(uaparser.WithCacheSize(1))
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			// Alternate strings so uap-go's one-entry cache never hits.
			ref.Parse(benchUAs[i%len(benchUAs)])
			i++
		}
	})
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New(1)
	}
}

func ExampleParser_Parse() {
	p := New(10_000)
	a := p.Parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1")
	fmt.Printf("%s %s on %s %s (%s), bot=%v\n", a.Browser, a.BrowserVersion, a.OS, a.OSVersion, a.Device, a.Bot)
	// Output: Safari 17 on iOS 17.6 (mobile), bot=false
}
