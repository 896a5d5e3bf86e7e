package referrer

import (
	"fmt"
	"os"
	"testing"
)

func newClassifier(t testing.TB) *Classifier {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestClassifier_Classify(t *testing.T) {
	c := newClassifier(t)
	const site = "example.com"
	tests := []struct {
		name                     string
		ref, page, utmSrc, utmMd string
		want                     Source
	}{
		// No referrer, no campaign.
		{"direct", "", site, "", "", Source{Channel: ChannelDirect}},
		{"about:blank", "about:blank", site, "", "", Source{Channel: ChannelDirect}},
		{"browser extension", "chrome-extension://cjpalhdlnbpafiamejdnhcphjbkeiagm/popup.html", site, "", "", Source{Channel: ChannelDirect}},
		{"garbage", "not a url at all", site, "", "", Source{Channel: ChannelDirect}},

		// Own site.
		{"internal", "https://www.example.com/pricing?plan=pro#faq", site, "", "",
			Source{Host: "example.com", Path: "/pricing", Channel: ChannelInternal}},
		{"internal, www page host and port", "https://example.com:8443/docs/", "www.example.com", "", "",
			Source{Host: "example.com", Path: "/docs/", Channel: ChannelInternal}},
		{"subdomain is another site", "https://blog.example.com/2026/launch", site, "", "",
			Source{Host: "blog.example.com", Path: "/2026/launch", Name: "blog.example.com", Channel: ChannelReferral}},

		// Search engines.
		{"Google", "https://www.google.com/", site, "", "",
			Source{Host: "google.com", Path: "/", Name: "Google", Channel: ChannelOrganicSearch}},
		{"Google UK search", "https://www.google.co.uk/search?q=cookie+consent+analytics", site, "", "",
			Source{Host: "google.co.uk", Path: "/search", Name: "Google", Channel: ChannelOrganicSearch}},
		{"Google News UK", "https://news.google.co.uk/", site, "", "",
			Source{Host: "news.google.co.uk", Path: "/", Name: "Google News", Channel: ChannelOrganicSearch}},
		{"Google Scholar UK by parent domain", "https://scholar.google.co.uk/scholar?q=consent", site, "", "",
			Source{Host: "scholar.google.co.uk", Path: "/scholar", Name: "Google", Channel: ChannelOrganicSearch}},
		{"Google Images by path", "https://www.google.de/imgres?imgurl=https://example.com/a.png", site, "", "",
			Source{Host: "google.de", Path: "/imgres", Name: "Google Images", Channel: ChannelOrganicSearch}},
		{"Google app on Android", "android-app://com.google.android.googlequicksearchbox/", site, "", "",
			Source{Host: "com.google.android.googlequicksearchbox", Path: "/", Name: "Google", Channel: ChannelOrganicSearch}},
		{"Bing", "https://www.bing.com/search?q=crumb&form=QBLH", site, "", "",
			Source{Host: "bing.com", Path: "/search", Name: "Bing", Channel: ChannelOrganicSearch}},
		{"DuckDuckGo", "https://duckduckgo.com/", site, "", "",
			Source{Host: "duckduckgo.com", Path: "/", Name: "DuckDuckGo", Channel: ChannelOrganicSearch}},
		{"Brave Search", "https://search.brave.com/search?q=crumb", site, "", "",
			Source{Host: "search.brave.com", Path: "/search", Name: "Brave Search", Channel: ChannelOrganicSearch}},
		{"Baidu (extra source)", "https://baidu.com/link?url=abc", site, "", "",
			Source{Host: "baidu.com", Path: "/link", Name: "Baidu", Channel: ChannelOrganicSearch}},
		{"upper case and trailing dot", "HTTPS://WWW.GOOGLE.COM./", site, "", "",
			Source{Host: "google.com", Path: "/", Name: "Google", Channel: ChannelOrganicSearch}},
		{"scheme missing", "google.com/search", site, "", "",
			Source{Host: "google.com", Path: "/search", Name: "Google", Channel: ChannelOrganicSearch}},

		// Social networks.
		{"Facebook link shim", "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2F&h=AT0x", site, "", "",
			Source{Host: "l.facebook.com", Path: "/l.php", Name: "Facebook", Channel: ChannelOrganicSocial}},
		{"Facebook mobile", "https://m.facebook.com/", site, "", "",
			Source{Host: "m.facebook.com", Path: "/", Name: "Facebook", Channel: ChannelOrganicSocial}},
		{"Twitter t.co", "https://t.co/4Fz8xQ2Lbe", site, "", "",
			Source{Host: "t.co", Path: "/4Fz8xQ2Lbe", Name: "Twitter", Channel: ChannelOrganicSocial}},
		{"Reddit", "https://www.reddit.com/r/selfhosted/comments/1abcd2e/crumb/", site, "", "",
			Source{Host: "reddit.com", Path: "/r/selfhosted/comments/1abcd2e/crumb/", Name: "Reddit", Channel: ChannelOrganicSocial}},
		{"Hacker News", "https://news.ycombinator.com/item?id=41234567", site, "", "",
			Source{Host: "news.ycombinator.com", Path: "/item", Name: "Hacker News", Channel: ChannelOrganicSocial}},
		{"LinkedIn short link", "https://lnkd.in/eXq3Zk9V", site, "", "",
			Source{Host: "lnkd.in", Path: "/eXq3Zk9V", Name: "LinkedIn", Channel: ChannelOrganicSocial}},
		{"Bluesky", "https://bsky.app/profile/example.com/post/3kabc", site, "", "",
			Source{Host: "bsky.app", Path: "/profile/example.com/post/3kabc", Name: "Bluesky", Channel: ChannelOrganicSocial}},
		{"YouTube mobile by parent domain", "https://m.youtube.com/watch?v=dQw4w9WgXcQ", site, "", "",
			Source{Host: "m.youtube.com", Path: "/watch", Name: "YouTube", Channel: ChannelOrganicSocial}},

		// Email and others.
		{"Gmail web", "https://mail.google.com/", site, "", "",
			Source{Host: "mail.google.com", Path: "/", Name: "Gmail", Channel: ChannelEmail}},
		{"Gmail app", "android-app://com.google.android.gm/", site, "", "",
			Source{Host: "com.google.android.gm", Path: "/", Name: "Gmail", Channel: ChannelEmail}},
		{"Outlook.com", "https://outlook.live.com/", site, "", "",
			Source{Host: "outlook.live.com", Path: "/", Name: "Outlook.com", Channel: ChannelEmail}},
		{"ChatGPT", "https://chatgpt.com/", site, "", "",
			Source{Host: "chatgpt.com", Path: "/", Name: "ChatGPT", Channel: ChannelAIAssistants}},
		{"Gemini is not Google search", "https://gemini.google.com/app", site, "", "",
			Source{Host: "gemini.google.com", Path: "/app", Name: "Gemini", Channel: ChannelAIAssistants}},
		{"Wikipedia", "https://en.wikipedia.org/wiki/Web_analytics", site, "", "",
			Source{Host: "en.wikipedia.org", Path: "/wiki/Web_analytics", Name: "Wikipedia", Channel: ChannelReferral}},
		{"ad network referrer", "https://googleads.g.doubleclick.net/", site, "", "",
			Source{Host: "googleads.g.doubleclick.net", Path: "/", Name: "Google Ads", Channel: ChannelDisplay}},
		{"unknown site", "https://www.producthunt.com/posts/crumb?ref=x#y", site, "", "",
			Source{Host: "producthunt.com", Path: "/posts/crumb", Name: "producthunt.com", Channel: ChannelReferral}},
		{"look-alike host", "https://google.com.evil.example/search", site, "", "",
			Source{Host: "google.com.evil.example", Path: "/search", Name: "google.com.evil.example", Channel: ChannelReferral}},

		// Campaigns.
		{"Google Ads", "", site, "google", "cpc",
			Source{Name: "Google", Channel: ChannelPaidSearch}},
		{"Google Ads with referrer", "https://www.google.com/", site, "", "cpc",
			Source{Host: "google.com", Path: "/", Name: "Google", Channel: ChannelPaidSearch}},
		{"Bing Ads", "https://www.bing.com/", site, "bing", "ppc",
			Source{Host: "bing.com", Path: "/", Name: "Bing", Channel: ChannelPaidSearch}},
		{"Facebook Ads", "https://l.facebook.com/", site, "facebook", "paid_social",
			Source{Host: "l.facebook.com", Path: "/", Name: "Facebook", Channel: ChannelPaidSocial}},
		{"Instagram Ads by alias", "", site, "ig", "paid",
			Source{Name: "Instagram", Channel: ChannelPaidSocial}},
		{"LinkedIn organic post", "", site, "linkedin", "social",
			Source{Name: "LinkedIn", Channel: ChannelOrganicSocial}},
		{"social medium, unknown source", "", site, "mastodon-post", "social",
			Source{Name: "mastodon-post", Channel: ChannelOrganicSocial}},
		{"newsletter", "", site, "newsletter", "email",
			Source{Name: "newsletter", Channel: ChannelEmail}},
		{"newsletter medium", "https://www.example.org/", site, "Mailchimp", "newsletter",
			Source{Host: "example.org", Path: "/", Name: "Mailchimp", Channel: ChannelEmail}},
		{"display", "", site, "partner-site", "display",
			Source{Name: "partner-site", Channel: ChannelDisplay}},
		{"cpm on unknown source is display", "", site, "adnetwork", "cpm",
			Source{Name: "adnetwork", Channel: ChannelDisplay}},
		{"ad network as source", "", site, "taboola", "",
			Source{Name: "Taboola", Channel: ChannelDisplay}},
		{"affiliate", "", site, "awin", "affiliate",
			Source{Name: "awin", Channel: ChannelAffiliates}},
		{"paid, unknown source", "", site, "spring-sale", "cpc",
			Source{Name: "spring-sale", Channel: ChannelOtherCampaign}},
		{"unknown campaign", "", site, "spring-sale", "",
			Source{Name: "spring-sale", Channel: ChannelOtherCampaign}},
		{"organic medium", "", site, "", "organic",
			Source{Channel: ChannelOrganicSearch}},
		{"utm_source with referrer", "https://www.producthunt.com/posts/crumb", site, "producthunt", "",
			Source{Host: "producthunt.com", Path: "/posts/crumb", Name: "producthunt", Channel: ChannelReferral}},
		{"utm_source as host", "", site, "news.ycombinator.com", "",
			Source{Name: "Hacker News", Channel: ChannelOrganicSocial}},
		{"utm_source wins over a search referrer", "https://www.google.com/search?q=x", site, "newsletter", "email",
			Source{Host: "google.com", Path: "/search", Name: "newsletter", Channel: ChannelEmail}},
		{"UTM wins over internal referrer", "https://example.com/", site, "newsletter", "email",
			Source{Host: "example.com", Path: "/", Name: "newsletter", Channel: ChannelEmail}},
		{"referral source as utm_source", "", site, "wikipedia", "",
			Source{Name: "Wikipedia", Channel: ChannelReferral}},
		{"utm_medium referral", "", site, "partner", "referral",
			Source{Name: "partner", Channel: ChannelReferral}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Classify(tt.ref, tt.page, tt.utmSrc, tt.utmMd)
			if got != tt.want {
				t.Errorf("Classify(%q, %q, %q, %q)\n got %+v\nwant %+v", tt.ref, tt.page, tt.utmSrc, tt.utmMd, got, tt.want)
			}
		})
	}
}

