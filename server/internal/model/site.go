package model

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crumbhq/crumb/server/internal/report/query"
)

// Consent lifetime and other site limits.
const (
	DefaultConsentLifetimeDays = 182 // about 6 months, CNIL's good practice
	MaxConsentLifetimeDays     = 395 // 13 months
	DefaultRetentionMonths     = 25
	DefaultConsentRetention    = 36
	DefaultK                   = 5
	MinK                       = 2
)

// DefaultSearchParams are the query parameters read as site-search terms
// unless a site names its own.
var DefaultSearchParams = []string{"q", "s", "search", "query"}

// Site is one website that embeds Crumb, with its consent configuration.
type Site struct {
	ID                     string
	Domain                 string
	Name                   string
	ExtraDomains           []string
	PolicyVersion          uint32
	ConsentLifetimeDays    int
	RetentionMonths        int
	ConsentRetentionMonths int
	K                      int
	SearchParams           []string
	AnonymousCounting      bool
	Banner                 Banner
	// Goals are the site's named conversions, reported by the goals
	// report and usable as filters (goal:is:NAME).
	Goals []Goal
	// Funnels are the site's saved funnels.
	Funnels []Funnel
	// Alerts are the site's traffic alerts.
	Alerts    []Alert
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Banner is a site's banner configuration: which optional categories it
// asks for, their texts and cookies, and text overrides per language.
type Banner struct {
	// Categories lists the optional categories in display order; a category
	// that is left out is never asked for. Nil means all three.
	Categories []CategoryConfig `json:"categories,omitempty"`
	// PolicyURL links the site's privacy policy from the banner.
	PolicyURL string `json:"policy_url,omitempty"`
	// Texts overrides the built-in banner texts, per language ("en", "de"…)
	// and text key ("title", "body", "accept_all"…).
	Texts map[string]map[string]string `json:"texts,omitempty"`
	// NecessaryCookies lists the cookies the site declares strictly necessary.
	NecessaryCookies []Cookie `json:"necessary_cookies,omitempty"`
}

// CategoryConfig is one optional consent category as a site configures it.
// BannerVersion is one banner as visitors were shown it, by the hash a
// decision records (TextsHash); Config is the banner's resolved
// configuration as JSON.
type BannerVersion struct {
	SiteID        string
	TextsHash     string
	PolicyVersion uint32
	Language      string
	Config        string
	FirstSeen     time.Time
}

type CategoryConfig struct {
	ID string `json:"id"` // performance, functionality or targeting
	// Title and Description override the built-in texts, per language.
	Title       map[string]string `json:"title,omitempty"`
	Description map[string]string `json:"description,omitempty"`
	Cookies     []Cookie          `json:"cookies,omitempty"`
}

// Cookie is a cookie a site declares, shown in the banner and deleted on
// withdrawal of its category.
type Cookie struct {
	Name     string `json:"name"`
	Provider string `json:"provider,omitempty"`
	Purpose  string `json:"purpose,omitempty"`
	Duration string `json:"duration,omitempty"`
}

// Goal is a named conversion: a page view of a path pattern or a custom
// event, written as a funnel step (query.ParseStep): "page:/thanks",
// "page:/docs/*", "event:signup", "event:signup:plan=pro".
type Goal struct {
	Name  string `json:"name"`
	Match string `json:"match"`
}

// Funnel is a saved funnel: its name, steps (as query.ParseStep reads
// them) and window (visit, 1d, 7d or 30d).
type Funnel struct {
	Name   string   `json:"name"`
	Steps  []string `json:"steps"`
	Window string   `json:"window"`
}

// Alert notifies by e-mail and/or webhook when the site's current
// visitors (the last 5 minutes) stay above or below Threshold for Minutes,
// at most once an hour.
type Alert struct {
	Name      string   `json:"name"`
	Direction string   `json:"direction"` // above or below
	Threshold int      `json:"threshold"`
	Minutes   int      `json:"minutes"`
	Emails    []string `json:"emails,omitempty"`
	// Webhook receives a JSON POST signed with Secret: the header
	// X-Crumb-Signature is sha256= and the hex HMAC-SHA256 of the body.
	Webhook string `json:"webhook,omitempty"`
	Secret  string `json:"secret,omitempty"`
}

// Alert limits.
const (
	MaxAlerts       = 20
	MaxAlertMinutes = 24 * 60
)

// Validate checks an alert.
func (a Alert) Validate() error {
	if err := query.ValidName("name", a.Name); err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	if a.Direction != "above" && a.Direction != "below" {
		return fmt.Errorf("alert %q: direction must be above or below", a.Name)
	}
	if a.Threshold < 0 || a.Threshold > 10_000_000 {
		return fmt.Errorf("alert %q: threshold must be 0 to 10,000,000 current visitors", a.Name)
	}
	if a.Direction == "below" && a.Threshold == 0 {
		return fmt.Errorf("alert %q: below 0 visitors never happens", a.Name)
	}
	if a.Minutes < 1 || a.Minutes > MaxAlertMinutes {
		return fmt.Errorf("alert %q: minutes must be 1 to %d", a.Name, MaxAlertMinutes)
	}
	if len(a.Emails) == 0 && a.Webhook == "" {
		return fmt.Errorf("alert %q: give an e-mail address or a webhook", a.Name)
	}
	for _, e := range a.Emails {
		if err := ValidEmail(e); err != nil {
			return fmt.Errorf("alert %q: %w", a.Name, err)
		}
	}
	if a.Webhook != "" {
		u, err := url.Parse(a.Webhook)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("alert %q: the webhook must be an http or https URL", a.Name)
		}
		if len(a.Secret) < 16 {
			return fmt.Errorf("alert %q: a webhook needs a secret of at least 16 characters to sign with", a.Name)
		}
	}
	return nil
}

