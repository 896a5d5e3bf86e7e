// Package useragent turns a User-Agent header into the few fields Crumb
// stores: browser and major version, operating system and version, device
// type, and whether the client is a bot.
//
// Parsing uses ua-parser's regexes (github.com/ua-parser/uap-go, which embeds
// uap-core's regexes.yaml) for browser, OS and device, and the pattern list
// of crawler-user-agents (bots.go, data/) plus a short list of HTTP libraries
// for bot detection. A literal prefilter (prefilter.go) picks the few regexes
// of each list that can match a given User-Agent. A full parse costs tens of
// microseconds, so results are kept in an LRU cache keyed by the User-Agent
// string.
//
// Bot policy, for analytics: a client is a bot when ua-parser calls its
// device a "Spider", when crawler-user-agents matches, when the header is
// empty or shorter than 20 bytes, or when it comes from an HTTP library or
// a browser automation tool (curl, python-requests, Go-http-client, Java,
// Postman, Node's undici, …). Headless browsers (HeadlessChrome, PhantomJS,
// Puppeteer, Lighthouse, Cypress) are bots too: they run scripts, but no
// person is looking at the page.
package useragent

import (
	"fmt"
	"strings"

	"github.com/ua-parser/uap-go/uaparser"
)

// Device types reported in Agent.Device; "" when the User-Agent does not
// tell (the ingest pipeline then falls back on the screen width, and
// stores DeviceOther when that says nothing either).
const (
	DeviceDesktop  = "desktop"
	DeviceMobile   = "mobile" // phones, feature phones included
	DeviceTablet   = "tablet"
	DeviceTV       = "tv"      // smart TVs, TV sticks and set-top boxes
	DeviceConsole  = "console" // game consoles, handheld ones included
	DeviceWearable = "wearable"
	DeviceXR       = "xr"       // VR and AR headsets, smart glasses
	DeviceEmbedded = "embedded" // cars, smart speakers, appliances
	DeviceOther    = "other"
)

// DeviceTypes lists every stored device type.
var DeviceTypes = []string{DeviceDesktop, DeviceMobile, DeviceTablet, DeviceTV, DeviceConsole, DeviceWearable, DeviceXR, DeviceEmbedded, DeviceOther}

const (
	// MaxLength is how many bytes of a User-Agent are parsed and used as the
	// cache key; the rest is ignored. Real browsers stay well below it.
	MaxLength = 512
	// MinLength is the length under which a User-Agent counts as a bot.
	MinLength = 20
)

// Agent is what Crumb keeps of a User-Agent.
type Agent struct {
	// Browser is the browser family, such as "Chrome", "Safari", "Firefox",
	// "Edge" or "Samsung Internet"; "" when unknown. Mobile and desktop
	// variants share one name ("Chrome Mobile" is "Chrome"); Device tells
	// them apart.
	Browser string
	// BrowserVersion is the browser's major version ("131"), or "".
	BrowserVersion string
	// OS is the operating system family, such as "Windows", "macOS", "iOS",
	// "Android", "Linux" or "Chrome OS"; "" when unknown.
	OS string
	// OSVersion is the major and, when known, minor version ("17.6", "14",
	// "10.15"), or "".
	OSVersion string
	// Device is one of the Device types, or "" when the User-Agent does
	// not tell.
	Device string
	// Bot reports a crawler, monitor, HTTP library or headless browser. A
	// bot's Agent has no other field set: Crumb drops bots, so naming them
	// is not worth the parsing time.
	Bot bool
}

// Parser parses User-Agent strings. It is safe for concurrent use.
type Parser struct {
	defs    *uaparser.RegexDefinitions
	uaF     *prefilter
	osF     *prefilter
	deviceF *prefilter
	bots    *botMatcher
	cache   *lru // nil when caching is off
}

// New returns a Parser whose cache holds up to cacheSize user agents;
// cacheSize <= 0 turns caching off. Building a Parser compiles about 2,700
// regular expressions and takes about 100 ms on one core, so build one per
// process and share it.
//
// New panics if the regex data embedded in the binary is unusable, which is
// a build defect that the package's tests catch.
func New(cacheSize int) *Parser {
	p, err := newParser(cacheSize)
	if err != nil {
		panic(err)
	}
	return p
}

