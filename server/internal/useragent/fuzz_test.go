package useragent

import (
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
		case a.Device != "" && a.Device != DeviceDesktop && a.Device != DeviceMobile && a.Device != DeviceTablet:
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
