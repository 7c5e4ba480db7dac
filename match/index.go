package match

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Index holds every session's subscriptions and answers "which sessions
// receive this address".
//
// Identical expressions are stored and analysed once however many sessions
// share them; each session's set of expressions is stored once. S is the
// session handle (an ID or a pointer); it must be comparable.
//
// Concurrency: all methods are safe for concurrent use. Match takes no lock
// on a cache hit (it reads one atomic generation number and at most four
// atomic cache slots); on a miss or a refresh it takes mu for reading.
// Add, Remove and RemoveAll take mu for writing, log the change and bump
// the generation before releasing it, so a Match that starts after one of
// them returns sees its effect.
type Index[S comparable] struct {
	mu  sync.RWMutex
	gen atomic.Uint64 // changed only with mu held for writing

	// Guarded by mu.
	exprs    map[string]*expr[S] // by expression text
	sessions map[S]exprSet[S]
	nsubs    int
	nregexp  int // expressions of kind kRegexp
	t        tables[S]
	log      []change[S] // the last len(log) changes, by generation; see replay

	regexps regexpCache     // compiled regexps, bounded; own lock
	cache   *resultCache[S] // per-address results; nil if disabled; lock-free
}

// NewIndex returns an empty Index.
func NewIndex[S comparable](opts ...Option) *Index[S] {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	ix := &Index[S]{
		exprs:    make(map[string]*expr[S]),
		sessions: make(map[S]exprSet[S]),
		regexps:  regexpCache{limit: cfg.regexpCacheSize},
	}
	ix.t.init()
	if cfg.cacheSize > 0 {
		ix.cache = newResultCache[S](cfg.cacheSize)
		if cfg.changeLog > 0 {
			n := 1
			for n < cfg.changeLog {
				n *= 2
			}
			ix.log = make([]change[S], n)
		}
	}
	return ix
}

// Add subscribes session s to the zrex expression expr. It reports false if
// s already had expr (it is stored once), and an error, and does nothing, if
// expr is not a valid zrex expression.
func (ix *Index[S]) Add(s S, expr string) (added bool, err error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.exprs[expr]
	if e == nil {
		// Translate and analyse outside the lock (a few microseconds) so
		// that readers do not wait for it, then check nobody else added
		// the same expression meanwhile.
		ix.mu.Unlock()
		fresh, err := newExpr[S](expr, ix.regexps.limit < 0)
		ix.mu.Lock()
		if err != nil {
			return false, err
		}
		if e = ix.exprs[expr]; e == nil {
			e = fresh.e
			ix.insertExpr(e, fresh.pl)
			if e.re.Load() != nil {
				ix.regexps.compiles.Add(1)
			}
		}
	}
	if !e.subs.add(s) {
		return false, nil
	}
	set := ix.sessions[s]
	set.add(e)
	ix.sessions[s] = set
	ix.nsubs++
	ix.changed(opAdd, s, e)
	return true, nil
}

type freshExpr[S comparable] struct {
	e  *expr[S]
	pl plan
}

// newExpr translates and analyses text, and compiles its regexp when
// compile is set and it needs one; it touches no shared state.
func newExpr[S comparable](text string, compile bool) (freshExpr[S], error) {
	t, err := translate(text)
	if err != nil {
		return freshExpr[S]{}, err
	}
	pl, err := analyse(t)
	if err != nil {
		return freshExpr[S]{}, &Error{text, err.Error()}
	}
	text = strings.Clone(text) // do not pin the caller's buffer
	// Literals usually appear verbatim in the text; share its bytes.
	pl.lit = shareWith(text, pl.lit)
	pl.prefix = shareWith(text, pl.prefix)
	pl.suffix = shareWith(text, pl.suffix)
	for i, f := range pl.factors {
		pl.factors[i] = shareWith(text, f)
	}
	e := &expr[S]{text: text, kind: pl.kind, anchored: pl.anchored, nullable: pl.nullable}
	if compile && e.kind == kRegexp {
		re, err := Compile(text)
		if err != nil {
			return freshExpr[S]{}, &Error{text, err.Error()}
		}
		e.re.Store(re)
	}
	return freshExpr[S]{e, pl}, nil
}

func shareWith(text, lit string) string {
	if lit == "" {
		return ""
	}
	if i := strings.Index(text, lit); i >= 0 {
		return text[i : i+len(lit)]
	}
	return lit
}

