package useragent

// The prefilter speeds up matching a string against a long list of regular
// expressions: the bot list and ua-parser's browser, OS and device regexes.
//
// Go's RE2 engine has no multi-pattern mode: one alternation of 1,500 bot
// patterns costs about 2.4 ms per non-matching user agent, because the NFA
// starts every alternative at every byte. Most patterns, however, contain a
// literal that every match must contain ("Googlebot/", "bingbot",
// "facebookexternalhit"). A prefilter extracts such literals at construction,
// indexes them by their first three bytes, and for a given string reports the
// patterns whose literal occurs in it. Only those patterns need to be run.
//
// The filter is conservative: it never leaves out a pattern that could match.
// Patterns without a usable literal are always reported.

import (
	"fmt"
	"math/bits"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

const (
	// minLiteral is the shortest literal worth indexing; it is also the
	// length of the index key.
	minLiteral = 3
	// maxSet bounds the number of alternatives a literal set may have.
	maxSet = 64
	// bloomBits is log2 of the number of bits in the quick-reject filter.
	bloomBits = 16
	// stackWords is how many pattern bits Candidates keeps on the stack.
	stackWords = 64
	// stackBytes is how long a string Candidates lowercases on the stack.
	stackBytes = 512
)

// entry is one indexed literal.
type entry struct {
	lower string // ASCII-lowercased literal, compared with the lowercased input
	orig  string // the literal as written; compared too unless fold is set
	fold  bool   // the literal matches case-insensitively
	pat   int32  // index of the pattern the literal belongs to
}

// prefilter finds the patterns of a list that may match a string. It is
// immutable after newPrefilter and safe for concurrent use.
type prefilter struct {
	n          int
	always     []uint64 // patterns without a usable literal
	folded     []uint64 // patterns with at least one case-insensitive literal
	literal    []uint64 // patterns that are one plain case-sensitive literal
	unfiltered int
	bloom      []uint64
	index      map[uint32][]entry
}

// newPrefilter analyses patterns, each in Go regexp syntax as accepted by
// regexp.Compile (flags such as "(?i)" inline). It returns an error when a
// pattern does not parse.
//
// common lists typical inputs (may be empty). When a pattern offers several
// literals to index, newPrefilter prefers the one that the fewest common inputs
// contain: for a device regex like `(Acer [^;)]+)\) AppleWebKit` it then
// indexes "Acer " rather than the longer ") AppleWebKit", which every browser
// sends. Without common inputs the longest literal wins.
func newPrefilter(patterns []string, common ...string) (*prefilter, error) {
	a := &analyzer{common: common, lowCommon: make([]string, len(common))}
	for i, c := range common {
		a.lowCommon[i] = asciiLower(c)
	}
	words := (len(patterns) + 63) / 64
	f := &prefilter{
		n:       len(patterns),
		always:  make([]uint64, words),
		folded:  make([]uint64, words),
		literal: make([]uint64, words),
		bloom:   make([]uint64, (1<<bloomBits)/64),
		index:   make(map[uint32][]entry),
	}
	for i, p := range patterns {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("prefilter: pattern %d %q: %w", i, p, err)
		}
		re = re.Simplify()
		if re.Op == syntax.OpLiteral && re.Flags&syntax.FoldCase == 0 && len(string(re.Rune)) >= minLiteral {
			f.literal[i/64] |= 1 << (i % 64)
		}
		lits, ok := a.required(re)
		if !ok {
			f.always[i/64] |= 1 << (i % 64)
			f.unfiltered++
			continue
		}
		seen := make(map[lit]bool, len(lits))
		for _, l := range lits {
			if seen[l] {
				continue
			}
			seen[l] = true
			if l.fold {
				f.folded[i/64] |= 1 << (i % 64)
			}
			low := asciiLower(l.s)
			k := key(low)
			f.bloom[bloomSlot(k)/64] |= 1 << (bloomSlot(k) % 64)
			f.index[k] = append(f.index[k], entry{lower: low, orig: l.s, fold: l.fold, pat: int32(i)})
		}
	}
	return f, nil
}

