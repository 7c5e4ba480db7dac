package match

import (
	"errors"
	"strings"
	"testing"
)

// dialectCases pins the zrex dialect: the Go translation of every construct
// and addresses it must and must not match under zrex's rules.
var dialectCases = []struct {
	expr    string
	goExpr  string
	match   []string
	noMatch []string
}{
	// The example from the brief.
	{`H.*O`, `(?s)H.*O`, []string{"(HELLO, WORLD)", "HO", "H\nO"}, []string{"hello", "OH", ""}},
	// Literals and anchors.
	{`abc`, `abc`, []string{"abc", "xabcx"}, []string{"ab", "", "ABC"}},
	{`^power\.rack0123\.pdu7$`, `^power\.rack0123\.pdu7$`,
		[]string{"power.rack0123.pdu7"},
		[]string{"power.rack0123.pdu77", "xpower.rack0123.pdu7", "powerXrack0123.pdu7"}},
	{`^sensor\.`, `^sensor\.`, []string{"sensor.", "sensor.1"}, []string{"a.sensor.1", "sensor"}},
	{`a$`, `a$`, []string{"a", "ba"}, []string{"ab", ""}},
	{`^`, `^`, []string{"", "a"}, nil},
	{`^$`, `^$`, []string{""}, []string{"a"}},
	// zrex never tries the offset len(address): `$` alone matches nothing,
	// and an unanchored expression never matches the empty address.
	{`$`, `$`, nil, []string{"", "a", "abc"}},
	{``, ``, []string{"a", " "}, []string{""}},
	{`x*`, `x*`, []string{"abc", "x"}, []string{""}},
	{`x*$`, `x*$`, []string{"x", "abx"}, []string{"ab", ""}},
	{`.*$`, `(?s).*$`, []string{"a"}, []string{""}},
	{`(^a)`, `(^a)`, []string{"ab"}, []string{"ba", ""}},
	{`a^b`, `a^b`, nil, []string{"ab", "a^b"}},
	// `.` is any byte, newline and NUL included.
	{`a.c`, `(?s)a.c`, []string{"abc", "a\nc", "a\x00c", "a\xffc"}, []string{"ac"}},
	// Class escapes follow C's <ctype.h> in the C locale.
	{`\s`, `[\t-\r ]`, []string{" ", "\t", "\n", "\v", "\f", "\r"}, []string{"a", "_"}},
	{`^\S+$`, `^[^\t-\r ]+$`, []string{"ab_c", "\xa0"}, []string{"a b", "a\vb"}},
	{`\d`, `[0-9]`, []string{"a1"}, []string{"abc", "\xb2"}},
	{`^\D+$`, `^[^0-9]+$`, []string{"abc"}, []string{"a1"}},
	{`\a`, `[A-Za-z]`, []string{"1a2", "Z"}, []string{"123", "\a", "\xe9"}},
	{`^\A+$`, `^[^A-Za-z]+$`, []string{"12_", "\a"}, []string{"1a"}},
	{`^\w+$`, `^[0-9A-Za-z]+$`, []string{"abc123"}, []string{"a_b", "a-b"}},
	{`\W`, `[^0-9A-Za-z]`, []string{"_", "a_b", "a b"}, []string{"abc"}},
	// Other escapes.
	{`a\.b`, `a\.b`, []string{"a.b"}, []string{"axb"}},
	{`\n\r\t`, `\n\r\t`, []string{"\n\r\t"}, []string{`\n\r\t`, "nrt"}},
	{`a\0b`, `a\x00b`, []string{"a\x00b"}, []string{"a0b"}},
	{`\x41`, `x41`, []string{"x41"}, []string{"A"}}, // \xDD is documented but not implemented
	{`\b`, `b`, []string{"b"}, []string{"", " "}},
	{`\{\}\]\|\(\)\*\+\?\^\$\[\\`, `\{\}\]\|\(\)\*\+\?\^\$\[\\`, []string{`{}]|()*+?^$[\`}, nil},
	{`\-\/\#`, `-/#`, []string{"-/#"}, nil},
	// Characters special in Go but literal in zrex.
	{`a{2}`, `a\{2\}`, []string{"a{2}"}, []string{"aa"}},
	{`a{2,3}b`, `a\{2,3\}b`, []string{"a{2,3}b"}, []string{"aab"}},
	{`}]`, `\}\]`, []string{"}]"}, nil},
	// Sets: no ranges; ']' first closes an empty set; escapes inside.
	{`[a-z]`, `[\-az]`, []string{"a", "-", "z"}, []string{"m", "b"}},
	{`^[abc]+$`, `^[a-c]+$`, []string{"abcabc"}, []string{"abd"}},
	{`[^abc]`, `[^a-c]`, []string{"d", "\xe9", "\n"}, []string{"abc"}},
	{`[.]`, `[\.]`, []string{"."}, []string{"a"}},
	{`[\]]`, `[\]]`, []string{"]"}, []string{"a"}},
	{`[\n\t]`, `[\t\n]`, []string{"\n", "\t"}, []string{"n", "t"}},
	{`[]a]`, `[^\x00-\x{10FFFF}]a\]`, nil, []string{"]a]", "a]", "a"}},
	{`^[^]$`, `^(?s:.)$`, []string{"x", "\n", "\xff"}, []string{"", "xy"}},
	{`[^x]`, `[^x]`, []string{"a"}, []string{"x", ""}},
	{`[(|)]`, `[\(\)\|]`, []string{"(", "|", ")"}, []string{"a"}},
	// A class escape inside [...] is stored as 0x00 plus an SLRE opcode
	// byte, so it does not mean what it says.
	{`[\d]`, `[\x00\x11]`, []string{"\x00", "\x11"}, []string{"5", "d"}},
	{`[\w_]`, `[\x00\x15\_]`, []string{"_"}, []string{"a", "w"}},
	// Alternation, groups, quantifiers.
	{`a|b`, `a|b`, []string{"xb", "a"}, []string{"c"}},
	{`^a|b`, `^(?:a|b)`, []string{"a", "bx"}, []string{"xb", "xa"}},
	{`a|^b`, `a|^b`, []string{"xa", "bx"}, []string{"xb"}},
	{`^(GET|POST) `, `^(GET|POST) `, []string{"GET /", "POST /"}, []string{" GET /"}},
	{`(a|b)c`, `(a|b)c`, []string{"bc"}, []string{"cc"}},
	{`a|`, `a|`, []string{"x"}, []string{""}},
	{`()`, `()`, []string{"x"}, []string{""}},
	{`abc?`, `abc?`, []string{"ab", "abc"}, []string{"ac"}},
	{`^ab+$`, `^ab+$`, []string{"ab", "abbb"}, []string{"a"}},
	{`^ab*$`, `^ab*$`, []string{"a", "abbb"}, []string{"b"}},
	{`^a*?b+?$`, `^a*?b+?$`, []string{"b", "aabb"}, []string{"a"}},
	{`^(ab)+$`, `^(ab)+$`, []string{"abab"}, []string{"aba"}},
	{`^\d+-\d+$`, `^[0-9]+-[0-9]+$`, []string{"123-456"}, []string{"123-", "a-1"}},
	{`^a??$`, `^(?:a?)?$`, []string{"", "a"}, []string{"aa"}},
	{`^a+*$`, `^(?:a+)*$`, []string{"", "aaa"}, []string{"b"}},
	{`^a++$`, `^(?:a+)+$`, []string{"a", "aaa"}, []string{""}},
	{`temp\.node(\d+)\.r42`, `temp\.node([0-9]+)\.r42`, []string{"temp.node17.r42", "x.temp.node1.r42.y"}, []string{"temp.node.r42"}},
	// Bytes, not UTF-8: 0x80-0xFF are single characters.
	{"caf\xe9", `caf\xE9`, []string{"caf\xe9", "caf\xe9s"}, []string{"café"}},
	{`^caf.$`, `(?s)^caf.$`, []string{"caf\xe9", "cafe"}, []string{"café"}},
	{`^caf..$`, `(?s)^caf..$`, []string{"café"}, []string{"cafe"}},
	{"^[\xe9\xc3]+$", `^[\xC3\xE9]+$`, []string{"\xe9\xc3"}, []string{"é"}},
}

func TestDialect(t *testing.T) {
	for _, tc := range dialectCases {
		got, err := Translate(tc.expr)
		if err != nil {
			t.Errorf("Translate(%q): %v", tc.expr, err)
			continue
		}
		if got != tc.goExpr {
			t.Errorf("Translate(%q) = %q, want %q", tc.expr, got, tc.goExpr)
		}
		p := MustCompilePattern(tc.expr)
		ix := NewIndex[int]()
		if _, err := ix.Add(1, tc.expr); err != nil {
			t.Fatalf("Add(%q): %v", tc.expr, err)
		}
		check := func(addr string, want bool) {
			if p.MatchString(addr) != want {
				t.Errorf("Pattern(%q).Match(%q) = %v, want %v", tc.expr, addr, !want, want)
			}
			for range 2 { // miss, then hit
				if got := len(ix.Match([]byte(addr))) == 1; got != want {
					t.Errorf("Index{%q}.Match(%q) = %v, want %v", tc.expr, addr, got, want)
				}
			}
		}
		for _, a := range tc.match {
			check(a, true)
		}
		for _, a := range tc.noMatch {
			check(a, false)
		}
	}
}

// TestCompileAgreesOnASCII checks that the plain regexp from Compile gives
// the zrex answer for non-empty ASCII addresses whenever the expression
// cannot match the empty string.
func TestCompileAgreesOnASCII(t *testing.T) {
	for _, tc := range dialectCases {
		tr, _ := translate(tc.expr)
		if tr.minWidth == 0 {
			continue
		}
		re, err := Compile(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range append(append([]string{}, tc.match...), tc.noMatch...) {
			if a == "" || strings.IndexFunc(a, func(r rune) bool { return r >= 0x80 }) >= 0 {
				continue
			}
			if re.MatchString(a) != MustCompilePattern(tc.expr).MatchString(a) {
				t.Errorf("Compile(%q).MatchString(%q) disagrees with Pattern", tc.expr, a)
			}
		}
	}
}

func TestDialectErrors(t *testing.T) {
	cases := []struct{ expr, msg string }{
		{`a[b`, `missing ]`},
		{`[`, `missing ]`},
		{`[^`, `missing ]`},
		{`[a\`, `missing ]`},
		{`(a`, `missing )`},
		{`((a)`, `missing )`},
		{`a)`, `unexpected )`},
		{`)`, `unexpected )`},
		{`(a))`, `unexpected )`},
		{`\`, `trailing backslash`},
		{`ab\`, `trailing backslash`},
		{`*a`, `missing argument to repetition operator *`},
		{`+`, `missing argument to repetition operator +`},
		{`?a`, `missing argument to repetition operator ?`},
		{`a|*b`, `missing argument to repetition operator *`},
		{`(*a)`, `missing argument to repetition operator *`},
		{`^*`, `repetition of an anchor (^ or $) is not supported`},
		{`a$?`, `repetition of an anchor (^ or $) is not supported`},
		{`(a*)*`, `repeated sub-expression can match the empty string (zrex would loop forever)`},
		{`a**`, `repeated sub-expression can match the empty string (zrex would loop forever)`},
		{`a?+`, `repeated sub-expression can match the empty string (zrex would loop forever)`},
		{`(a|)+`, `repeated sub-expression can match the empty string (zrex would loop forever)`},
		{`()*?`, `repeated sub-expression can match the empty string (zrex would loop forever)`},
		{"a\x00b", `NUL byte in expression (zrex expressions are C strings)`},
		{strings.Repeat("a", 257), `expression too long (zrex data overflow)`},
		{strings.Repeat(`\d`, 252), `expression too long (zrex code overflow)`},
		{"(" + strings.Repeat(`\d`, 248) + ")", `expression too long (zrex code overflow)`},
	}
	for _, tc := range cases {
		_, err := Translate(tc.expr)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Translate(%q) error = %v, want *Error", tc.expr, err)
			continue
		}
		if e.Msg != tc.msg || e.Expr != tc.expr {
			t.Errorf("Translate(%q) error = %q, want message %q", tc.expr, e.Msg, tc.msg)
		}
		if _, err := Compile(tc.expr); err == nil {
			t.Errorf("Compile(%q) succeeded", tc.expr)
		}
		if ok, err := NewIndex[int]().Add(1, tc.expr); ok || err == nil {
			t.Errorf("Add(%q) = %v, %v; want error", tc.expr, ok, err)
		}
	}
	if got, want := (&Error{"a[b", "missing ]"}).Error(), `match: expression "a[b": missing ]`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// The limits themselves are accepted.
	for _, ok := range []string{strings.Repeat("a", 256), strings.Repeat(`\d`, 251)} {
		if _, err := Translate(ok); err != nil {
			t.Errorf("Translate(%d bytes): %v", len(ok), err)
		}
	}
}
