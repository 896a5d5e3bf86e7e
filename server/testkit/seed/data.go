package seed

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// weighted picks one of n items by weight.
type weighted struct {
	cum []float64
}

func newWeighted(ws []float64) weighted {
	cum := make([]float64, len(ws))
	t := 0.0
	for i, w := range ws {
		t += w
		cum[i] = t
	}
	for i := range cum {
		cum[i] /= t
	}
	return weighted{cum: cum}
}

func (w weighted) pick(r *rand.Rand) int {
	x := r.Float64()
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if w.cum[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// geo is where a visitor is, as the GeoIP step would enrich it.
type geo struct {
	country, region, city string
	asn                   uint32
	provider              string
	lang                  string
	// The domain type (package rdns) of the visitor's network.
	domainType, domainSuffix, domainSource string
}

// domainTypes: what reverse DNS and AS names tell of visitors' networks,
// most of them an ISP's name under a country's domain or .net.
var domainTypes = []struct {
	typ, suffix, source string
	weight              float64
}{
	{"country", "", "ptr", 34}, {"network", "net", "ptr", 22}, {"commercial", "com", "ptr", 12},
	{"network", "", "asn", 12}, {"hosting", "", "asn", 3}, {"education", "edu", "ptr", 2},
	{"education", "ac.uk", "ptr", 1}, {"government", "gov", "ptr", 0.5}, {"organisation", "org", "ptr", 0.5},
	{"unknown", "", "", 13},
}

type countrySpec struct {
	code      string
	weight    float64
	lang      []string
	places    [][2]string // region, city
	providers []string
}

var countries = []countrySpec{
	{"US", 27, []string{"en-US", "es-US"}, [][2]string{{"California", "San Francisco"}, {"California", "Los Angeles"}, {"New York", "New York"}, {"Texas", "Austin"}, {"Texas", "Dallas"}, {"Washington", "Seattle"}, {"Illinois", "Chicago"}, {"Massachusetts", "Boston"}, {"Florida", "Miami"}, {"Colorado", "Denver"}, {"Georgia", "Atlanta"}, {"Oregon", "Portland"}, {"Illinois", "Springfield"}, {"Missouri", "Springfield"}}, []string{"Comcast Cable", "AT&T Services", "Verizon Business", "Charter Communications", "T-Mobile USA", "Amazon.com"}},
	{"DE", 12, []string{"de-DE", "en-US"}, [][2]string{{"Bavaria", "Munich"}, {"Berlin", "Berlin"}, {"Hamburg", "Hamburg"}, {"Hesse", "Frankfurt am Main"}, {"North Rhine-Westphalia", "Cologne"}, {"Baden-Württemberg", "Stuttgart"}, {"Saxony", "Leipzig"}}, []string{"Deutsche Telekom AG", "Vodafone GmbH", "Telefonica Germany", "1&1 Versatel", "Hetzner Online GmbH"}},
	{"GB", 8, []string{"en-GB"}, [][2]string{{"England", "London"}, {"England", "Manchester"}, {"Scotland", "Edinburgh"}, {"England", "Bristol"}, {"Wales", "Cardiff"}}, []string{"British Telecommunications", "Virgin Media", "Sky UK", "Vodafone UK"}},
	{"FR", 6, []string{"fr-FR", "en-US"}, [][2]string{{"Île-de-France", "Paris"}, {"Auvergne-Rhône-Alpes", "Lyon"}, {"Occitanie", "Toulouse"}, {"Provence-Alpes-Côte d'Azur", "Marseille"}}, []string{"Orange S.A.", "Free SAS", "SFR", "Bouygues Telecom", "OVH SAS"}},
	{"IN", 6, []string{"en-IN", "hi-IN"}, [][2]string{{"Karnataka", "Bengaluru"}, {"Maharashtra", "Mumbai"}, {"Delhi", "New Delhi"}, {"Telangana", "Hyderabad"}, {"Tamil Nadu", "Chennai"}}, []string{"Reliance Jio Infocomm", "Bharti Airtel", "Vodafone Idea"}},
	{"CA", 4, []string{"en-CA", "fr-CA"}, [][2]string{{"Ontario", "Toronto"}, {"Quebec", "Montreal"}, {"British Columbia", "Vancouver"}}, []string{"Rogers Communications", "Bell Canada", "Telus"}},
	{"NL", 3, []string{"nl-NL", "en-US"}, [][2]string{{"North Holland", "Amsterdam"}, {"South Holland", "Rotterdam"}, {"Utrecht", "Utrecht"}, {"Limburg", "Maastricht"}}, []string{"KPN B.V.", "Ziggo B.V.", "T-Mobile Netherlands"}},
	{"BE", 1, []string{"nl-BE", "fr-BE"}, [][2]string{{"Brussels", "Brussels"}, {"Flanders", "Antwerp"}, {"Limburg", "Hasselt"}}, []string{"Proximus NV", "Telenet BVBA"}},
	{"BR", 3, []string{"pt-BR"}, [][2]string{{"São Paulo", "São Paulo"}, {"Rio de Janeiro", "Rio de Janeiro"}, {"Minas Gerais", "Belo Horizonte"}}, []string{"Claro S.A.", "Telefonica Brasil", "TIM S/A"}},
	{"ES", 3, []string{"es-ES"}, [][2]string{{"Madrid", "Madrid"}, {"Catalonia", "Barcelona"}, {"Valencia", "Valencia"}}, []string{"Telefonica de Espana", "Vodafone Spain", "Orange Espagne"}},
	{"IT", 3, []string{"it-IT"}, [][2]string{{"Lombardy", "Milan"}, {"Lazio", "Rome"}, {"Piedmont", "Turin"}}, []string{"Telecom Italia", "Vodafone Italia", "Fastweb"}},
	{"PL", 2, []string{"pl-PL"}, [][2]string{{"Mazovia", "Warsaw"}, {"Lesser Poland", "Kraków"}}, []string{"Orange Polska", "Netia SA"}},
	{"SE", 2, []string{"sv-SE", "en-US"}, [][2]string{{"Stockholm", "Stockholm"}, {"Västra Götaland", "Gothenburg"}}, []string{"Telia Company", "Tele2 Sverige"}},
	{"JP", 2, []string{"ja-JP"}, [][2]string{{"Tokyo", "Tokyo"}, {"Osaka", "Osaka"}}, []string{"NTT Communications", "KDDI Corporation", "SoftBank Corp."}},
	{"AU", 2, []string{"en-AU"}, [][2]string{{"New South Wales", "Sydney"}, {"Victoria", "Melbourne"}}, []string{"Telstra", "TPG Telecom", "Optus"}},
	{"CH", 1.5, []string{"de-CH", "fr-CH"}, [][2]string{{"Zurich", "Zurich"}, {"Geneva", "Geneva"}}, []string{"Swisscom", "Sunrise"}},
	{"AT", 1.5, []string{"de-AT"}, [][2]string{{"Vienna", "Vienna"}, {"Styria", "Graz"}}, []string{"A1 Telekom Austria", "Magenta Telekom"}},
	{"DK", 1, []string{"da-DK"}, [][2]string{{"Capital Region", "Copenhagen"}}, []string{"TDC", "Telia Danmark"}},
	{"NO", 1, []string{"nb-NO"}, [][2]string{{"Oslo", "Oslo"}}, []string{"Telenor Norge"}},
	{"FI", 1, []string{"fi-FI"}, [][2]string{{"Uusimaa", "Helsinki"}}, []string{"Elisa Oyj", "DNA Oyj"}},
	{"IE", 1, []string{"en-IE"}, [][2]string{{"Leinster", "Dublin"}}, []string{"Eir", "Vodafone Ireland"}},
	{"PT", 1, []string{"pt-PT"}, [][2]string{{"Lisbon", "Lisbon"}, {"Porto", "Porto"}}, []string{"MEO", "NOS"}},
	{"CZ", 1, []string{"cs-CZ"}, [][2]string{{"Prague", "Prague"}}, []string{"O2 Czech Republic"}},
	{"MX", 1, []string{"es-MX"}, [][2]string{{"Mexico City", "Mexico City"}}, []string{"Telmex"}},
	{"AR", 0.7, []string{"es-AR"}, [][2]string{{"Buenos Aires", "Buenos Aires"}}, []string{"Telecom Argentina"}},
	{"SG", 0.8, []string{"en-SG"}, [][2]string{{"Singapore", "Singapore"}}, []string{"Singtel"}},
	{"KR", 0.8, []string{"ko-KR"}, [][2]string{{"Seoul", "Seoul"}}, []string{"Korea Telecom"}},
	{"CN", 0.6, []string{"zh-CN"}, [][2]string{{"Beijing", "Beijing"}, {"Shanghai", "Shanghai"}}, []string{"China Telecom"}},
	{"TR", 0.6, []string{"tr-TR"}, [][2]string{{"Istanbul", "Istanbul"}}, []string{"Turk Telekom"}},
	{"ZA", 0.5, []string{"en-ZA"}, [][2]string{{"Gauteng", "Johannesburg"}}, []string{"Vodacom"}},
	{"NG", 0.4, []string{"en-NG"}, [][2]string{{"Lagos", "Lagos"}}, []string{"MTN Nigeria"}},
	{"IL", 0.5, []string{"he-IL"}, [][2]string{{"Tel Aviv", "Tel Aviv"}}, []string{"Bezeq"}},
	{"UA", 0.6, []string{"uk-UA"}, [][2]string{{"Kyiv City", "Kyiv"}}, []string{"Kyivstar"}},
	{"RO", 0.5, []string{"ro-RO"}, [][2]string{{"Bucharest", "Bucharest"}}, []string{"RCS & RDS"}},
	{"GR", 0.4, []string{"el-GR"}, [][2]string{{"Attica", "Athens"}}, []string{"Cosmote"}},
	{"NZ", 0.4, []string{"en-NZ"}, [][2]string{{"Auckland", "Auckland"}}, []string{"Spark New Zealand"}},
	{"HU", 0.4, []string{"hu-HU"}, [][2]string{{"Budapest", "Budapest"}}, []string{"Magyar Telekom"}},
	{"LU", 0.1, []string{"fr-LU", "de-LU"}, [][2]string{{"Luxembourg", "Luxembourg"}}, []string{"POST Luxembourg"}},
	{"IS", 0.05, []string{"is-IS"}, [][2]string{{"Capital Region", "Reykjavik"}}, []string{"Siminn"}},
	{"MT", 0.05, []string{"en-MT"}, [][2]string{{"Malta", "Valletta"}}, []string{"GO p.l.c."}},
	{"", 1.5, []string{"en-US"}, nil, nil}, // GeoIP miss
}

// agent is a browser as the user-agent step would enrich it.
type agent struct {
	browser, browserVersion, os, osVersion, device, screen string
}

type agentSpec struct {
	weight         float64
	browser        string
	versions       []string
	os             string
	osVersions     []string
	device, screen []string
}

var agents = []agentSpec{
	{30, "Chrome", []string{"142", "141", "140", "139", "135"}, "Windows", []string{"10", "11"}, []string{"desktop"}, []string{"laptop", "desktop"}},
	{8, "Edge", []string{"142", "141", "140"}, "Windows", []string{"10", "11"}, []string{"desktop"}, []string{"laptop", "desktop"}},
	{4, "Firefox", []string{"145", "144", "140", "128"}, "Windows", []string{"10", "11"}, []string{"desktop"}, []string{"laptop", "desktop"}},
	{9, "Chrome", []string{"142", "141", "140"}, "Mac OS X", []string{"10", "15", "26"}, []string{"desktop"}, []string{"laptop", "desktop"}},
	{7, "Safari", []string{"26", "18", "17"}, "Mac OS X", []string{"10", "15", "26"}, []string{"desktop"}, []string{"laptop", "desktop"}},
	{1.5, "Firefox", []string{"145", "144"}, "Mac OS X", []string{"10", "15"}, []string{"desktop"}, []string{"laptop"}},
	{15, "Mobile Safari", []string{"26", "18", "17"}, "iOS", []string{"26", "18", "17"}, []string{"mobile"}, []string{"mobile"}},
	{2.5, "Mobile Safari", []string{"26", "18"}, "iOS", []string{"26", "18"}, []string{"tablet"}, []string{"tablet"}},
	{14, "Chrome Mobile", []string{"142", "141", "140", "138"}, "Android", []string{"16", "15", "14", "13", "12"}, []string{"mobile"}, []string{"mobile"}},
	{2, "Samsung Internet", []string{"28", "27", "26"}, "Android", []string{"15", "14", "13"}, []string{"mobile"}, []string{"mobile"}},
	{1, "Chrome", []string{"142", "141"}, "Android", []string{"15", "14"}, []string{"tablet"}, []string{"tablet"}},
	{3, "Firefox", []string{"145", "144", "140"}, "Linux", []string{""}, []string{"desktop"}, []string{"laptop", "desktop"}},
	{1.5, "Chrome", []string{"142", "141"}, "Linux", []string{""}, []string{"desktop"}, []string{"desktop"}},
	{0.8, "Chrome", []string{"142"}, "Chrome OS", []string{"142"}, []string{"desktop"}, []string{"laptop"}},
	{0.6, "Opera", []string{"124", "123"}, "Windows", []string{"10", "11"}, []string{"desktop"}, []string{"laptop"}},
	{0.2, "Yandex Browser", []string{"25"}, "Windows", []string{"10"}, []string{"desktop"}, []string{"desktop"}},
	{0.1, "Vivaldi", []string{"7"}, "Linux", []string{""}, []string{"desktop"}, []string{"desktop"}},
}

// source is how a visit arrived, as the referrer step would enrich it.
type source struct {
	weight                         float64
	channel, name, host, path      string
	utmSource, utmMedium, campaign string
}

func sources(r *rand.Rand) []source {
	out := []source{
		{30, "Direct", "", "", "", "", "", ""},
		{24, "Organic Search", "Google", "google.com", "/", "", "", ""},
		{3, "Organic Search", "Bing", "bing.com", "/search", "", "", ""},
		{2, "Organic Search", "DuckDuckGo", "duckduckgo.com", "/", "", "", ""},
		{0.5, "Organic Search", "Ecosia", "ecosia.org", "/search", "", "", ""},
		{0.3, "Organic Search", "Kagi", "kagi.com", "/search", "", "", ""},
		{3, "Referral", "Hacker News", "news.ycombinator.com", "/item", "", "", ""},
		{2.5, "Organic Social", "Reddit", "reddit.com", "/r/selfhosted/comments", "", "", ""},
		{2, "Referral", "GitHub", "github.com", "/crumbhq/crumb", "", "", ""},
		{1, "Referral", "dev.to", "dev.to", "/t/privacy", "", "", ""},
		{1, "Referral", "Stack Overflow", "stackoverflow.com", "/questions", "", "", ""},
		{2, "Organic Social", "Twitter", "t.co", "/", "", "", ""},
		{1.5, "Organic Social", "LinkedIn", "linkedin.com", "/feed/", "", "", ""},
		{1, "Organic Social", "Facebook", "facebook.com", "/", "", "", ""},
		{0.6, "Organic Social", "Mastodon", "mastodon.social", "/", "", "", ""},
		{1.5, "AI Assistants", "ChatGPT", "chatgpt.com", "/", "", "", ""},
		{0.7, "AI Assistants", "Perplexity", "perplexity.ai", "/", "", "", ""},
		{3, "Email", "newsletter", "", "", "newsletter", "email", "weekly"},
		{2.5, "Paid Search", "Google", "google.com", "/", "google", "cpc", "brand"},
		{1.5, "Paid Search", "Google", "google.com", "/", "google", "cpc", "consent-manager"},
		{0.8, "Paid Social", "Facebook", "facebook.com", "/", "facebook", "paid_social", "retargeting-q4"},
		{0.4, "Paid Search", "Bing", "bing.com", "/", "bing", "cpc", "brand"},
		{0.3, "Affiliates", "partner-blog.net", "partner-blog.net", "/review", "partner-blog", "affiliate", "review"},
	}
	// A long tail of blogs linking to the site.
	for i := 0; i < 400; i++ {
		host := fmt.Sprintf("%s-%s.%s", pickS(r, adjectives), pickS(r, nouns), pickS(r, []string{"com", "io", "dev", "net", "org", "blog", "de", "fr"}))
		out = append(out, source{0.01 + 0.02*r.Float64(), "Referral", host, host, "/" + pickS(r, nouns) + "/" + pickS(r, adjectives), "", "", ""})
	}
	return out
}

var (
	adjectives = strings.Fields("quick lazy bright silent honest brave calm eager fair gentle happy kind lively proud clever bold tiny vast rapid steady simple modern private secure open tidy lean")
	nouns      = strings.Fields("cookie banner consent privacy tracker analytics dashboard server cluster session visitor pixel report metric funnel widget script domain policy tag event schema query table index")
	terms      = strings.Fields("consent banner gdpr cookies analytics clickhouse install docker pricing api token export csv gpc google-consent-mode tag-manager self-hosted retention dashboard share-link events goals funnels webhooks sso kubernetes helm backup migrate cluster")
)

func pickS(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// pages returns the site's paths, most visited first.
func pages(r *rand.Rand, n int) []string {
	core := []string{"/", "/pricing", "/features", "/docs", "/blog", "/about", "/docs/getting-started",
		"/signup", "/login", "/changelog", "/contact", "/docs/install", "/docs/api", "/features/consent",
		"/features/analytics", "/docs/configuration", "/security", "/privacy", "/imprint", "/jobs"}
	out := append([]string(nil), core...)
	seen := map[string]bool{}
	for _, p := range out {
		seen[p] = true
	}
	for len(out) < n {
		var p string
		switch x := r.IntN(10); {
		case x < 5:
			p = fmt.Sprintf("/blog/%s-%s-%s", pickS(r, adjectives), pickS(r, nouns), pickS(r, nouns))
		case x < 8:
			p = fmt.Sprintf("/docs/%s/%s", pickS(r, nouns), pickS(r, nouns))
		case x < 9:
			p = fmt.Sprintf("/changelog/v%d.%d", 1+r.IntN(3), r.IntN(40))
		default:
			p = fmt.Sprintf("/tags/%s", pickS(r, nouns))
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

var (
	outboundLinks = []string{"https://github.com/crumbhq/crumb", "https://github.com/crumbhq/crumb/releases",
		"https://clickhouse.com/docs", "https://gdpr.eu/cookies/", "https://www.cnil.fr/en/cookies-and-other-tracking-devices",
		"https://developers.google.com/tag-platform/security/guides/consent", "https://globalprivacycontrol.org/",
		"https://twitter.com/crumbhq", "https://mastodon.social/@crumb", "https://discord.gg/crumb"}
	downloads = []string{"/files/crumb-linux-amd64.tar.gz", "/files/crumb-linux-arm64.tar.gz", "/files/crumb-darwin-arm64.tar.gz",
		"/files/whitepaper-consent.pdf", "/files/dpa-template.pdf", "/files/brand-kit.zip"}
	customEvents = []struct {
		name  string
		p     float64
		props map[string][]string
	}{
		{"signup", 0.025, map[string][]string{"plan": {"free", "free", "free", "pro", "pro", "team"}, "billing": {"monthly", "yearly"}}},
		{"newsletter_subscribe", 0.03, map[string][]string{"position": {"footer", "inline", "popup"}}},
		{"play_video", 0.05, map[string][]string{"video": {"intro", "demo", "consent-mode", "install"}}},
		{"copy_code", 0.06, map[string][]string{"lang": {"html", "bash", "go", "js"}}},
		{"contact_sales", 0.004, map[string][]string{"size": {"1-10", "11-50", "51-200", "200+"}}},
	}
)
