package referrer

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// corpusCase is one referrer URL and where it should land.
type corpusCase struct {
	from              string // the list or "hard case"
	ref, utmSrc, utmM string
	channel, name     string
}

// listCases builds one referrer URL for every entry of the embedded lists:
// each Matomo social network, AI assistant and search engine, each entry
// of extra.yml and every entry of Ghost's list, with the channel its list
// gives it. A host that a later list names differently is expected as the
// later list says.
func listCases(t *testing.T) []corpusCase {
	t.Helper()
	channelOf := map[medium]string{mediumSearch: ChannelOrganicSearch, mediumSocial: ChannelOrganicSocial, mediumEmail: ChannelEmail,
		mediumPaid: ChannelDisplay, mediumReferral: ChannelReferral, mediumUnknown: ChannelReferral, mediumAI: ChannelAIAssistants}
	type item struct {
		key  string
		name string
		m    medium
		from string
	}
	var items []item
	// Ghost's list.
	var ghost map[string]struct{ Source, Medium string }
	if err := yaml.Unmarshal(referrersJSON, &ghost); err != nil {
		t.Fatal(err)
	}
	for k, v := range ghost {
		m, _ := parseMedium(v.Medium)
		items = append(items, item{strings.ToLower(k), v.Source, m, "ghost"})
	}
	names := func(data []byte, m medium, from string) {
		var list map[string][]string
		if err := yaml.Unmarshal(data, &list); err != nil {
			t.Fatal(err)
		}
		for name, hosts := range list {
			for _, h := range hosts {
				items = append(items, item{strings.ToLower(h), name, m, from})
			}
		}
	}
	names(matomoSocials, mediumSocial, "matomo socials")
	names(matomoAI, mediumAI, "matomo AI assistants")
	var search map[string][]struct{ URLs []string }
	if err := yaml.Unmarshal(matomoSearch, &search); err != nil {
		t.Fatal(err)
	}
	for name, defs := range search {
		for _, d := range defs {
			for _, u := range d.URLs {
				items = append(items, item{strings.ToLower(u), name, mediumSearch, "matomo search engines"})
			}
		}
	}
	var extra map[string]map[string][]string
	if err := yaml.Unmarshal(extraYAML, &extra); err != nil {
		t.Fatal(err)
	}
	for med, list := range extra {
		m, _ := parseMedium(med)
		for name, hosts := range list {
			for _, h := range hosts {
				items = append(items, item{strings.ToLower(h), name, m, "extra.yml"})
			}
		}
	}
	// The expectation of a key is its last list's (lists load in this
	// order; a Matomo search entry never replaces another kind).
	order := map[string]int{"ghost": 0, "matomo socials": 1, "matomo AI assistants": 2, "matomo search engines": 3, "extra.yml": 4}
	sort.SliceStable(items, func(i, j int) bool { return order[items[i].from] < order[items[j].from] })
	// A Matomo search entry on a host the earlier lists know as another
	// kind (a site's own search box) is not loaded.
	earlier, err := newFromData(referrersJSON, []byte("{}"), matomoSocials, matomoAI, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]item{}
	for _, it := range items {
		it.key = appKey(it.key)
		if it.from == "matomo search engines" {
			host, path, _ := strings.Cut(it.key, "/")
			if e, ok := earlier.lookupHost(host, "/"+path); ok && e.medium != mediumSearch && e.medium != mediumUnknown {
				continue
			}
		}
		last[it.key] = it
	}
	var out []corpusCase
	for key, it := range last {
		if !strings.Contains(key, ".") || strings.Count(key, "{}") > 1 {
			continue // bare words are utm_source names only
		}
		u := strings.ReplaceAll(key, "{}.", "www.")
		u = strings.ReplaceAll(u, ".{}", ".co.uk")
		scheme := "https://"
		if !strings.Contains(strings.SplitN(u, "/", 2)[0], ".") || looksLikePackage(u) {
			scheme = "android-app://"
		}
		out = append(out, corpusCase{from: it.from, ref: scheme + u, channel: channelOf[it.m], name: it.name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ref < out[j].ref })
	return out
}

// looksLikePackage tells an Android package (com.google.android.gm) from
// a host.
func looksLikePackage(s string) bool {
	for _, p := range []string{"com.", "org.", "ai.", "jp.", "io."} {
		if strings.HasPrefix(s, p) && strings.Count(s, ".") >= 2 && !strings.Contains(s, "/") {
			return !strings.HasSuffix(s, ".com") && !strings.HasSuffix(s, ".org")
		}
	}
	return false
}

// hardCases are referrers that lists alone get wrong easily: subdomains,
// country domains, redirectors, apps, odd spellings, and campaign tags.
var hardCases = []corpusCase{
	{ref: "https://www.google.co.uk/", channel: ChannelOrganicSearch, name: "Google"},
	{ref: "https://www.google.com.br/search?q=x", channel: ChannelOrganicSearch, name: "Google"},
	{ref: "https://google.de/", channel: ChannelOrganicSearch, name: "Google"},
	{ref: "https://WWW.GOOGLE.FR/", channel: ChannelOrganicSearch, name: "Google"},
	{ref: "https://www.google.com./", channel: ChannelOrganicSearch, name: "Google"},
	{ref: "https://www.google.com:443/url?q=x", channel: ChannelOrganicSearch, name: "Google"},
	{ref: "https://news.google.co.uk/stories/x", channel: ChannelOrganicSearch, name: "Google News"},
	{ref: "https://www.bing.com/search?q=x", channel: ChannelOrganicSearch, name: "Bing"},
	{ref: "https://cn.bing.com/", channel: ChannelOrganicSearch, name: "Bing"},
	{ref: "https://duckduckgo.com/", channel: ChannelOrganicSearch, name: "DuckDuckGo"},
	{ref: "https://search.brave.com/search?q=x", channel: ChannelOrganicSearch, name: "Brave Search"},
	{ref: "https://yandex.ru/search/?text=x", channel: ChannelOrganicSearch, name: "Yandex"},
	{ref: "https://www.ecosia.org/search?q=x", channel: ChannelOrganicSearch, name: "Ecosia"},
	{ref: "https://suche.1und1.de/web?q=x", channel: ChannelOrganicSearch, name: "Google"}, // Matomo names the engine behind it
	{ref: "https://search.yahoo.co.jp/search?p=x", channel: ChannelOrganicSearch, name: "Yahoo! Japan"},
	{ref: "android-app://com.google.android.googlequicksearchbox/", channel: ChannelOrganicSearch, name: "Google"},
	{ref: "https://l.facebook.com/l.php?u=x", channel: ChannelOrganicSocial, name: "Facebook"},
	{ref: "https://lm.facebook.com/", channel: ChannelOrganicSocial, name: "Facebook"},
	{ref: "https://m.facebook.com/", channel: ChannelOrganicSocial, name: "Facebook"},
	{ref: "https://www.facebook.com/", channel: ChannelOrganicSocial, name: "Facebook"},
	{ref: "android-app://com.facebook.katana/", channel: ChannelOrganicSocial, name: "Facebook"},
	{ref: "https://t.co/abc", channel: ChannelOrganicSocial, name: "Twitter"},
	{ref: "https://x.com/someone/status/1", channel: ChannelOrganicSocial},
	{ref: "https://out.reddit.com/t3_x", channel: ChannelOrganicSocial, name: "Reddit"},
	{ref: "android-app://com.reddit.frontpage/", channel: ChannelOrganicSocial, name: "Reddit"},
	{ref: "https://lnkd.in/abc", channel: ChannelOrganicSocial, name: "LinkedIn"},
	{ref: "android-app://com.linkedin.android/", channel: ChannelOrganicSocial, name: "LinkedIn"},
	{ref: "https://l.workplace.com/", channel: ChannelOrganicSocial, name: "Workplace"},
	{ref: "https://lnk.bio/someone", channel: ChannelOrganicSocial, name: "lnk.bio"},
	{ref: "https://linktr.ee/someone", channel: ChannelOrganicSocial, name: "Linktree"},
	{ref: "https://mastodon.social/@x", channel: ChannelOrganicSocial, name: "Mastodon"},
	{ref: "https://bsky.app/profile/x", channel: ChannelOrganicSocial, name: "Bluesky"},
	{ref: "https://www.youtube.com/watch?v=x", channel: ChannelOrganicSocial, name: "YouTube"},
	{ref: "https://news.ycombinator.com/item?id=1", channel: ChannelOrganicSocial},
	{ref: "https://mail.gmx.net/", channel: ChannelEmail, name: "GMX"},
	{ref: "https://3c.web.de/mail/client", channel: ChannelEmail, name: "WEB.DE"},
	{ref: "https://email.1und1.de/", channel: ChannelEmail, name: "1&1 Mail"},
	{ref: "https://mail.ionos.de/", channel: ChannelEmail, name: "IONOS Mail"},
	{ref: "https://mail.bluewin.ch/", channel: ChannelEmail, name: "Bluewin Mail"},
	{ref: "https://mail.orange.fr/", channel: ChannelEmail, name: "Orange Mail"},
	{ref: "https://email.t-online.de/em", channel: ChannelEmail, name: "T-Online Mail"},
	{ref: "https://mail.proton.me/u/0/inbox", channel: ChannelEmail, name: "Proton Mail"},
	{ref: "https://www.mail.com/", channel: ChannelEmail, name: "Mail.com"},
	{ref: "https://webmail.vodafone.de/", channel: ChannelEmail, name: "Vodafone Mail"},
	{ref: "https://mail.tim.it/", channel: ChannelEmail, name: "TIM Mail"},
	{ref: "https://mail.infomaniak.com/", channel: ChannelEmail, name: "Infomaniak Mail"},
	{ref: "https://mail.google.com/mail/u/0/", channel: ChannelEmail, name: "Gmail"},
	{ref: "android-app://com.google.android.gm/", channel: ChannelEmail, name: "Gmail"},
	{ref: "https://outlook.live.com/mail/0/", channel: ChannelEmail, name: "Outlook.com"},
	{ref: "https://ad.doubleclick.net/ddm/clk/1", channel: ChannelDisplay, name: "Doubleclick"},
	{ref: "https://s0.2mdn.net/x", channel: ChannelDisplay, name: "Doubleclick"},
	{ref: "https://pagead2.googlesyndication.com/", channel: ChannelDisplay, name: "Google Ads"},
	{ref: "https://www.adsensecustomsearchads.com/", channel: ChannelDisplay, name: "Google Ads"},
	{ref: "https://syndicatedsearch.goog/", channel: ChannelDisplay, name: "Google Ads"},
	{ref: "https://www.googleadservices.com/pagead/aclk", channel: ChannelDisplay, name: "Google"},
	{ref: "https://chatgpt.com/", channel: ChannelAIAssistants, name: "ChatGPT"},
	{ref: "https://chat.openai.com/c/1", channel: ChannelAIAssistants, name: "ChatGPT"},
	{ref: "https://claude.ai/chat/1", channel: ChannelAIAssistants, name: "Claude"},
	{ref: "https://www.perplexity.ai/search/x", channel: ChannelAIAssistants, name: "Perplexity"},
	{ref: "https://gemini.google.com/app", channel: ChannelAIAssistants, name: "Gemini"},
	{ref: "https://copilot.microsoft.com/", channel: ChannelAIAssistants, name: "Copilot"},
	{ref: "https://www.meta.ai/", channel: ChannelAIAssistants, name: "Meta AI"},
	{ref: "https://chat.mistral.ai/chat/1", channel: ChannelAIAssistants, name: "Mistral Le Chat"},
	{ref: "https://chat.deepseek.com/", channel: ChannelAIAssistants, name: "DeepSeek"},
	{ref: "https://character.ai/chat/x", channel: ChannelAIAssistants, name: "Character.AI"},
	{ref: "https://poe.com/ChatGPT", channel: ChannelAIAssistants, name: "Poe"},
	{ref: "https://you.com/search?q=x", channel: ChannelAIAssistants, name: "You.com"},
	{ref: "https://grok.com/", channel: ChannelAIAssistants, name: "Grok"},
	{ref: "https://x.com/i/grok?conversation=1", channel: ChannelAIAssistants, name: "Grok"},
	{ref: "android-app://com.openai.chatgpt/", channel: ChannelAIAssistants, name: "ChatGPT"},
	{ref: "", utmSrc: "chatgpt.com", channel: ChannelAIAssistants, name: "ChatGPT"},
	{ref: "https://en.wikipedia.org/wiki/X", channel: ChannelReferral, name: "Wikipedia"},
	{ref: "https://some-blog.example.org/post", channel: ChannelReferral, name: "some-blog.example.org"},
	{ref: "https://www.google.com/", utmSrc: "newsletter", utmM: "email", channel: ChannelEmail, name: "newsletter"},
	{ref: "https://www.google.com/", utmSrc: "google", utmM: "cpc", channel: ChannelPaidSearch, name: "Google"},
	{ref: "", utmSrc: "fb", utmM: "paid_social", channel: ChannelPaidSocial, name: "Facebook"},
	{ref: "", utmSrc: "facebook", utmM: "cpc", channel: ChannelPaidSocial, name: "Facebook"},
	{ref: "", utmSrc: "partner", utmM: "affiliate", channel: ChannelAffiliates, name: "partner"},
	{ref: "", utmSrc: "spring", utmM: "display", channel: ChannelDisplay, name: "spring"},
	{ref: "", channel: ChannelDirect},
}

// TestClassifier_Corpus classifies one referrer per list entry and the hard
// cases: the channel must be right for at least 95% of them, every listed
// referrer gets a source name (not its host), and the AI assistants have
// their own channel and names.
func TestClassifier_Corpus(t *testing.T) {
	c := newClassifier(t)
	cases := append(listCases(t), hardCases...)
	right, named := 0, 0
	wrong := map[string][]string{}
	for _, tc := range cases {
		if tc.from == "" {
			tc.from = "hard case"
		}
		got := c.Classify(tc.ref, "example.com", tc.utmSrc, tc.utmM)
		if got.Channel == tc.channel {
			right++
		} else {
			wrong[tc.from] = append(wrong[tc.from], fmt.Sprintf("%s (utm %q/%q): %s, want %s", tc.ref, tc.utmSrc, tc.utmM, got.Channel, tc.channel))
		}
		if tc.name == "" {
			continue
		}
		if got.Name == tc.name {
			named++
		} else if tc.from == "hard case" {
			t.Errorf("%s: source %q, want %q", tc.ref, got.Name, tc.name)
		} else if got.Name == "" || got.Name == got.Host {
			t.Errorf("%s (%s): no source name (%q)", tc.ref, tc.from, got.Name)
		}
	}
	share := 100 * float64(right) / float64(len(cases))
	t.Logf("%d referrers (%d hard cases): channel right for %d (%.1f%%), the list's name for %d", len(cases), len(hardCases), right, share, named)
	for from, list := range wrong {
		sort.Strings(list)
		t.Logf("%s: %d channels differ, e.g. %v", from, len(list), list[:min(5, len(list))])
	}
	if share < 95 {
		t.Errorf("channel right for %.1f%% of referrers, want at least 95%%", share)
	}
	for _, list := range wrong {
		for _, w := range list {
			if strings.Contains(w, "want "+ChannelAIAssistants) {
				t.Errorf("AI assistant: %s", w)
			}
		}
	}
	if len(wrong["hard case"]) > 0 {
		t.Errorf("hard cases wrong: %v", wrong["hard case"])
	}
}