// ValidEmail checks an e-mail address (one addr-spec, no name).
func ValidEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 {
		return fmt.Errorf("%q is not an e-mail address", s)
	}
	return nil
}

// Validate checks a goal.
func (g Goal) Validate() error {
	if err := query.ValidName("name", g.Name); err != nil {
		return fmt.Errorf("goal: %w", err)
	}
	if _, err := query.ParseStep(g.Match); err != nil {
		return fmt.Errorf("goal %q: %w", g.Name, err)
	}
	return nil
}

// Validate checks a saved funnel.
func (f Funnel) Validate() error {
	if err := query.ValidName("name", f.Name); err != nil {
		return fmt.Errorf("funnel: %w", err)
	}
	if _, err := query.ParseFunnelSteps(f.Steps, f.Window); err != nil {
		return fmt.Errorf("funnel %q: %w", f.Name, err)
	}
	return nil
}

// Goal returns the site's goal called name.
func (s *Site) Goal(name string) (Goal, bool) {
	for _, g := range s.Goals {
		if g.Name == name {
			return g, true
		}
	}
	return Goal{}, false
}

// OptionalCategories are the categories a visitor can grant or refuse.
var OptionalCategories = []string{"performance", "functionality", "targeting"}

// NewSite returns a site for domain with every setting at its default.
func NewSite(id, domain, name string, now time.Time) Site {
	if name == "" {
		name = domain
	}
	return Site{
		ID:                     id,
		Domain:                 domain,
		Name:                   name,
		PolicyVersion:          1,
		ConsentLifetimeDays:    DefaultConsentLifetimeDays,
		RetentionMonths:        DefaultRetentionMonths,
		ConsentRetentionMonths: DefaultConsentRetention,
		K:                      DefaultK,
		SearchParams:           slices.Clone(DefaultSearchParams),
		CreatedAt:              now,
		UpdatedAt:              now,
	}
}

// EnabledCategories returns the optional categories the site asks for.
func (s *Site) EnabledCategories() []CategoryConfig {
	if s.Banner.Categories == nil {
		out := make([]CategoryConfig, len(OptionalCategories))
		for i, id := range OptionalCategories {
			out[i] = CategoryConfig{ID: id}
		}
		return out
	}
	return s.Banner.Categories
}