// newParser is New with an error instead of a panic.
func newParser(cacheSize int) (*Parser, error) {
	// uap-go's own cache would sit behind ours and only cost memory and
	// locking; it cannot be disabled, so it gets the smallest size.
	u, err := uaparser.New(uaparser.WithCacheSize(1))
	if err != nil {
		return nil, fmt.Errorf("useragent: load ua-parser regexes: %w", err)
	}
	p := &Parser{defs: u.RegexDefinitions}
	var ua, os, device []string
	for _, r := range p.defs.UA {
		ua = append(ua, inlineFlags(r.Flags, r.Expr))
	}
	for _, r := range p.defs.OS {
		os = append(os, inlineFlags(r.Flags, r.Expr))
	}
	for _, r := range p.defs.Device {
		device = append(device, inlineFlags(r.Flags, r.Expr))
	}
	common := commonUserAgents()
	if p.uaF, err = newPrefilter(ua, common...); err != nil {
		return nil, fmt.Errorf("useragent: index browser regexes: %w", err)
	}
	if p.osF, err = newPrefilter(os, common...); err != nil {
		return nil, fmt.Errorf("useragent: index OS regexes: %w", err)
	}
	if p.deviceF, err = newPrefilter(device, common...); err != nil {
		return nil, fmt.Errorf("useragent: index device regexes: %w", err)
	}
	if p.bots, err = newBotMatcher(); err != nil {
		return nil, fmt.Errorf("useragent: %w", err)
	}
	if cacheSize > 0 {
		p.cache = newLRU(cacheSize)
	}
	return p, nil
}

// commonUserAgents returns the shapes of User-Agent most traffic has. The
// prefilter avoids indexing literals they all contain (") AppleWebKit",
// "Mozilla"), which would make a regex a candidate for every request.
func commonUserAgents() []string {
	return []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	}
}

// inlineFlags writes a regex the way uap-go compiles it.
func inlineFlags(flags, expr string) string {
	if flags == "" {
		return expr
	}
	return "(?" + flags + ")" + expr
}

// Parse returns what Crumb keeps of ua. Only the first MaxLength bytes are
// looked at. ua may point into a reused buffer (as Fiber's headers do): the
// cache keeps its own copy.
func (p *Parser) Parse(ua string) Agent {
	if len(ua) > MaxLength {
		ua = ua[:MaxLength]
	}
	if len(strings.TrimSpace(ua)) < MinLength {
		return Agent{Bot: true}
	}
	if p.cache != nil {
		if a, ok := p.cache.get(ua); ok {
			return a
		}
	}
	a := p.parse(ua)
	if p.cache != nil {
		p.cache.add(strings.Clone(ua), a)
	}
	return a
}

// parse does the uncached work of Parse. The cheap bot checks run first, so
// that crawlers never reach ua-parser's slowest regexes, which exist to name
// crawlers and can take a quarter of a millisecond.
func (p *Parser) parse(ua string) Agent {
	if isLibrary(ua) || p.bots.IsBot(ua) {
		return Agent{Bot: true}
	}
	b, o, d := p.match(ua)
	if d.Family == "Spider" || headless(b.Family) {
		return Agent{Bot: true}
	}
	a := Agent{
		Browser:        browserName(b.Family),
		BrowserVersion: b.Major,
		OS:             osName(o.Family),
		OSVersion:      o.Major,
		Device:         deviceType(ua, osName(o.Family), d),
	}
	if a.Browser == "" {
		a.BrowserVersion = ""
	}
	if a.OS == "" || a.OSVersion == "" {
		a.OSVersion = ""
	} else if o.Minor != "" {
		a.OSVersion += "." + o.Minor
	}
	return a
}

// match runs ua-parser's three regex lists the way uap-go's Parser does (the
// first regex in list order that yields a family wins; none gives "Other"),
// but only over the regexes the prefilter says can match.
func (p *Parser) match(ua string) (b uaparser.UserAgent, o uaparser.Os, d uaparser.Device) {
	p.uaF.Candidates(ua, func(i int) bool {
		p.defs.UA[i].Match(ua, &b)
		return b.Family == ""
	})
	p.osF.Candidates(ua, func(i int) bool {
		p.defs.OS[i].Match(ua, &o)
		return o.Family == ""
	})
	p.deviceF.Candidates(ua, func(i int) bool {
		p.defs.Device[i].Match(ua, &d)
		return d.Family == ""
	})
	if b.Family == "" {
		b.Family = "Other"
	}
	if o.Family == "" {
		o.Family = "Other"
	}
	if d.Family == "" {
		d.Family = "Other"
	}
	return b, o, d
}