// insertExpr files a new expression. Called with ix.mu held for writing.
func (ix *Index[S]) insertExpr(e *expr[S], pl plan) {
	ix.exprs[e.text] = e
	ix.t.place(e, pl)
	if e.kind == kRegexp {
		ix.nregexp++
	}
}

// removeExpr forgets an expression nobody subscribes to any more. Called
// with ix.mu held for writing.
func (ix *Index[S]) removeExpr(e *expr[S]) {
	var factors []string
	if e.kind == kRegexp {
		// The factors are not stored; derive them again (a few µs).
		if t, err := translate(e.text); err == nil {
			if pl, err := analyse(t); err == nil {
				factors = pl.factors
			}
		}
	}
	ix.t.remove(e, factors)
	delete(ix.exprs, e.text)
	if e.kind == kRegexp {
		ix.nregexp--
		if ix.regexps.limit >= 0 {
			// A bounded cache reuses the room; an expression compiled
			// once keeps its regexp for the change log's replays.
			ix.regexps.drop(&e.re)
		}
	}
}

// Remove cancels session s's subscription to expr and reports whether it
// existed.
func (ix *Index[S]) Remove(s S, expr string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.exprs[expr]
	if e == nil || !e.subs.remove(s) {
		return false
	}
	set := ix.sessions[s]
	set.remove(e)
	if set.len() == 0 {
		delete(ix.sessions, s)
	} else {
		ix.sessions[s] = set
	}
	if e.subs.len() == 0 {
		ix.removeExpr(e)
	}
	ix.nsubs--
	ix.changed(opRemove, s, e)
	return true
}

// RemoveAll cancels every subscription of session s (the session is gone)
// and returns how many there were.
func (ix *Index[S]) RemoveAll(s S) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	set, ok := ix.sessions[s]
	if !ok {
		return 0
	}
	delete(ix.sessions, s)
	n := 0
	remove := func(e *expr[S]) {
		e.subs.remove(s)
		if e.subs.len() == 0 {
			ix.removeExpr(e)
		}
		n++
	}
	if set.many != nil {
		for e := range set.many {
			remove(e)
		}
	} else if set.one != nil {
		remove(set.one)
	}
	ix.nsubs -= n
	ix.changed(opRemoveAll, s, nil)
	return n
}

// changed records a change and starts a new generation. Called with ix.mu
// held for writing.
func (ix *Index[S]) changed(op changeOp, s S, e *expr[S]) {
	gen := ix.gen.Load() + 1
	if len(ix.log) > 0 {
		ix.log[gen&uint64(len(ix.log)-1)] = change[S]{gen: gen, op: op, s: s, e: e}
	}
	ix.gen.Store(gen)
}

// Match returns the sessions that have at least one expression matching
// address, each session once, in no particular order; nil if none.
//
// The returned slice is shared with the cache and with other callers: it
// is READ-ONLY. Match does not allocate when the answer is cached.
func (ix *Index[S]) Match(address []byte) []S {
	c := ix.cache
	if c == nil {
		ix.mu.RLock()
		res := ix.lookup(address)
		ix.mu.RUnlock()
		return res
	}
	h := c.hash(address)
	ent := c.find(h, address)
	if ent != nil && ent.gen == ix.gen.Load() {
		c.stripe().hits.Add(1)
		return ent.res
	}
	ix.mu.RLock()
	gen := ix.gen.Load() // the generation of the state lookup sees
	var res []S
	ok := false
	if ent != nil {
		if ent.gen == gen { // put by another caller meanwhile
			ix.mu.RUnlock()
			c.stripe().hits.Add(1)
			return ent.res
		}
		res, ok = ix.replay(ent, address, gen)
	}
	if !ok {
		res = ix.lookup(address)
	}
	ix.mu.RUnlock()
	key := ""
	if ent != nil {
		key = ent.key // the same address: do not copy it again
		if ok {
			c.stripe().refreshes.Add(1)
		}
	}
	if !ok {
		c.stripe().misses.Add(1)
	}
	c.put(h, address, key, gen, res)
	return res
}

// Has reports whether session s subscribes to expr. Unlike Subscriptions
// it copies nothing: a caller checking one expression against a session
// with thousands pays one map lookup.
func (ix *Index[S]) Has(s S, expr string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.exprs[expr]
	return e != nil && e.subs.has(s)
}

// Subscriptions returns the expressions session s subscribes to, sorted.
func (ix *Index[S]) Subscriptions(s S) []string {
	ix.mu.RLock()
	set := ix.sessions[s]
	es := set.all(nil)
	ix.mu.RUnlock()
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.text
	}
	slices.Sort(out)
	return out
}