func TestNewFromData_Errors(t *testing.T) {
	ok := func(s string) []byte { return []byte(s) }
	for name, d := range map[string][5][]byte{
		"bad JSON":          {ok(`[1, 2]`), ok(`{}`), ok(`{}`), ok(`{}`), ok(`{}`)},
		"bad medium":        {ok(`{"example.com": {"source": "Example", "medium": "carrier-pigeon"}}`), ok(`{}`), ok(`{}`), ok(`{}`), ok(`{}`)},
		"bad search YAML":   {ok(`{}`), ok(`- a list`), ok(`{}`), ok(`{}`), ok(`{}`)},
		"bad socials YAML":  {ok(`{}`), ok(`{}`), ok(`X: {a: b}`), ok(`{}`), ok(`{}`)},
		"bad extra medium":  {ok(`{}`), ok(`{}`), ok(`{}`), ok(`{}`), ok(`carrier-pigeon: {X: [x.com]}`)},
		"bad extra entries": {ok(`{}`), ok(`{}`), ok(`{}`), ok(`{}`), ok(`email: [x.com]`)},
	} {
		if _, err := newFromData(d[0], d[1], d[2], d[3], d[4]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNew_Data(t *testing.T) {
	c := newClassifier(t)
	if len(c.hosts) < 1500 || len(c.paths) < 100 {
		t.Errorf("only %d hosts and %d hosts with paths loaded", len(c.hosts), len(c.paths))
	}
	fi, err := os.Stat("data/referrers.json")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 1<<20 {
		t.Errorf("data/referrers.json is %d bytes, want < 1 MiB", fi.Size())
	}
}

var sink Source

func BenchmarkClassifier_Classify(b *testing.B) {
	c := newClassifier(b)
	for _, bc := range []struct{ name, ref, src, med string }{
		{"direct", "", "", ""},
		{"search", "https://www.google.co.uk/search?q=x", "", ""},
		{"unknown", "https://blog.some-site.example.org/post/1", "", ""},
		{"campaign", "", "facebook", "paid_social"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = c.Classify(bc.ref, "example.com", bc.src, bc.med)
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleClassifier_Classify() {
	c, err := New()
	if err != nil {
		panic(err)
	}
	s := c.Classify("https://news.google.co.uk/stories/abc?hl=en-GB", "example.com", "", "")
	fmt.Printf("%s %s %q %q\n", s.Host, s.Path, s.Name, s.Channel)
	s = c.Classify("", "example.com", "fb", "cpc")
	fmt.Printf("%q %q\n", s.Name, s.Channel)
	// Output:
	// news.google.co.uk /stories/abc "Google News" "Organic Search"
	// "Facebook" "Paid Social"
}
