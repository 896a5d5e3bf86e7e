package ingest

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crumbhq/crumb/server/internal/useragent"
)

// forgetIP is the zero address the "forget_ip" step leaves behind.
var forgetIP = netip.Addr{}

func eventTime(ms int64, now time.Time) time.Time {
	if ms == 0 {
		return now
	}
	return time.UnixMilli(ms).UTC()
}

// cleanPath returns a URL's path (no query string, no fragment) as stored.
func cleanPath(p string) string {
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
func searchTerm(term string, u *pageURL, params []string) string {
	if term == "" {
		for _, p := range params {
			if v := u.get(p); v != "" {
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

// deviceOf is the stored device type: the user agent's, else a guess from
// the screen class when the user agent did not tell, else "other" (never
// empty).
func deviceOf(agent string, w int) string {
	if agent != "" {
		return agent
	}
	switch c := screenClass(w); c {
	case "":
		return useragent.DeviceOther
	case "laptop":
		return useragent.DeviceDesktop
	default:
		return c
	}
}

// normalizeLanguage turns "en_us" or "EN-US" into "en-US": subtags of 1 to
// 8 letters or digits joined by '-', the first lower-cased, a two-letter
// second one (a region) upper-cased; anything else gives "".
func normalizeLanguage(l string) string {
	l = strings.TrimSpace(l)
	if l == "" {
		return ""
	}
	var buf [MaxLanguageLength]byte
	var out []byte
	if len(l) <= len(buf) {
		out = buf[:len(l)]
	} else {
		out = make([]byte, len(l))
	}
	part, start := 0, 0
	for i := 0; i <= len(l); i++ {
		if i < len(l) && l[i] != '-' && l[i] != '_' {
			continue
		}
		sub := l[start:i]
		if sub == "" || len(sub) > 8 {
			return ""
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			default:
				return ""
			}
			switch {
			case part == 0 && c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case part == 1 && len(sub) == 2 && c >= 'a' && c <= 'z':
				c -= 'a' - 'A'
			}
			out[start+j] = c
		}
		if i < len(l) {
			out[i] = '-'
		}
		part, start = part+1, i+1
	}
	if string(out) == l {
		return l // already normal: no copy
	}
	return string(out)
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
	return cleanPath(u.Path)
}