// Validate checks a site's settings against Crumb's limits.
func (s *Site) Validate() error {
	if s.ID == "" {
		return fmt.Errorf("site: empty id")
	}
	if err := ValidateDomain(s.Domain); err != nil {
		return err
	}
	for _, d := range s.ExtraDomains {
		if err := ValidateDomain(d); err != nil {
			return err
		}
	}
	if s.PolicyVersion == 0 {
		return fmt.Errorf("site: policy version must be at least 1")
	}
	if s.ConsentLifetimeDays < 1 || s.ConsentLifetimeDays > MaxConsentLifetimeDays {
		return fmt.Errorf("site: consent lifetime must be 1 to %d days (13 months)", MaxConsentLifetimeDays)
	}
	if s.RetentionMonths < 1 || s.RetentionMonths > 120 {
		return fmt.Errorf("site: retention must be 1 to 120 months")
	}
	if s.ConsentRetentionMonths < 1 || s.ConsentRetentionMonths > 240 {
		return fmt.Errorf("site: consent retention must be 1 to 240 months")
	}
	// The proof of a consent outlives the events it covers: an event may
	// come up to the consent's lifetime after the decision and is kept the
	// event retention after that.
	if need := s.RetentionMonths + (s.ConsentLifetimeDays+27)/28; s.ConsentRetentionMonths < need {
		return fmt.Errorf("site: consent retention (%d months) must cover the event retention and the consent lifetime: at least %d months",
			s.ConsentRetentionMonths, need)
	}
	if s.K < MinK || s.K > 1000 {
		return fmt.Errorf("site: k must be %d to 1000", MinK)
	}
	seen := map[string]bool{}
	for _, c := range s.Banner.Categories {
		if !slices.Contains(OptionalCategories, c.ID) {
			return fmt.Errorf("site: unknown category %q (want performance, functionality or targeting)", c.ID)
		}
		if seen[c.ID] {
			return fmt.Errorf("site: category %q listed twice", c.ID)
		}
		seen[c.ID] = true
	}
	if len(s.Goals) > query.MaxGoals {
		return fmt.Errorf("site: at most %d goals", query.MaxGoals)
	}
	names := map[string]bool{}
	for _, g := range s.Goals {
		if err := g.Validate(); err != nil {
			return err
		}
		if names[g.Name] {
			return fmt.Errorf("site: two goals are called %q", g.Name)
		}
		names[g.Name] = true
	}
	if len(s.Alerts) > MaxAlerts {
		return fmt.Errorf("site: at most %d alerts", MaxAlerts)
	}
	names = map[string]bool{}
	for _, a := range s.Alerts {
		if err := a.Validate(); err != nil {
			return err
		}
		if names[a.Name] {
			return fmt.Errorf("site: two alerts are called %q", a.Name)
		}
		names[a.Name] = true
	}
	if len(s.Funnels) > query.MaxFunnels {
		return fmt.Errorf("site: at most %d saved funnels", query.MaxFunnels)
	}
	names = map[string]bool{}
	for _, f := range s.Funnels {
		if err := f.Validate(); err != nil {
			return err
		}
		if names[f.Name] {
			return fmt.Errorf("site: two funnels are called %q", f.Name)
		}
		names[f.Name] = true
	}
	return nil
}

// ValidateDomain checks that d is a bare host name such as "example.com".
func ValidateDomain(d string) error {
	if d == "" || strings.ContainsAny(d, "/:@ ?#") || d != strings.ToLower(d) {
		return fmt.Errorf("site: %q is not a bare lower-case domain such as example.com", d)
	}
	if _, err := url.Parse("https://" + d); err != nil {
		return fmt.Errorf("site: bad domain %q: %w", d, err)
	}
	return nil
}

// AllowsHost reports whether host (from an Origin header) belongs to the
// site: its domain, one of its extra domains, or a subdomain of either.
func (s *Site) AllowsHost(host string) bool {
	host = strings.ToLower(host)
	match := func(d string) bool {
		return host == d || strings.HasSuffix(host, "."+d)
	}
	if match(s.Domain) {
		return true
	}
	for _, d := range s.ExtraDomains {
		if match(d) {
			return true
		}
	}
	return false
}
