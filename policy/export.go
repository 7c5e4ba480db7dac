package policy

import (
	"errors"
	"strings"
)

// Pattern is one compiled glob of this package's language (pattern.go),
// for the packages that name identifiers with the same globs as the
// policy file: the broker's identifier bindings (zccp keys accept
// --ident 'rack1.pdu*').
type Pattern struct{ p pattern }

// CompilePattern checks and compiles text. {id} is refused: it names the
// session a policy rule applies to and means nothing elsewhere.
func CompilePattern(text string) (Pattern, error) {
	if strings.Contains(text, identVar) {
		return Pattern{}, errors.New("pattern " + text + ": {id} is only for policy rules")
	}
	p, err := compilePattern(text)
	return Pattern{p}, err
}

// Match reports whether s matches the whole pattern.
func (p Pattern) Match(s string) bool { return match(&p.p, []byte(s)) }

// String returns the pattern's text.
func (p Pattern) String() string { return p.p.text }

// Wild reports whether the pattern has a wildcard (otherwise it matches
// exactly its text).
func (p Pattern) Wild() bool { return strings.Contains(p.p.text, "*") }

// Literals counts the pattern's characters other than wildcards: of two
// patterns that match a name, the one with more is the more specific.
func (p Pattern) Literals() int { return len(p.p.text) - strings.Count(p.p.text, "*") }
