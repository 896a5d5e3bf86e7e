package useragent

// The bot list recognises crawlers, spiders, monitors and HTTP libraries by
// their User-Agent header, using the pattern list of the npm package
// crawler-user-agents (MIT, see data/SOURCE.md).
//
// Every pattern is compiled with Go's RE2 engine. Matching does not run one
// huge alternation (that costs milliseconds per user agent with RE2): the
// literal prefilter (prefilter.go) first picks the few patterns whose
// required text occurs in the user agent, and only those are run.

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
)

// crawlersJSON is data/crawler-user-agents.json from the npm package
// crawler-user-agents.
//
//go:embed data/crawler-user-agents.json
var crawlersJSON []byte

// crawler is one entry of the embedded list.
type crawler struct {
	// Pattern is the regular expression matched against the User-Agent.
	Pattern string `json:"pattern"`
	// URL points to the crawler's documentation, when the list has one.
	URL string `json:"url"`
	// Instances are real User-Agent strings the pattern is meant to match.
	Instances []string `json:"instances"`
}

// crawlers returns the embedded crawler list as published, including entries
// whose pattern Go's regexp package rejects.
func crawlers() ([]crawler, error) {
	return decodeCrawlers(crawlersJSON)
}

// decodeCrawlers parses a crawler list in the format of
// crawler-user-agents.json.
func decodeCrawlers(data []byte) ([]crawler, error) {
	var list []crawler
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("bots: decode crawler list: %w", err)
	}
	return list, nil
}

// botPattern is one compiled crawler pattern.
type botPattern struct {
	src string
	// re is nil when the pattern is a plain case-sensitive literal, in which
	// case a prefilter hit is already a match.
	re *regexp.Regexp
}

// botMatcher tells bots from browsers by User-Agent. It is immutable after
// newBotMatcher and safe for concurrent use.
type botMatcher struct {
	patterns []botPattern
	filter   *prefilter
	skipped  []string
}

// newBotMatcher compiles every pattern of the embedded list. Patterns that
// Go's RE2 engine cannot compile (for example lookaheads) are skipped and
// reported by Skipped; this is not an error.
func newBotMatcher() (*botMatcher, error) {
	return botMatcherFromJSON(crawlersJSON)
}

// botMatcherFromJSON builds a botMatcher from a list in the format of
// crawler-user-agents.json.
func botMatcherFromJSON(data []byte) (*botMatcher, error) {
	list, err := decodeCrawlers(data)
	if err != nil {
		return nil, err
	}
	m := &botMatcher{}
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
		m.patterns = append(m.patterns, botPattern{src: c.Pattern, re: re})
		srcs = append(srcs, c.Pattern)
	}
	if m.filter, err = newPrefilter(srcs); err != nil {
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
func (m *botMatcher) IsBot(ua string) bool {
	_, ok := m.Match(ua)
	return ok
}

// Match returns the first pattern, in list order, that matches ua.
func (m *botMatcher) Match(ua string) (pattern string, ok bool) {
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
func (m *botMatcher) Len() int { return len(m.patterns) }

// Skipped returns the patterns of the list that Go's regexp package rejected
// and that the matcher therefore ignores.
func (m *botMatcher) Skipped() []string {
	return append([]string(nil), m.skipped...)
}
