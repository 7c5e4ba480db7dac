package match

import (
	"regexp"
	"testing"
)

// FuzzTranslate checks that every expression Translate accepts compiles in
// Go, and that a one-expression Index agrees with the Pattern on a few
// addresses. The seeds run with plain `go test`.
func FuzzTranslate(f *testing.F) {
	for _, tc := range dialectCases {
		f.Add(tc.expr, "power.rack12.pdu3")
	}
	f.Add(`^(a|b)*?c+$`, "abc")
	f.Add(`[^\]]*x`, "]]x")
	f.Fuzz(func(t *testing.T, expr, addr string) {
		g, err := Translate(expr)
		if err != nil {
			return
		}
		if _, err := regexp.Compile(g); err != nil {
			t.Fatalf("Translate(%q) = %q, which does not compile: %v", expr, g, err)
		}
		p := MustCompilePattern(expr)
		ix := NewIndex[int](WithCacheSize(0))
		if _, err := ix.Add(1, expr); err != nil {
			t.Fatalf("Add(%q): %v", expr, err)
		}
		for _, a := range []string{addr, "", "a", "power.rack12.pdu3", addr + addr} {
			if want, got := p.MatchString(a), len(ix.Match([]byte(a))) == 1; got != want {
				t.Fatalf("expr %q addr %q: Index %v, Pattern %v", expr, a, got, want)
			}
		}
	})
}
