package match

import (
	"regexp"
	"unicode/utf8"
)

// Pattern is one compiled zrex expression that matches addresses with
// zrex's exact search rules (see the package documentation):
//
//   - bytes, not UTF-8: every address byte is one character;
//   - an expression that starts with ^ is tried at offset 0 only;
//   - any other expression is tried at offsets 0 .. len-1, so it never
//     matches the empty address and never matches only at the very end.
//
// A Pattern is safe for concurrent use.
type Pattern struct {
	expr     string
	re       *regexp.Regexp
	anchored bool
	nullable bool
}

// CompilePattern compiles a zrex expression into a [Pattern].
func CompilePattern(expr string) (*Pattern, error) {
	t, err := translate(expr)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(t.goExpr)
	if err != nil { // not expected: translate only emits valid syntax
		return nil, &Error{expr, err.Error()}
	}
	return &Pattern{expr: expr, re: re, anchored: t.anchored, nullable: t.minWidth == 0}, nil
}

// MustCompilePattern is like [CompilePattern] but panics on error.
func MustCompilePattern(expr string) *Pattern {
	p, err := CompilePattern(expr)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the zrex expression.
func (p *Pattern) String() string { return p.expr }

// Regexp returns the underlying Go regexp (see [Compile] for its input
// convention). The caller must not change it.
func (p *Pattern) Regexp() *regexp.Regexp { return p.re }

// Match reports whether zrex would match address.
func (p *Pattern) Match(address []byte) bool {
	return zrexSearch(p.re, p.anchored, p.nullable, address)
}

// MatchString is [Pattern.Match] for a string address.
func (p *Pattern) MatchString(address string) bool {
	return zrexSearch(p.re, p.anchored, p.nullable, []byte(address))
}

// zrexSearch runs re over address with zrex's search rules; anchored and
// nullable come from the translation of the same expression.
func zrexSearch(re *regexp.Regexp, anchored, nullable bool, address []byte) bool {
	if len(address) == 0 && !anchored {
		return false // zrex's search loop does not run at all
	}
	in := Latin1(nil, address) // allocates only for non-ASCII addresses
	if nullable && !anchored {
		// The leftmost match must start before the end: zrex never tries
		// the offset len(address).
		loc := re.FindIndex(in)
		return loc != nil && loc[0] < len(in)
	}
	return re.Match(in)
}

// Latin1 returns address with every byte 0x80-0xFF widened to the UTF-8
// encoding of the rune with that value (U+0080-U+00FF), appended to dst;
// an all-ASCII address is returned as it is, without copying. Regexps from
// [Compile] must see addresses in this form to treat them byte by byte.
func Latin1(dst, address []byte) []byte {
	i := 0
	for i < len(address) && address[i] < utf8.RuneSelf {
		i++
	}
	if i == len(address) {
		return address
	}
	dst = append(dst, address[:i]...)
	for _, c := range address[i:] {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return dst
}