// browserName folds ua-parser's platform-specific browser families into the
// name people know the browser by.
func browserName(family string) string {
	switch family {
	case "Other":
		return ""
	case "Chrome Mobile", "Chrome Mobile iOS":
		return "Chrome"
	case "Chrome Mobile WebView":
		return "Chrome WebView"
	case "Mobile Safari":
		return "Safari"
	case "Mobile Safari UI/WKWebView":
		return "Safari WebView"
	case "Firefox Mobile", "Firefox iOS":
		return "Firefox"
	case "Edge Mobile":
		return "Edge"
	case "Opera Mobile":
		return "Opera"
	}
	return family
}

// osName renames ua-parser's OS families where the current name differs.
func osName(family string) string {
	switch family {
	case "Other":
		return ""
	case "Mac OS X":
		return "macOS"
	}
	return family
}

// headless reports browser families that only automation uses.
func headless(family string) bool {
	switch family {
	case "HeadlessChrome", "PhantomJS":
		return true
	}
	return false
}

// isLibrary reports a User-Agent sent by an HTTP library, a runtime or a
// test tool that crawler-user-agents does not list (it already has curl,
// Wget, python-requests, Go-http-client, okhttp, axios, node-fetch, Scrapy…).
func isLibrary(ua string) bool {
	prefixes := [...]string{
		"Bun/", "Dalvik/", "Dart/", "Deno/", "Faraday ", "GuzzleHttp/", "http.rb/",
		"Java/", "Java ", "PHP/", "PostmanRuntime/", "Python/", "Ruby", "Typhoeus",
		"insomnia/", "lychee/", "node", "python-", "reqwest/", "undici",
	}
	for _, prefix := range prefixes {
		if strings.HasPrefix(ua, prefix) {
			return true
		}
	}
	return containsAny(ua, "HeadlessChrome", "Cypress/", "Playwright", "Selenium")
}

