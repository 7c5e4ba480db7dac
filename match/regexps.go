package match

import (
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
)

// regexpCache bounds how many expressions keep a compiled *regexp.Regexp
// (2-3.5 KB each). An expression's regexp is compiled the first time a
// candidate address reaches it and stays attached to the expression until
// the cache needs the room: then a resident chosen at random loses its
// regexp (it is compiled again when next needed). Literal expressions never
// have one.
type regexpCache struct {
	limit    int // < 0: unbounded; 0: never keep; > 0: keep at most limit
	mu       sync.Mutex
	slots    []*atomic.Pointer[regexp.Regexp] // residents; guarded by mu
	compiles atomic.Uint64
	evicted  atomic.Uint64
}

// get returns the compiled regexp held in p, compiling text when p is
// empty. It is called by Match with Index.mu held for reading; it takes
// regexpCache.mu only after compiling, to file the result.
func (c *regexpCache) get(p *atomic.Pointer[regexp.Regexp], text string) *regexp.Regexp {
	if re := p.Load(); re != nil {
		return re
	}
	re, err := Compile(text)
	if err != nil {
		return nil // not expected: the text was validated when added
	}
	c.compiles.Add(1)
	if c.limit == 0 {
		return re
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := p.Load(); cur != nil {
		return cur // another goroutine filed it meanwhile
	}
	if c.limit > 0 {
		if len(c.slots) < c.limit {
			c.slots = append(c.slots, p)
		} else {
			i := rand.IntN(len(c.slots))
			c.slots[i].Store(nil)
			c.slots[i] = p
			c.evicted.Add(1)
		}
	}
	p.Store(re)
	return re
}

// drop forgets p's regexp (its expression left the index). The slot, if
// any, is reused later. Called with Index.mu held for writing.
func (c *regexpCache) drop(p *atomic.Pointer[regexp.Regexp]) {
	p.Store(nil)
}

// resident counts the expressions currently holding a regexp (bounded
// caches only; for an unbounded cache it returns -1).
func (c *regexpCache) resident() int {
	if c.limit < 0 {
		return -1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.slots {
		if p.Load() != nil {
			n++
		}
	}
	return n
}
