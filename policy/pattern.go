package policy

import (
	"errors"
	"strconv"
	"strings"
)

// Patterns name addresses, identifiers and methods. They are globs over
// dot-separated segments, the way operators write host and metric names:
//
//	*     any run of characters inside one segment (never a '.'), empty included
//	**    a whole segment only: zero or more segments
//	{id}  the identifier of the session the rule applies to (a literal)
//
// Everything else is literal and the whole text must match (a pattern is
// anchored at both ends, like a subscription). "rack1.*.temp" matches
// "rack1.pdu3.temp" but not "rack1.pdu3.outlet.temp"; "rack1.**" matches
// "rack1", "rack1.pdu3" and "rack1.pdu3.outlet.temp"; "**" matches
// everything. Matching never allocates and takes time linear in the
// address times the pattern's length at worst.

// maxPatternLen bounds a pattern's text.
const maxPatternLen = 1024

// segment is one dot-separated part of a pattern.
type segment struct {
	any  bool   // "**": zero or more segments
	glob string // otherwise: literal text with '*' wildcards
	star bool   // glob contains '*'
}

// pattern is a compiled glob.
type pattern struct {
	text   string
	segs   []segment
	ident  bool   // contains {id}: bound per session
	prefix string // literal text every match starts with (a quick rejection)
}

// setPrefix computes p.prefix from its segments: the literal segments up
// to the first wildcard, and the literal start of a glob segment. The
// '.' before a ** is left out: rack1.** matches rack1.
func (p *pattern) setPrefix() {
	var b strings.Builder
	for i, s := range p.segs {
		if s.any {
			break
		}
		if s.star {
			b.WriteString(s.glob[:strings.IndexByte(s.glob, '*')])
			break
		}
		b.WriteString(s.glob)
		if i+1 < len(p.segs) && !p.segs[i+1].any {
			b.WriteByte('.')
		}
	}
	p.prefix = b.String()
}

const identVar = "{id}"

// compilePattern checks and compiles a pattern.
func compilePattern(text string) (pattern, error) {
	switch {
	case text == "":
		return pattern{}, errors.New("empty pattern")
	case len(text) > maxPatternLen:
		return pattern{}, errors.New("pattern longer than 1024 bytes")
	}
	p := pattern{text: text, ident: strings.Contains(text, identVar)}
	for _, s := range strings.Split(text, ".") {
		switch {
		case s == "**":
			p.segs = append(p.segs, segment{any: true})
		case strings.Contains(s, "**"):
			return pattern{}, errors.New("pattern " + strconv.Quote(text) + ": ** must be a whole segment (a.**.b), use * inside a segment")
		case strings.ContainsAny(s, "{}") && !validBraces(s):
			return pattern{}, errors.New("pattern " + strconv.Quote(text) + ": braces only in {id}")
		default:
			p.segs = append(p.segs, segment{glob: s, star: strings.Contains(s, "*")})
		}
	}
	if !p.ident {
		p.setPrefix()
	}
	return p, nil
}

// validBraces reports whether every brace in s is part of {id}.
func validBraces(s string) bool {
	s = strings.ReplaceAll(s, identVar, "")
	return !strings.ContainsAny(s, "{}")
}

// bind returns p with {id} replaced by ident as a literal. An identifier
// that holds a '*' or a '.' could widen the pattern: the bound pattern
// then matches nothing.
func (p pattern) bind(ident string) pattern {
	if !p.ident {
		return p
	}
	if ident == "" || strings.ContainsAny(ident, "*.") {
		return pattern{text: p.text, segs: []segment{{glob: "\x00never"}}}
	}
	q := pattern{text: p.text, segs: make([]segment, len(p.segs))}
	for i, s := range p.segs {
		s.glob = strings.ReplaceAll(s.glob, identVar, ident)
		q.segs[i] = s
	}
	q.setPrefix()
	return q
}

// match reports whether s matches p: the classic wildcard algorithm at
// the segment level ("**" is the star, a segment glob one "character";
// on a mismatch the last ** takes one more segment and matching resumes
// after it). The address has at least one (maybe empty) segment; si past
// len(s) means every segment is consumed.
func match(p *pattern, s []byte) bool {
	if len(s) < len(p.prefix) || string(s[:len(p.prefix)]) != p.prefix {
		return false
	}
	segs := p.segs
	pi, si := 0, 0
	starPi, starSi := -1, 0
	for si <= len(s) {
		if pi < len(segs) && segs[pi].any {
			starPi, starSi = pi, si
			pi++
			continue
		}
		if pi < len(segs) {
			end := segEnd(s, si)
			if matchGlob(segs[pi], s[si:end]) {
				pi, si = pi+1, end+1
				continue
			}
		}
		if starPi < 0 {
			return false
		}
		starSi = segEnd(s, starSi) + 1
		pi, si = starPi+1, starSi
	}
	for pi < len(segs) && segs[pi].any {
		pi++
	}
	return pi == len(segs)
}

// segEnd returns the offset of the '.' ending the segment starting at i,
// or len(s).
func segEnd(s []byte, i int) int {
	for j := i; j < len(s); j++ {
		if s[j] == '.' {
			return j
		}
	}
	return len(s)
}

// matchGlob matches one segment against a glob with '*' wildcards.
func matchGlob(g segment, s []byte) bool {
	p := g.glob
	if !g.star {
		return len(p) == len(s) && string(s) == p
	}
	pi, si, starPi, starSi := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			starPi, starSi = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case starPi >= 0:
			starSi++
			pi, si = starPi+1, starSi
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// patterns is a list; it matches when one of them does.
type patterns []pattern

func (ps patterns) match(s string) bool { return ps.matchBytes([]byte(s)) }

func (ps patterns) matchBytes(s []byte) bool {
	for i := range ps {
		if match(&ps[i], s) {
			return true
		}
	}
	return false
}

func (ps patterns) bind(ident string) patterns {
	if ps == nil {
		return nil
	}
	out := make(patterns, len(ps))
	for i, p := range ps {
		out[i] = p.bind(ident)
	}
	return out
}

func (ps patterns) hasIdent() bool {
	for _, p := range ps {
		if p.ident {
			return true
		}
	}
	return false
}

// everything reports whether the list holds "**".
func (ps patterns) everything() bool {
	for _, p := range ps {
		if len(p.segs) == 1 && p.segs[0].any {
			return true
		}
	}
	return false
}
