// Package banner resolves a site's banner configuration for one visitor:
// the built-in texts in the visitor's language (English, German, French,
// Spanish) merged with the site's own, the categories it asks for with their
// cookies, and a hash that identifies exactly what was shown, stored with
// every decision as part of the proof of consent.
package banner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/crumbhq/crumb/server/internal/model"
)

// Config is the public configuration the banner is built from.
type Config struct {
	Site                string            `json:"site"`
	Language            string            `json:"lang"`
	PolicyVersion       uint32            `json:"policy_version"`
	ConsentLifetimeDays int               `json:"consent_lifetime_days"`
	PolicyURL           string            `json:"policy_url,omitempty"`
	Texts               map[string]string `json:"texts"`
	Categories          []Category        `json:"categories"`
	SearchParams        []string          `json:"search_params"`
	AnonymousCounting   bool              `json:"anonymous_counting"`
	// TextsHash identifies this banner: policy version, language, texts,
	// categories and cookies.
	TextsHash string `json:"texts_hash"`
}

// Category is one consent category as shown.
type Category struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Required    bool           `json:"required,omitempty"`
	Cookies     []model.Cookie `json:"cookies"`
}

// Languages lists the languages with built-in texts.
func Languages() []string {
	out := make([]string, 0, len(defaults))
	for l := range defaults {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Resolve returns site's banner in the best language for want, a BCP 47
// tag or an Accept-Language header ("de-CH,de;q=0.9,en;q=0.8").
func Resolve(site *model.Site, want string) Config {
	lang := pickLanguage(site, want)
	texts := map[string]string{}
	for k, v := range defaults["en"] {
		texts[k] = v
	}
	for k, v := range defaults[lang] {
		texts[k] = v
	}
	for k, v := range site.Banner.Texts[lang] {
		texts[k] = v
	}
	// Crumb's own cookies are listed with the site's: the choice, and with
	// performance consent the visitor's and the visit's random IDs.
	days := strings.ReplaceAll(texts["n_days"], "{n}", strconv.Itoa(site.ConsentLifetimeDays))
	own := map[string][]model.Cookie{
		"necessary": {{Name: "crumb_consent", Purpose: texts["cookie_consent"], Duration: days}},
		"performance": {{Name: "crumb_vid", Purpose: texts["cookie_visitor"], Duration: days},
			{Name: "crumb_sid", Purpose: texts["cookie_visit"], Duration: strings.ReplaceAll(texts["n_minutes"], "{n}", "30")}},
	}
	cats := []Category{{ID: "necessary", Title: texts["necessary_title"], Description: texts["necessary_desc"], Required: true,
		Cookies: withOwn(own["necessary"], site.Banner.NecessaryCookies)}}
	for _, c := range site.EnabledCategories() {
		cat := Category{ID: c.ID, Title: texts[c.ID+"_title"], Description: texts[c.ID+"_desc"], Cookies: withOwn(own[c.ID], c.Cookies)}
		if t := pick(c.Title, lang); t != "" {
			cat.Title = t
		}
		if d := pick(c.Description, lang); d != "" {
			cat.Description = d
		}
		cats = append(cats, cat)
	}
	cfg := Config{
		Site: site.ID, Language: lang, PolicyVersion: site.PolicyVersion, ConsentLifetimeDays: site.ConsentLifetimeDays,
		PolicyURL: site.Banner.PolicyURL, Texts: texts, Categories: cats, SearchParams: site.SearchParams,
		AnonymousCounting: site.AnonymousCounting,
	}
	cfg.TextsHash = hash(&cfg)
	return cfg
}

// withOwn lists Crumb's own cookies, then the site's (one the site
// declares itself keeps its own description).
func withOwn(own, site []model.Cookie) []model.Cookie {
	out := make([]model.Cookie, 0, len(own)+len(site))
	for _, c := range own {
		if !slices.ContainsFunc(site, func(s model.Cookie) bool { return s.Name == c.Name }) {
			out = append(out, c)
		}
	}
	return append(out, site...)
}

// Hash is the texts hash of site's banner in language lang.
func Hash(site *model.Site, lang string) string { return Resolve(site, lang).TextsHash }

func hash(c *Config) string {
	b, _ := json.Marshal(struct {
		Policy     uint32            `json:"p"`
		Lang       string            `json:"l"`
		Texts      map[string]string `json:"t"`
		Categories []Category        `json:"c"`
		PolicyURL  string            `json:"u"`
	}{c.PolicyVersion, c.Language, c.Texts, c.Categories, c.PolicyURL})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func pick(m map[string]string, lang string) string {
	if v := m[lang]; v != "" {
		return v
	}
	return ""
}

// pickLanguage chooses among the built-in languages and the site's own the
// first one want names (by primary subtag), else English.
func pickLanguage(site *model.Site, want string) string {
	have := func(l string) bool {
		_, builtin := defaults[l]
		_, own := site.Banner.Texts[l]
		return builtin || own
	}
	for _, part := range strings.Split(want, ",") {
		tag := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		tag = strings.ToLower(strings.ReplaceAll(tag, "_", "-"))
		if tag == "" || tag == "*" {
			continue
		}
		if have(tag) {
			return tag
		}
		if primary := strings.SplitN(tag, "-", 2)[0]; have(primary) {
			return primary
		}
	}
	return "en"
}
