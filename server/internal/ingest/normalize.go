package ingest

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// forgetIP is the zero address the "forget_ip" step leaves behind.
var forgetIP = netip.Addr{}

func eventTime(ms int64, now time.Time) time.Time {
	if ms == 0 {
		return now
	}
	return time.UnixMilli(ms).UTC()
}

// cleanPath returns the URL's path only: no query string, no fragment.
func cleanPath(u *url.URL) string {
	p := u.Path
	if p == "" {
		p = "/"
	}
	return clip(p, MaxURLLength)
}

// cleanLink keeps an outbound or download link's scheme, host and path,
// never its query string or fragment.
func cleanLink(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return clip(u.Scheme+"://"+strings.ToLower(u.Host)+u.EscapedPath(), MaxURLLength)
}

// searchTerm is the event's own term, or the first of the site's search
// parameters present in the page URL; lower-cased and trimmed.
func searchTerm(term string, q url.Values, params []string) string {
	if term == "" {
		for _, p := range params {
			if v := q.Get(p); v != "" {
				term = v
				break
			}
		}
	}
	return clip(strings.ToLower(strings.Join(strings.Fields(term), " ")), MaxTermLength)
}

// screenClass buckets a screen width the way Plausible does, so that no
// exact resolution is stored.
func screenClass(w int) string {
	switch {
	case w <= 0:
		return ""
	case w < 576:
		return "mobile"
	case w < 992:
		return "tablet"
	case w < 1440:
		return "laptop"
	default:
		return "desktop"
	}
}

// deviceFromScreen guesses the device type from the screen class when the
// user agent did not tell.
func deviceFromScreen(w int) string {
	switch c := screenClass(w); c {
	case "laptop":
		return "desktop"
	default:
		return c
	}
}

// normalizeLanguage turns "en_us" or "EN-US" into "en-US".
func normalizeLanguage(l string) string {
	l = strings.ReplaceAll(strings.TrimSpace(l), "_", "-")
	if l == "" {
		return ""
	}
	parts := strings.Split(l, "-")
	for _, p := range parts {
		if p == "" || len(p) > 8 || strings.IndexFunc(p, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return ""
		}
	}
	parts[0] = strings.ToLower(parts[0])
	if len(parts) > 1 && len(parts[1]) == 2 {
		parts[1] = strings.ToUpper(parts[1])
	}
	return strings.Join(parts, "-")
}

func sortedProps(m map[string]string) (keys, vals []string) {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals = make([]string, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return keys, vals
}

func originHost(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return clip(s, n) + "…"
}

// pathOf returns the path of an absolute URL or of a bare path, without its
// query string and fragment.
func pathOf(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return cleanPath(u)
}
