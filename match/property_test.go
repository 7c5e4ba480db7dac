package match

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// litAlphabet is small so that random literals and addresses collide often.
const litAlphabet = "ab.1x\xe9"

func randLit(r *rand.Rand, min, max int) string {
	n := min + r.IntN(max-min+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = litAlphabet[r.IntN(len(litAlphabet))]
	}
	return string(b)
}

// zrexQuote escapes the zrex meta characters of a literal.
func zrexQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isMeta(s[i]) {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// randToken returns one random zrex atom, possibly quantified.
func randToken(r *rand.Rand) string {
	atoms := []string{`a`, `b`, `1`, `.`, `\.`, `\d`, `\w`, `\s`, `\a`, `\A`, `\W`, `[ab]`,
		`[^a]`, `(a|b)`, `(ab|1)`, "\xe9", `x`, `{`, `[a-z]`}
	s := atoms[r.IntN(len(atoms))]
	switch r.IntN(6) {
	case 0:
		s += "*"
	case 1:
		s += "+"
	case 2:
		s += "?"
	case 3:
		s += "+?"
	}
	return s
}

// randExpr returns a random valid zrex expression of a random shape.
func randExpr(r *rand.Rand) string {
	for {
		var e string
		switch r.IntN(10) {
		case 0:
			e = "^" + zrexQuote(randLit(r, 0, 4)) + "$"
		case 1:
			e = "^" + zrexQuote(randLit(r, 0, 4))
		case 2:
			e = zrexQuote(randLit(r, 1, 4)) + "$"
		case 3:
			e = zrexQuote(randLit(r, 0, 4))
		case 4:
			e = zrexQuote(randLit(r, 1, 3)) + randToken(r) + zrexQuote(randLit(r, 0, 3))
		case 5:
			e = "^" + zrexQuote(randLit(r, 1, 3)) + randToken(r)
		case 6:
			e = randToken(r) + zrexQuote(randLit(r, 1, 3)) + "$"
		case 7:
			e = []string{``, `^`, `$`, `.*`, `^.*`, `.*$`, `x*`, `x*$`, `\d+`, `^\w+$`, `(^a)`,
				`a|b`, `^a|b`, `^(ab|a)`, `.*ab.*`, `^ab.*$`}[r.IntN(16)]
		default:
			var b strings.Builder
			if r.IntN(3) == 0 {
				b.WriteByte('^')
			}
			for range 1 + r.IntN(4) {
				if r.IntN(2) == 0 {
					b.WriteString(randToken(r))
				} else {
					b.WriteString(zrexQuote(randLit(r, 1, 2)))
				}
			}
			if r.IntN(3) == 0 {
				b.WriteByte('$')
			}
			e = b.String()
		}
		if _, err := Translate(e); err == nil {
			return e
		}
	}
}

// bruteForce is the reference: every (session, pattern) pair, zrex rules.
// Each (pattern, address) verdict is computed once by the pattern's own
// regexp and remembered (the slow part under -race).
type bruteForce struct {
	subs     map[int]map[string]bool
	compiled map[string]*Pattern
	verdicts map[string]map[string]bool // by expression, then address
}

func (m *bruteForce) matches(expr string, addr []byte) bool {
	byAddr := m.verdicts[expr]
	if byAddr == nil {
		if m.verdicts == nil {
			m.verdicts = map[string]map[string]bool{}
		}
		byAddr = map[string]bool{}
		m.verdicts[expr] = byAddr
	}
	v, ok := byAddr[string(addr)]
	if !ok {
		v = m.compiled[expr].Match(addr)
		byAddr[string(addr)] = v
	}
	return v
}

func (m *bruteForce) match(addr []byte) []int {
	var out []int
	for s, exprs := range m.subs {
		for e := range exprs {
			if m.matches(e, addr) {
				out = append(out, s)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestIndexMatchesBruteForce(t *testing.T) {
	configs := []struct {
		name string
		opts []Option
	}{
		{"default", nil},
		{"tiny-cache", []Option{WithCacheSize(4), WithRegexpCacheSize(2)}},
		{"no-cache", []Option{WithCacheSize(0), WithRegexpCacheSize(0)}},
		{"unbounded-regexps", []Option{WithCacheSize(64), WithRegexpCacheSize(-1)}},
		// Changes between two Match rounds outnumber a short log: entries
		// are refreshed or recomputed, both paths exercised.
		{"short-log", []Option{withChangeLog(8), WithRegexpCacheSize(2)}},
	}
	for _, cfg := range configs {
		seeds := uint64(10)
		if testing.Short() || raceEnabled {
			seeds = 3
		}
		for seed := uint64(1); seed <= seeds; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", cfg.name, seed), func(t *testing.T) {
				checkAgainstBruteForce(t, seed, cfg.opts)
			})
		}
	}
}

// withChangeLog sets how many changes the index logs for refreshing cache
// entries (0: none, every stale entry is recomputed).
func withChangeLog(n int) Option {
	return func(c *config) { c.changeLog = n }
}

func checkAgainstBruteForce(t *testing.T, seed uint64, opts []Option) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	ix := NewIndex[int](opts...)
	ref := bruteForce{subs: map[int]map[string]bool{}, compiled: map[string]*Pattern{}}

	pool := make([]string, 80) // shared among sessions
	for i := range pool {
		pool[i] = randExpr(r)
		ref.compiled[pool[i]] = MustCompilePattern(pool[i])
	}
	addrs := make([][]byte, 0, 200)
	for range 120 {
		addrs = append(addrs, []byte(randLit(r, 0, 8)))
	}
	for range 80 { // addresses built around literals that occur in patterns
		addrs = append(addrs, []byte(randLit(r, 0, 2)+strings.ReplaceAll(pool[r.IntN(len(pool))], `\`, "")+randLit(r, 0, 2)))
	}

	const sessions = 12
	for step := range 600 {
		s := r.IntN(sessions)
		switch op := r.IntN(10); {
		case op < 6:
			e := pool[r.IntN(len(pool))]
			added, err := ix.Add(s, e)
			if err != nil {
				t.Fatalf("Add(%d, %q): %v", s, e, err)
			}
			if ref.subs[s] == nil {
				ref.subs[s] = map[string]bool{}
			}
			if added == ref.subs[s][e] {
				t.Fatalf("Add(%d, %q) = %v, already subscribed: %v", s, e, added, ref.subs[s][e])
			}
			ref.subs[s][e] = true
		case op < 9:
			e := pool[r.IntN(len(pool))]
			if got := ix.Remove(s, e); got != ref.subs[s][e] {
				t.Fatalf("Remove(%d, %q) = %v", s, e, got)
			}
			delete(ref.subs[s], e)
			if len(ref.subs[s]) == 0 {
				delete(ref.subs, s)
			}
		default:
			if got := ix.RemoveAll(s); got != len(ref.subs[s]) {
				t.Fatalf("RemoveAll(%d) = %d, want %d", s, got, len(ref.subs[s]))
			}
			delete(ref.subs, s)
		}
		// An address after every change: its cache entry is usually one
		// change old, so it is refreshed from the change log.
		a := addrs[r.IntN(len(addrs))]
		if got, want := ix.Match(a), ref.match(a); !slices.Equal(sorted(got), want) {
			t.Fatalf("step %d: Match(%q) = %v, want %v", step, a, sorted(got), want)
		}
		if step%30 != 29 {
			continue
		}
		wants := make([][]int, len(addrs))
		for i, a := range addrs {
			wants[i] = ref.match(a)
		}
		for round := range 2 { // the second round mostly hits the cache
			for i, a := range addrs {
				got, want := ix.Match(a), wants[i]
				if !slices.Equal(sorted(got), want) {
					t.Fatalf("step %d round %d: Match(%q) = %v, want %v", step, round, a, sorted(got), want)
				}
			}
		}
		checkStats(t, ix, &ref)
	}
}

func checkStats(t *testing.T, ix *Index[int], ref *bruteForce) {
	t.Helper()
	distinct := map[string]bool{}
	nsubs := 0
	for s, exprs := range ref.subs {
		want := make([]string, 0, len(exprs))
		for e := range exprs {
			want = append(want, e)
			distinct[e] = true
		}
		slices.Sort(want)
		if got := ix.Subscriptions(s); !slices.Equal(got, want) {
			t.Fatalf("Subscriptions(%d) = %q, want %q", s, got, want)
		}
		nsubs += len(exprs)
	}
	st := ix.Stats()
	if st.Expressions != len(distinct) || st.Subscriptions != nsubs || st.Sessions != len(ref.subs) {
		t.Fatalf("Stats = %+v; want %d expressions, %d subscriptions, %d sessions",
			st, len(distinct), nsubs, len(ref.subs))
	}
	if n := st.Exact + st.Prefix + st.Suffix + st.Substring + st.Linear + st.Never; n != st.Expressions {
		t.Fatalf("structures hold %d expressions, want %d", n, st.Expressions)
	}
}
