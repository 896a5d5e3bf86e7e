package banner

import (
	"strings"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

func TestResolve_LanguageAndOverrides(t *testing.T) {
	site := model.NewSite("s", "example.com", "", time.Now())
	site.Banner.Texts = map[string]map[string]string{"de": {"title": "Kekse?"}, "it": {"title": "Biscotti?"}}
	site.Banner.Categories = []model.CategoryConfig{{ID: "performance", Title: map[string]string{"fr": "Statistiques"},
		Cookies: []model.Cookie{{Name: "_pk_id", Duration: "13 months"}}}}
	tests := []struct{ want, lang, title string }{
		{"de-CH,de;q=0.9,en;q=0.8", "de", "Kekse?"},
		{"fr-FR", "fr", "Les cookies sur ce site"},
		{"es", "es", "Cookies en este sitio"},
		{"it-IT,en;q=0.5", "it", "Biscotti?"},
		{"ja,zh;q=0.5", "en", "Cookies on this site"},
		{"", "en", "Cookies on this site"},
	}
	for _, tt := range tests {
		c := Resolve(&site, tt.want)
		if c.Language != tt.lang || c.Texts["title"] != tt.title {
			t.Errorf("Resolve(%q) = %s %q; want %s %q", tt.want, c.Language, c.Texts["title"], tt.lang, tt.title)
		}
		if c.Texts["accept_all"] == "" || c.Texts["reject_all"] == "" {
			t.Errorf("Resolve(%q) lacks button texts", tt.want)
		}
	}
	fr := Resolve(&site, "fr")
	if len(fr.Categories) != 2 || !fr.Categories[0].Required || fr.Categories[1].Title != "Statistiques" {
		t.Fatalf("categories = %+v", fr.Categories)
	}
	// Crumb's own cookies first, in the banner's language, then the site's.
	var names []string
	for _, c := range fr.Categories {
		for _, k := range c.Cookies {
			names = append(names, c.ID+":"+k.Name+" "+k.Duration)
		}
	}
	if got := strings.Join(names, ", "); got != "necessary:crumb_consent 182 jours, performance:crumb_vid 182 jours, performance:crumb_sid 30 minutes, performance:_pk_id 13 months" {
		t.Errorf("cookies: %s", got)
	}
}

// A site that describes one of Crumb's cookies itself keeps its own words.
func TestResolve_SiteDescribesCrumbCookie(t *testing.T) {
	site := model.NewSite("s", "example.com", "", time.Now())
	site.Banner.NecessaryCookies = []model.Cookie{{Name: "crumb_consent", Purpose: "Our words."}}
	c := Resolve(&site, "en").Categories[0].Cookies
	if len(c) != 1 || c[0].Purpose != "Our words." {
		t.Errorf("necessary cookies = %+v", c)
	}
}

func TestHash_IdentifiesTheBanner(t *testing.T) {
	a := model.NewSite("s", "example.com", "", time.Now())
	b := a
	b.PolicyVersion = 2
	if Hash(&a, "en") == Hash(&b, "en") || Hash(&a, "en") == Hash(&a, "de") || Hash(&a, "en") != Hash(&a, "en-US") {
		t.Fatal("hash does not identify policy version and language")
	}
}

func TestDefaults_SameKeysInEveryLanguage(t *testing.T) {
	for lang, texts := range defaults {
		for k := range defaults["en"] {
			if texts[k] == "" {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
	}
}
