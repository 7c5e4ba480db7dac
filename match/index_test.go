package match

import (
	"slices"
	"testing"
)

func sorted[S interface{ ~int | ~string }](s []S) []S {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestIndexBasics(t *testing.T) {
	ix := NewIndex[string]()
	mustAdd := func(s, e string, want bool) {
		t.Helper()
		got, err := ix.Add(s, e)
		if err != nil || got != want {
			t.Fatalf("Add(%q, %q) = %v, %v; want %v", s, e, got, err, want)
		}
	}
	mustAdd("a", `^power\.`, true)
	mustAdd("a", `^power\.`, false) // stored once
	mustAdd("b", `^power\.`, true)
	mustAdd("c", `^power\.`, true)
	mustAdd("a", `rack12`, true) // second match for a: delivered once
	mustAdd("d", `^power\.rack12\.pdu3$`, true)
	mustAdd("e", `pdu\d$`, true)
	mustAdd("f", `^sensor`, true)

	st := ix.Stats()
	if st.Expressions != 5 || st.Subscriptions != 7 || st.Sessions != 6 {
		t.Fatalf("Stats = %+v", st)
	}
	if st.Prefix != 2 || st.Exact != 1 || st.Substring+st.Suffix != 2 || st.Regexp != 1 {
		t.Errorf("structure counts = %+v", st)
	}
	addr := []byte("power.rack12.pdu3")
	want := []string{"a", "b", "c", "d", "e"}
	for range 3 {
		if got := sorted(ix.Match(addr)); !slices.Equal(got, want) {
			t.Fatalf("Match = %v, want %v", got, want)
		}
	}
	if got := ix.Match([]byte("nothing")); got != nil {
		t.Errorf("Match(nothing) = %v", got)
	}
	if got := ix.Subscriptions("a"); !slices.Equal(got, []string{`^power\.`, `rack12`}) {
		t.Errorf("Subscriptions(a) = %v", got)
	}
	if ix.Remove("a", `nope`) || ix.Remove("zz", `rack12`) {
		t.Error("Remove of a missing subscription returned true")
	}
	if !ix.Remove("b", `^power\.`) {
		t.Error("Remove(b) = false")
	}
	if got := sorted(ix.Match(addr)); !slices.Equal(got, []string{"a", "c", "d", "e"}) {
		t.Errorf("after Remove(b): Match = %v", got)
	}
	if n := ix.RemoveAll("a"); n != 2 {
		t.Errorf("RemoveAll(a) = %d, want 2", n)
	}
	if n := ix.RemoveAll("a"); n != 0 {
		t.Errorf("second RemoveAll(a) = %d, want 0", n)
	}
	if got := sorted(ix.Match(addr)); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("after RemoveAll(a): Match = %v", got)
	}
	st = ix.Stats()
	if st.Expressions != 4 || st.Subscriptions != 4 || st.Sessions != 4 {
		t.Errorf("Stats after removals = %+v", st)
	}
	if ix.Subscriptions("a") == nil || len(ix.Subscriptions("a")) != 0 {
		t.Errorf("Subscriptions(gone) = %#v, want empty", ix.Subscriptions("a"))
	}
	for _, s := range []string{"c", "d", "e", "f"} {
		ix.RemoveAll(s)
	}
	st = ix.Stats()
	if st.Expressions != 0 || st.Subscriptions != 0 || st.Sessions != 0 ||
		st.Exact+st.Prefix+st.Suffix+st.Substring+st.Linear+st.Never != 0 {
		t.Errorf("Stats when empty = %+v", st)
	}
}

