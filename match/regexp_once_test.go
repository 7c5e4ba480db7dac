package match

import (
	"fmt"
	"strings"
	"testing"
)

// wildcardExprs returns n distinct expressions that all share only the
// prefix "dev." and need a regexp, so every address under dev. is a
// candidate for each of them.
func wildcardExprs(n int) []string {
	out := make([]string, n)
	for i := range out {
		var set strings.Builder
		for b := 0; b < 16; b++ {
			if (i+1)&(1<<b) != 0 {
				set.WriteByte(byte('a' + b))
			}
		}
		out[i] = fmt.Sprintf(`^dev\.\d+[%s]`, set.String())
	}
	return out
}

// TestRegexpsCompiledOnceAtAdd: 10,000 wildcard expressions are compiled
// once each when added; publishes to ever new addresses (every one a
// cache miss that checks all of them) and subscription churn replayed
// from the change log compile nothing more.
func TestRegexpsCompiledOnceAtAdd(t *testing.T) {
	const n = 10000
	ix := NewIndex[int](WithRegexpCacheSize(-1))
	exprs := wildcardExprs(n)
	for _, e := range exprs {
		if _, err := ix.Add(1, e); err != nil {
			t.Fatal(err)
		}
	}
	st := ix.Stats()
	if st.Regexp != n || st.RegexpCompiles != n {
		t.Fatalf("after adding %d wildcard expressions: %d need a regexp, %d compiled; want %d and %d", n, st.Regexp, st.RegexpCompiles, n, n)
	}
	for i := range 50 {
		a := fmt.Appendf(nil, "dev.%d%c", i, 'a'+i%14)
		if got := ix.Match(a); len(got) != 1 {
			t.Fatalf("Match(%s) = %v, want [1]", a, got)
		}
		// Churn that the cache replays: a removed expression is checked
		// against cached addresses after it left the index.
		ix.Remove(1, exprs[i])
		ix.Match(a)
		ix.Add(1, exprs[i])
	}
	if c := ix.Stats().RegexpCompiles; c != n+50 {
		t.Fatalf("%d compilations after 50 misses and 50 re-added expressions, want %d (one per Add of a new expression)", c, n+50)
	}
}

// BenchmarkMissManyWildcards: the CPU one publish to a new address costs
// when one session holds 10,000 wildcard expressions that are all
// candidates for it: "none" when no expression matches (each is checked),
// "match" when they do (checking stops at the first); with regexps
// compiled at Add (what the broker uses) and with the default bounded
// regexp cache, where every miss recompiles what does not fit.
func BenchmarkMissManyWildcards(b *testing.B) {
	for _, mode := range []struct {
		name  string
		cache int
	}{{"compiled-at-add", -1}, {"bounded-4096", DefaultRegexpCacheSize}} {
		ix := NewIndex[int](WithRegexpCacheSize(mode.cache))
		for _, e := range wildcardExprs(10000) {
			ix.Add(1, e)
		}
		for _, tail := range []byte{'z', 'a'} {
			name := mode.name + "/none"
			if tail == 'a' {
				name = mode.name + "/match"
			}
			b.Run(name, func(b *testing.B) {
				before := ix.Stats().RegexpCompiles
				for i := range b.N {
					ix.Match(fmt.Appendf(nil, "dev.%d0%d%c", b.N, i, tail))
				}
				b.StopTimer()
				b.ReportMetric(float64(ix.Stats().RegexpCompiles-before)/float64(b.N), "compiles/op")
			})
		}
	}
}
