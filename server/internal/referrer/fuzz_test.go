package referrer

import (
	"strings"
	"testing"
)

// FuzzClassify feeds Classify arbitrary Referer headers and UTM values. It
// must never panic, must name one of the channels, and what it keeps of the
// referrer must be in the documented form.
func FuzzClassify(f *testing.F) {
	c := newClassifier(f)
	f.Add("https://www.google.com/search?q=x", "example.com", "", "")
	f.Add("https://example.com/pricing", "www.example.com:8080", "", "")
	f.Add("android-app://com.google.android.gm/", "example.com", "newsletter", "email")
	f.Add("", "example.com", "facebook", "cpc")
	f.Add("news.ycombinator.com/item?id=1", "", "", "")
	f.Add("http://[::1]:80/x", "[::1]", "", "referral")
	f.Add("javascript:alert(1)", "example.com", " ", " ")
	channels := map[string]bool{}
	for _, ch := range Channels {
		channels[ch] = true
	}
	f.Fuzz(func(t *testing.T, ref, pageHost, utmSource, utmMedium string) {
		s := c.Classify(ref, pageHost, utmSource, utmMedium)
		switch {
		case !channels[s.Channel]:
			t.Fatalf("unknown channel %q", s.Channel)
		case (s.Host == "") != (s.Path == ""):
			t.Fatalf("host %q with path %q", s.Host, s.Path)
		case s.Path != "" && !strings.HasPrefix(s.Path, "/"):
			t.Fatalf("path %q does not start with /", s.Path)
		case strings.ToLower(s.Host) != s.Host || strings.ContainsAny(s.Host, "[]"):
			t.Fatalf("host %q not normalised", s.Host)
		case (s.Channel == ChannelDirect || s.Channel == ChannelInternal) && s.Name != "":
			t.Fatalf("%s visit with source %q", s.Channel, s.Name)
		case s.Channel == ChannelDirect && s.Host != "":
			t.Fatalf("direct visit with referrer host %q", s.Host)
		}
		if again := c.Classify(ref, pageHost, utmSource, utmMedium); again != s {
			t.Fatalf("Classify is not deterministic: %+v, then %+v", s, again)
		}
	})
}