func TestIndexCacheCounters(t *testing.T) {
	ix := NewIndex[int](WithCacheSize(16))
	ix.Add(1, `^a`)
	ix.Match([]byte("ab"))
	ix.Match([]byte("ab"))
	ix.Match([]byte("ab"))
	st := ix.Stats()
	if st.CacheHits != 2 || st.CacheMisses != 1 || st.CacheLive != 1 || st.CacheCapacity != 16 {
		t.Errorf("Stats = %+v", st)
	}
	ix.Add(2, `b`) // new generation: the cached entry is brought up to date
	if got := sorted(ix.Match([]byte("ab"))); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("Match after Add = %v", got)
	}
	if st := ix.Stats(); st.CacheMisses != 1 || st.CacheRefreshes != 1 || st.CacheLive != 1 {
		t.Errorf("stale entry was not refreshed: %+v", st)
	}
	ix.Add(3, `^a`)
	ix.RemoveAll(3)   // 3 never in the result: nothing to do
	ix.Remove(2, `b`) // 2 matched through b: recomputed
	if got := ix.Match([]byte("ab")); !slices.Equal(got, []int{1}) {
		t.Errorf("Match after Remove = %v", got)
	}
	if st := ix.Stats(); st.CacheMisses != 2 || st.CacheRefreshes != 1 {
		t.Errorf("entry after a Remove of a matching expression was not recomputed: %+v", st)
	}
	ix.Add(2, `a`)
	ix.RemoveAll(1) // 1 leaves the result
	if got := ix.Match([]byte("ab")); !slices.Equal(got, []int{2}) {
		t.Errorf("Match after RemoveAll = %v", got)
	}
	if st := ix.Stats(); st.CacheMisses != 2 || st.CacheRefreshes != 2 {
		t.Errorf("entry after Add and RemoveAll was not refreshed: %+v", st)
	}
	for range defaultChangeLog + 1 { // more changes than the log keeps
		ix.Add(9, `zz`)
		ix.Remove(9, `zz`)
	}
	if got := ix.Match([]byte("ab")); !slices.Equal(got, []int{2}) {
		t.Errorf("Match after many changes = %v", got)
	}
	if st := ix.Stats(); st.CacheMisses != 3 || st.CacheRefreshes != 2 {
		t.Errorf("entry older than the change log was not recomputed: %+v", st)
	}
	if st := NewIndex[int](WithCacheSize(0)).Stats(); st.CacheCapacity != 0 {
		t.Errorf("disabled cache has capacity %d", st.CacheCapacity)
	}
}

func TestMatchHitDoesNotAllocate(t *testing.T) {
	ix := NewIndex[int]()
	for i := range 1000 {
		ix.Add(i%50, shapeExpr(i%5, i))
	}
	addrs := [][]byte{[]byte("power.rack0007.pdu7"), []byte("sensor.00042.t"), []byte("zzz")}
	for _, a := range addrs {
		ix.Match(a)
	}
	for _, a := range addrs {
		if n := testing.AllocsPerRun(100, func() { ix.Match(a) }); n != 0 {
			t.Errorf("Match(%q) on a cache hit: %v allocs, want 0", a, n)
		}
	}
}

func TestRegexpCacheBound(t *testing.T) {
	ix := NewIndex[int](WithRegexpCacheSize(3), WithCacheSize(0))
	for i := range 20 {
		ix.Add(i, `temp\.node(\d+)\.r`+string(rune('a'+i)))
	}
	for i := range 20 {
		a := []byte("temp.node7.r" + string(rune('a'+i)))
		if got := ix.Match(a); !slices.Equal(got, []int{i}) {
			t.Fatalf("Match(%s) = %v", a, got)
		}
	}
	st := ix.Stats()
	// Every address shares the factor "temp.node" with all 20 expressions
	// and some are filed under it, so more than 20 compiles happen; what
	// matters is that no more than 3 regexps are held.
	if st.CompiledRegexps != 3 || st.RegexpCompiles < 20 || st.RegexpEvictions != st.RegexpCompiles-3 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestFiling checks which structure each expression shape lands in and
// whether it needs a regexp.
func TestFiling(t *testing.T) {
	cases := []struct {
		expr   string
		where  where
		regexp bool
	}{
		{`^power\.rack12\.pdu3$`, wExact, false},
		{`^power\.`, wPrefix, false},
		{`^power\..*$`, wPrefix, false},
		{`^.*`, wPrefix, false},
		{`pdu3$`, wSuffix, false},
		{`.*pdu3$`, wSuffix, false},
		{`rack12`, wGram, false},
		{`.*rack12.*`, wGram, false},
		{`(rack)12`, wGram, false},
		{`r`, wGram, false},
		{``, wRest, false},
		{`.*`, wRest, false},
		{`$`, wNone, false},
		{`^power\.\d+`, wPrefix, true},
		{`\d+\.pdu3$`, wSuffix, true},
		{`temp\.node(\d+)\.r42`, wGram, true},
		{`^(power|temp)\.rack`, wGram, true},
		{`\d+`, wRest, true},
		{`^(a|b)`, wRest, true},
		{`x*$`, wRest, true},
	}
	for _, tc := range cases {
		ix := NewIndex[int]()
		if _, err := ix.Add(1, tc.expr); err != nil {
			t.Fatal(err)
		}
		e := ix.exprs[tc.expr]
		if e.where != tc.where || (e.kind == kRegexp) != tc.regexp {
			t.Errorf("%q filed in %d (kind %d), want %d (regexp %v)", tc.expr, e.where, e.kind, tc.where, tc.regexp)
		}
	}
}