// deviceType classifies the device. It reads, in this order, what
// uap-core's device rules already say (its generic families and brands:
// "Generic Feature Phone", "Generic_Android_Tablet", "Generic_Inettv"; a
// phone maker's brand and model) and the few tokens that name a kind of
// device outright:
//
//   - console: PlayStation, Xbox, Nintendo;
//   - tv: smart TV and set-top platforms (SMART-TV, Tizen TV, webOS TV,
//     HbbTV, Android TV, Google TV, Apple TV, Roku, Fire TV sticks, …);
//   - wearable: watches (watchOS, Wear OS, Galaxy Watch and Gear models);
//   - xr: headsets and glasses (Oculus, Quest, Pico, Vision Pro, Glass);
//   - embedded: cars and smart speakers (Tesla, Android Automotive,
//     HomePod, Echo);
//   - tablet: iPad, Kindle, PlayBook, a tablet model or Android without
//     "Mobile" in a browser's User-Agent (uap-core's Generic_Android_Tablet);
//   - mobile: phones, smart and feature phones (iPhone, "Mobi", Windows
//     Phone, BlackBerry, KaiOS, Symbian, J2ME/MIDP, BREW, NetFront, Opera
//     Mini…) and any device uap-core names by a maker and model;
//   - desktop: Windows, macOS, Linux, Chrome OS and the BSDs.
//
// Anything else is "" (unknown). iPads that request desktop sites (the
// default since iPadOS 13) send a Mac User-Agent and count as desktop.
func deviceType(ua, os string, d uaparser.Device) string {
	lower := strings.ToLower(ua)
	switch {
	case containsAny(ua, "PlayStation", "PLAYSTATION", "Xbox", "Nintendo"):
		return DeviceConsole
	case d.Brand == "Generic_Inettv",
		containsAny(lower, "smart-tv", "smarttv", "smart tv", "hbbtv", "android tv", "googletv", "google tv", "appletv", "apple tv", "crkey",
			"web0s", "webos.tv", "netcast", "roku", "bravia", "viera", "aquos", "tizen tv", "; tv;", " tv safari", "opera tv", "dtv", "tv store",
			"philipstv", "nettv", "espial", "vidaa", "hisense", "tsbnettv", "_tv-", "-smarttv", "inettvbrowser", "mibox", "shield android tv"),
		isFireTV(ua):
		return DeviceTV
	case containsAny(lower, "watchos", "watch os", "wear os", "; wearable", "smartwatch") || strings.Contains(d.Family, "Watch") || strings.Contains(d.Family, "Gear ") ||
		d.Brand == "Samsung" && (strings.HasPrefix(d.Model, "SM-R") || strings.HasPrefix(d.Model, "SM-L")):
		return DeviceWearable
	case containsAny(ua, "Oculus", "Quest", "Pico Neo", "PicoBrowser", "Vision Pro", "VisionOS", "visionOS", "Glass 1", "Mobile VR", "MetaQuest"):
		return DeviceXR
	case containsAny(ua, "Tesla/", "QtCarBrowser", "Android Automotive", "HomePod", "AmazonEcho", "Echo Show", "AFTEC"):
		return DeviceEmbedded
	case strings.HasPrefix(d.Family, "iPad"), strings.HasPrefix(d.Family, "Kindle"), d.Family == "Generic Tablet", d.Brand == "Generic_Android_Tablet",
		containsAny(ua, "iPad", "Kindle", "Silk/", "PlayBook", "Tablet; ", "Opera Tablet", "WeTab"),
		strings.Contains(ua, "Tablet") && !strings.Contains(ua, "Tablet PC"),
		tabletModel(d.Model),
		os == "Android" && strings.Contains(ua, "Safari") && !strings.Contains(ua, "Mobi"):
		return DeviceTablet
	case containsAny(ua, "Mobi", "iPhone", "iPod", "Windows Phone", "Windows CE", "WPDesktop", "Opera Mini", "BlackBerry", "BB10", "KAIOS", "KaiOS",
		"J2ME", "MIDP", "CLDC", "Symbian", "SymbOS", "Series40", "Series 40", "Series60", "S60", "BREW", "NetFront", "Obigo", "UP.Browser",
		"UCWEB", "MAUI", "Teleca", "Polaris", "Nokia", "SonyEricsson", "Palm", "webOS", "hpwOS", "Maemo", "MeeGo", "Bada", "Tizen", "phone"),
		os == "iOS", os == "Android", os == "KaiOS", os == "Windows Phone", os == "BlackBerry OS", os == "Symbian OS",
		d.Family == "Generic Smartphone", d.Family == "Generic Feature Phone", d.Family == "iPhone",
		phoneBrand(d):
		return DeviceMobile
	case containsAny(ua, "Windows NT", "Macintosh", "Mac_PowerPC", "Mac_PPC", "X11;", "CrOS", "Linux x86_64", "Windows 95", "Windows 98", "Win64", "WOW64"),
		os == "Windows", os == "macOS", os == "Linux", os == "Ubuntu", os == "Chrome OS", os == "FreeBSD", os == "OpenBSD", os == "NetBSD", os == "Fedora", os == "Debian":
		return DeviceDesktop
	}
	return ""
}

// isFireTV reports Amazon's Fire TV devices, whose models start "AFT".
func isFireTV(ua string) bool {
	i := strings.Index(ua, "AFT")
	return i >= 0 && i+3 < len(ua) && ua[i+3] >= 'A' && ua[i+3] <= 'Z' && (i == 0 || ua[i-1] == ' ' || ua[i-1] == ';')
}

// tabletModel reports the model names of well-known tablet lines.
func tabletModel(model string) bool {
	for _, p := range [...]string{"SM-T", "SM-P", "SM-X", "GT-P", "GT-N5", "GT-N8", "SGP", "SGPT", "Nexus 7", "Nexus 9", "Nexus 10", "Xoom",
		"MediaPad", "TB-", "TB2-", "TB3-", "Lenovo TB", "IdeaTab", "Transformer", "TF101", "TF201", "TF300", "TF700", "K00", "ME17", "ME30",
		"Iconia", "A1-", "B1-", "KF", "Tab", "Pad", "MatePad", "Galaxy Tab", "Surface"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return strings.Contains(model, "Tablet") || strings.Contains(model, " Tab ") || strings.HasSuffix(model, " Tab")
}

// phoneBrand reports a device that uap-core names by a maker and model:
// phones, since tablets, TVs and the rest were told apart before.
func phoneBrand(d uaparser.Device) bool {
	switch d.Brand {
	case "", "Generic", "Generic_Android", "Generic_Android_Tablet", "Generic_Inettv", "Spider", "Apple":
		return d.Brand == "Generic_Android" && d.Model != ""
	}
	return d.Model != ""
}

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
