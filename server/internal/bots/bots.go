// Package bots recognises crawlers, spiders, monitors and HTTP libraries by
// their User-Agent header, using the pattern list of the npm package
// crawler-user-agents (MIT, see data/SOURCE.md).
//
// Every pattern is compiled with Go's RE2 engine. Matching does not run one
// huge alternation (that costs milliseconds per user agent with RE2): a
// literal prefilter (package prefilter) first picks the few patterns whose
// required text occurs in the user agent, and only those are run.
package bots

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/crumbhq/crumb/server/internal/bots/prefilter"
)

// crawlersJSON is data/crawler-user-agents.json from the npm package
// crawler-user-agents.
//
//go:embed data/crawler-user-agents.json
var crawlersJSON []byte

// Crawler is one entry of the embedded list.
type Crawler struct {
	// Pattern is the regular expression matched against the User-Agent.
	Pattern string `json:"pattern"`
	// URL points to the crawler's documentation, when the list has one.
	URL string `json:"url"`
	// Instances are real User-Agent strings the pattern is meant to match.
	Instances []string `json:"instances"`
}

// Crawlers returns the embedded crawler list as published, including entries
// whose pattern Go's regexp package rejects.
func Crawlers() ([]Crawler, error) {
	return decode(crawlersJSON)
}

// decode parses a crawler list in the format of crawler-user-agents.json.
func decode(data []byte) ([]Crawler, error) {
	var list []Crawler
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("bots: decode crawler list: %w", err)
	}
	return list, nil
}

// pattern is one compiled crawler pattern.
type pattern struct {
	src string
	// re is nil when the pattern is a plain case-sensitive literal, in which
	// case a prefilter hit is already a match.
	re *regexp.Regexp
}

// Matcher tells bots from browsers by User-Agent. It is immutable after New
// and safe for concurrent use.
type Matcher struct {
	patterns []pattern
	filter   *prefilter.Filter
	skipped  []string
}

// New compiles every pattern of the embedded list. Patterns that Go's RE2
// engine cannot compile (for example lookaheads) are skipped and reported by
// Skipped; this is not an error.
func New() (*Matcher, error) {
	return newFromJSON(crawlersJSON)
}

// newFromJSON builds a Matcher from a list in the format of
// crawler-user-agents.json.
func newFromJSON(data []byte) (*Matcher, error) {
	list, err := decode(data)
	if err != nil {
		return nil, err
	}
	m := &Matcher{}
	srcs := make([]string, 0, len(list))
	for _, c := range list {
		if c.Pattern == "" {
			continue
		}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			m.skipped = append(m.skipped, c.Pattern)
			continue
		}
		m.patterns = append(m.patterns, pattern{src: c.Pattern, re: re})
		srcs = append(srcs, c.Pattern)
	}
	if m.filter, err = prefilter.New(srcs); err != nil {
		return nil, fmt.Errorf("bots: index patterns: %w", err)
	}
	for i := range m.patterns {
		if m.filter.IsLiteral(i) {
			m.patterns[i].re = nil
		}
	}
	return m, nil
}

// IsBot reports whether ua matches any pattern of the list.
func (m *Matcher) IsBot(ua string) bool {
	_, ok := m.Match(ua)
	return ok
}

// Match returns the first pattern, in list order, that matches ua.
func (m *Matcher) Match(ua string) (pattern string, ok bool) {
	m.filter.Candidates(ua, func(i int) bool {
		p := m.patterns[i]
		if p.re == nil || p.re.MatchString(ua) {
			pattern, ok = p.src, true
			return false
		}
		return true
	})
	return pattern, ok
}

// Len returns the number of patterns in use.
func (m *Matcher) Len() int { return len(m.patterns) }

// Skipped returns the patterns of the list that Go's regexp package rejected
// and that the matcher therefore ignores.
func (m *Matcher) Skipped() []string {
	return append([]string(nil), m.skipped...)
}
