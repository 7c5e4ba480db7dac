package match

import (
	"regexp"
	"strings"
)

// Error reports an expression that is not valid in the zrex dialect.
type Error struct {
	Expr string // the expression as given
	Msg  string // what is wrong with it
}

// Error returns the message in the form `match: expression "a[b": missing ]`.
func (e *Error) Error() string {
	return "match: expression " + quote(e.Expr) + ": " + e.Msg
}

// quote is strconv.Quote without pulling the expression through fmt.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

const hexDigits = "0123456789abcdef"

// Translate converts a zrex expression into an equivalent Go (RE2) expression.
//
// The result matches the same addresses as zrex when it is run with the zrex
// search rules that [Pattern.Match] applies (see the package documentation);
// for ASCII addresses that are not empty, plain [regexp.Regexp.Match] on the
// result agrees with zrex except for expressions that can match the empty
// string at the very end of the address (such as `$` or `x*$`).
//
// Translate returns an *[Error] for anything zrex would not compile, and also
// for the few expressions zrex compiles but then loops on forever (a `*` or
// `+` applied to something that can match the empty string), or that repeat
// an anchor (`a$*`).
func Translate(expr string) (string, error) {
	t, err := translate(expr)
	if err != nil {
		return "", err
	}
	return t.goExpr, nil
}

// Compile translates a zrex expression and compiles the result with
// [regexp.Compile]. Bytes 0x80-0xFF in the expression become the runes
// U+0080-U+00FF, so the regexp sees addresses byte-for-byte only when they are
// ASCII or when they are first widened with [Latin1]; [CompilePattern] does
// that (and applies zrex's search rules) for you.
func Compile(expr string) (*regexp.Regexp, error) {
	t, err := translate(expr)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(t.goExpr)
}

// translation is what the index needs to know about a valid expression.
type translation struct {
	goExpr   string // Go RE2 syntax
	anchored bool   // zrex only tries offset 0 (expression starts with ^)
	minWidth int    // fewest bytes any match consumes; 0 means nullable
}

func translate(expr string) (translation, error) {
	if strings.IndexByte(expr, 0) >= 0 {
		return translation{}, &Error{expr, "NUL byte in expression (zrex expressions are C strings)"}
	}
	p := parser{src: expr}
	alts, err := p.parse()
	if err != nil {
		return translation{}, &Error{expr, err.Error()}
	}
	var w emitter
	anchored := len(expr) > 0 && expr[0] == '^'
	if anchored && len(alts) > 1 {
		// zrex tries an anchored expression only at offset 0, so every
		// alternative is anchored even though ^ stands in the first one.
		w.b.WriteString("^(?:")
		w.seq(alts[0][1:])
		for _, a := range alts[1:] {
			w.b.WriteByte('|')
			w.seq(a)
		}
		w.b.WriteByte(')')
	} else {
		w.alts(alts)
	}
	out := w.b.String()
	if w.dot {
		out = "(?s)" + out
	}
	return translation{goExpr: out, anchored: anchored, minWidth: altsWidth(alts)}, nil
}