// Len returns the number of patterns the filter was built from.
func (f *prefilter) Len() int { return f.n }

// IsLiteral reports whether pattern i is a plain case-sensitive string
// without anchors, so that Candidates reporting it means it matches.
func (f *prefilter) IsLiteral(i int) bool {
	return f.literal[i/64]&(1<<(i%64)) != 0
}

// Unfiltered returns how many patterns have no usable literal and are
// therefore reported for every string.
func (f *prefilter) Unfiltered() int { return f.unfiltered }

// Candidates calls yield, in ascending order, with the index of every pattern
// that may match s, and stops early when yield returns false. A pattern that
// is not reported cannot match s.
func (f *prefilter) Candidates(s string, yield func(i int) bool) {
	var stack [stackWords]uint64
	var set []uint64
	if len(f.always) <= stackWords {
		set = stack[:len(f.always)]
	} else {
		set = make([]uint64, len(f.always))
	}
	copy(set, f.always)

	// Go's case folding maps two non-ASCII runes onto ASCII letters: the
	// Kelvin sign onto k and the long s onto s. ASCII lowercasing cannot see
	// them, so a string containing either keeps every case-insensitive pattern.
	if strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f") {
		for w := range set {
			set[w] |= f.folded[w]
		}
	}

	var buf [stackBytes]byte
	var low []byte
	if len(s) <= stackBytes {
		low = buf[:len(s)]
	} else {
		low = make([]byte, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}

	for i := 0; i+minLiteral <= len(low); i++ {
		k := uint32(low[i]) | uint32(low[i+1])<<8 | uint32(low[i+2])<<16
		slot := bloomSlot(k)
		if f.bloom[slot/64]&(1<<(slot%64)) == 0 {
			continue
		}
		for _, e := range f.index[k] {
			if set[e.pat/64]&(1<<(e.pat%64)) != 0 {
				continue
			}
			end := i + len(e.lower)
			if end > len(low) || string(low[i:end]) != e.lower {
				continue
			}
			if !e.fold && s[i:end] != e.orig {
				continue
			}
			set[e.pat/64] |= 1 << (e.pat % 64)
		}
	}

	for w, word := range set {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			if !yield(w*64 + b) {
				return
			}
			word &^= 1 << b
		}
	}
}

// key packs the first three bytes of an ASCII-lowercased literal.
func key(low string) uint32 {
	return uint32(low[0]) | uint32(low[1])<<8 | uint32(low[2])<<16
}

// bloomSlot hashes a key to a bit of the quick-reject filter.
func bloomSlot(k uint32) uint32 {
	return (k * 2654435761) >> (32 - bloomBits)
}

// asciiLower lowercases ASCII letters only, keeping byte offsets intact.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// lit is a literal string; fold means it matches case-insensitively.
type lit struct {
	s    string
	fold bool
}

// exact returns the finite set of strings re can match, when that set is small.
// Zero-width assertions count as the empty string, which only widens the set.
func exact(re *syntax.Regexp) ([]lit, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []lit{{}}, true
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		if fold {
			for _, r := range re.Rune {
				if r >= utf8.RuneSelf {
					return nil, false
				}
			}
		}
		return []lit{{s: string(re.Rune), fold: fold}}, true
	case syntax.OpCharClass:
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			n += int(re.Rune[i+1]-re.Rune[i]) + 1
			if n > 8 {
				return nil, false
			}
		}
		out := make([]lit, 0, n)
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				out = append(out, lit{s: string(r)})
			}
		}
		return out, len(out) > 0
	case syntax.OpCapture:
		return exact(re.Sub[0])
	case syntax.OpQuest:
		sub, ok := exact(re.Sub[0])
		if !ok || len(sub)+1 > maxSet {
			return nil, false
		}
		return append(sub, lit{}), true
	case syntax.OpConcat:
		out := []lit{{}}
		for _, sub := range re.Sub {
			s, ok := exact(sub)
			if !ok {
				return nil, false
			}
			if out, ok = product(out, s); !ok {
				return nil, false
			}
		}
		return out, true
	case syntax.OpAlternate:
		var out []lit
		for _, sub := range re.Sub {
			s, ok := exact(sub)
			if !ok || len(out)+len(s) > maxSet {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	}
	return nil, false
}

