package ingest

import (
	"net/url"
	"strings"
)

// pageURL is what the events pipeline reads of an event's page URL.
type pageURL struct {
	host     string // the host name, as written
	path     string
	rawQuery string     // when query is nil
	query    url.Values // when the query needed url.ParseQuery
}

// parsePageURL parses an absolute http(s) URL the way url.Parse does, and
// reports false for anything else. The URLs pages send are nearly all plain
// ones (no escapes, user info, port or IPv6 literal), which it splits
// without url.Parse's allocations; any other goes through url.Parse.
func parsePageURL(raw string) (pageURL, bool) {
	if p, ok := splitPlainURL(raw); ok {
		return p, true
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return pageURL{}, false
	}
	return pageURL{host: u.Hostname(), path: u.Path, query: u.Query()}, true
}

// maxPlainParams bounds the query parameters splitPlainURL reads itself; a
// longer query goes to url.ParseQuery, which applies its own limit.
const maxPlainParams = 64

// splitPlainURL splits an http(s) URL made of printable ASCII without '%'
// and with a host of letters, digits, dots and hyphens only: for such a URL
// url.Parse escapes and checks nothing, and its parts are plain substrings.
// It reports false for any other URL.
func splitPlainURL(raw string) (pageURL, bool) {
	rest, ok := strings.CutPrefix(raw, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "http://"); !ok {
			return pageURL{}, false
		}
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '%' {
			return pageURL{}, false
		}
	}
	// url.Parse cuts the fragment first, then the query, then the host.
	rest, _, _ = strings.Cut(rest, "#")
	rest, rawQuery, _ := strings.Cut(rest, "?")
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if host == "" {
		return pageURL{}, false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return pageURL{}, false
		}
	}
	if strings.IndexByte(rawQuery, ';') >= 0 || strings.Count(rawQuery, "&") >= maxPlainParams {
		return pageURL{}, false
	}
	return pageURL{host: host, path: path, rawQuery: rawQuery}, true
}

// get returns the first value of the query parameter key, as
// url.Values.Get does.
func (p *pageURL) get(key string) string {
	if p.query != nil {
		return p.query.Get(key)
	}
	// The query has no escapes and no ';': unescaping only turns '+' into
	// a space.
	q := p.rawQuery
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.IndexByte(k, '+') >= 0 {
			k = strings.ReplaceAll(k, "+", " ")
		}
		if k == key {
			return strings.ReplaceAll(v, "+", " ")
		}
	}
	return ""
}
