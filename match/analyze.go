package match

import (
	"regexp/syntax"
	"unicode/utf8"
)

// kind says how an expression is verified against an address.
type kind uint8

const (
	kEqual    kind = iota // address == lit
	kPrefix               // address starts with lit
	kSuffix               // address ends with lit (lit not empty)
	kContains             // address contains lit (lit "" means: not empty)
	kRegexp               // run the regexp (after the index key matched)
	kNever                // matches nothing (`$`): not indexed at all
)

// plan is the result of analysing a translated expression.
type plan struct {
	kind     kind
	lit      string   // the literal of kEqual/kPrefix/kSuffix/kContains
	prefix   string   // kRegexp: every match starts the address with this
	suffix   string   // kRegexp: every match ends the address with this
	factors  []string // kRegexp: every match contains each of these
	anchored bool     // zrex tries offset 0 only
	nullable bool     // the expression can match the empty string
}

// analyse parses the Go form of an expression with regexp/syntax and works
// out which literal structure can answer it, or which literals every match
// must contain. The analysis only has to be exact when it yields a literal
// kind (no regexp is run then); for kRegexp the literals are pre-filters and
// may be conservative (shorter or missing).
func analyse(t translation) (plan, error) {
	re, err := syntax.Parse(t.goExpr, syntax.Perl)
	if err != nil {
		return plan{}, err
	}
	pl := plan{anchored: t.anchored, nullable: t.minWidth == 0}
	items := flatten(re, nil)

	// A `.*` that can absorb the rest of the address adds nothing: drop it
	// at the end (also as `.*$`), and at the start of an unanchored
	// expression. This turns `^abc.*` into a prefix and `.*abc` into a
	// substring.
	for len(items) > 0 {
		n := len(items)
		if isStarAny(items[n-1]) {
			items = items[:n-1]
		} else if n >= 2 && items[n-1].Op == syntax.OpEndText && isStarAny(items[n-2]) {
			items = items[:n-2]
		} else {
			break
		}
	}
	for len(items) > 0 && isStarAny(items[0]) {
		items = items[1:]
	}

	begin := len(items) > 0 && items[0].Op == syntax.OpBeginText
	if begin {
		items = items[1:]
	}
	end := len(items) > 0 && items[len(items)-1].Op == syntax.OpEndText
	if end {
		items = items[:len(items)-1]
	}
	if lit, ok := literalOf(items); ok {
		pl.lit = lit
		switch {
		case begin && end:
			pl.kind = kEqual
		case begin:
			pl.kind = kPrefix
		case end && lit == "":
			pl.kind = kNever // `$`: zrex never tries the offset len(address)
		case end:
			pl.kind = kSuffix
		default:
			pl.kind = kContains
		}
		return pl, nil
	}

	pl.kind = kRegexp
	if begin {
		pl.prefix = leadingLiteral(items)
	}
	if end {
		pl.suffix = trailingLiteral(items)
	}
	var r runs
	r.items(items)
	r.flush()
	pl.factors = r.done
	return pl, nil
}

// flatten appends the items of a concatenation, looking through captures
// (which do not change what matches) and dropping empty matches.
func flatten(re *syntax.Regexp, out []*syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpConcat:
		for _, s := range re.Sub {
			out = flatten(s, out)
		}
	case syntax.OpCapture:
		out = flatten(re.Sub[0], out)
	case syntax.OpEmptyMatch:
	default:
		out = append(out, re)
	}
	return out
}

func isStarAny(re *syntax.Regexp) bool {
	return re.Op == syntax.OpStar && re.Sub[0].Op == syntax.OpAnyChar
}

// litBytes returns the bytes of a literal node (runes are bytes here, see
// the emitter), or false if re is not a plain literal.
func litBytes(re *syntax.Regexp, out []byte) ([]byte, bool) {
	if re.Op != syntax.OpLiteral || re.Flags&syntax.FoldCase != 0 {
		return out, false
	}
	for _, r := range re.Rune {
		if r >= 0x100 || r == utf8.RuneError {
			return out, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// literalOf returns the concatenated literal if every item is a literal.
func literalOf(items []*syntax.Regexp) (string, bool) {
	var b []byte
	for _, it := range items {
		var ok bool
		if b, ok = litBytes(it, b); !ok {
			return "", false
		}
	}
	return string(b), true
}

// leadingLiteral returns the literal bytes every match starts with.
func leadingLiteral(items []*syntax.Regexp) string {
	var b []byte
	for _, it := range items {
		var ok bool
		if b, ok = litBytes(it, b); !ok {
			if it.Op == syntax.OpPlus { // x+ starts with x
				b, _ = litBytes(it.Sub[0], b)
			}
			break
		}
	}
	return string(b)
}

// trailingLiteral returns the literal bytes every match ends with.
func trailingLiteral(items []*syntax.Regexp) string {
	i := len(items)
	for i > 0 && items[i-1].Op == syntax.OpLiteral {
		i--
	}
	lit, ok := literalOf(items[i:])
	if !ok {
		return ""
	}
	return lit
}

// runs collects the maximal literal runs that every match contains.
type runs struct {
	cur  []byte
	done []string
}

func (r *runs) flush() {
	if len(r.cur) > 0 {
		r.done = append(r.done, string(r.cur))
		r.cur = r.cur[:0]
	}
}

func (r *runs) items(items []*syntax.Regexp) {
	for _, it := range items {
		var ok bool
		if r.cur, ok = litBytes(it, r.cur); ok {
			continue
		}
		switch {
		case it.Op == syntax.OpPlus || it.Op == syntax.OpRepeat && it.Min >= 1:
			// At least one copy of the body occurs, adjacent to what
			// precedes it; what follows is adjacent to another copy.
			r.items(flatten(it.Sub[0], nil))
			r.flush()
		case it.Op == syntax.OpCapture || it.Op == syntax.OpConcat:
			r.items(flatten(it, nil))
		default:
			r.flush()
		}
	}
}