// product concatenates every string of a with every string of b.
func product(a, b []lit) ([]lit, bool) {
	if len(a)*len(b) > maxSet {
		return nil, false
	}
	out := make([]lit, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, lit{s: x.s + y.s, fold: x.fold || y.fold})
		}
	}
	return out, true
}

// analyzer chooses the literals to index.
type analyzer struct {
	common    []string // typical inputs
	lowCommon []string // common, ASCII-lowercased
}

// hits counts the common inputs that contain a literal of s.
func (a *analyzer) hits(s []lit) int {
	n := 0
	for i, c := range a.common {
		for _, l := range s {
			if l.fold && strings.Contains(a.lowCommon[i], asciiLower(l.s)) || !l.fold && strings.Contains(c, l.s) {
				n++
				break
			}
		}
	}
	return n
}

// better prefers the set that fewer common inputs contain, then the one whose
// shortest literal is longer, then the smaller set.
func (a *analyzer) better(s []lit, sHits int, than []lit, thanHits int) bool {
	if than == nil {
		return true
	}
	if sHits != thanHits {
		return sHits < thanHits
	}
	ms, mt := shortest(s), shortest(than)
	if ms != mt {
		return ms > mt
	}
	return len(s) < len(than)
}

// required returns literals of which every match of re contains at least
// one, each at least minLiteral bytes long.
func (a *analyzer) required(re *syntax.Regexp) ([]lit, bool) {
	if s, ok := exact(re); ok && usable(s) {
		return s, true
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return a.required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return a.required(re.Sub[0])
		}
	case syntax.OpAlternate:
		var out []lit
		for _, sub := range re.Sub {
			s, ok := a.required(sub)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	case syntax.OpConcat:
		var best []lit
		bestHits := 0
		consider := func(s []lit) {
			if !usable(s) {
				return
			}
			if h := a.hits(s); a.better(s, h, best, bestHits) {
				best, bestHits = s, h
			}
		}
		for i, sub := range re.Sub {
			run, ok := exact(sub)
			if !ok {
				if s, ok := a.required(sub); ok {
					consider(s)
				}
				continue
			}
			consider(run)
			for _, next := range re.Sub[i+1:] {
				s, ok := exact(next)
				if !ok {
					// The run can still grow by what next always starts with.
					if s, ok = prefixes(next); ok {
						if s, ok = product(run, s); ok {
							consider(s)
						}
					}
					break
				}
				if run, ok = product(run, s); !ok {
					break
				}
				consider(run)
			}
		}
		return best, best != nil
	}
	return nil, false
}

// prefixes returns a small set of strings such that every match of re starts
// with one of them. The set may contain "", which makes it useless but true.
func prefixes(re *syntax.Regexp) ([]lit, bool) {
	if s, ok := exact(re); ok {
		return s, true
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return prefixes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return prefixes(re.Sub[0])
		}
	case syntax.OpAlternate:
		var out []lit
		for _, sub := range re.Sub {
			s, ok := prefixes(sub)
			if !ok || len(out)+len(s) > maxSet {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	case syntax.OpConcat:
		out := []lit{{}}
		for _, sub := range re.Sub {
			if s, ok := exact(sub); ok {
				if p, ok := product(out, s); ok {
					out = p
					continue
				}
				return out, true
			}
			if s, ok := prefixes(sub); ok {
				if p, ok := product(out, s); ok {
					return p, true
				}
			}
			return out, true
		}
		return out, true
	}
	return []lit{{}}, true
}

// usable reports whether every literal of s is long enough to index.
func usable(s []lit) bool {
	if len(s) == 0 {
		return false
	}
	for _, l := range s {
		if len(l.s) < minLiteral {
			return false
		}
	}
	return true
}

// shortest returns the length of the shortest literal of s.
func shortest(s []lit) int {
	m := len(s[0].s)
	for _, l := range s[1:] {
		m = min(m, len(l.s))
	}
	return m
}
