package match

import (
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
)

// resultCache maps an address to the sessions it was delivered to, tagged
// with the Index generation the answer was computed at. An entry whose
// generation is not the current one is stale and counts as a miss, so no
// change to the Index ever has to walk the cache.
//
// Layout and policy: a fixed array of slots, grouped in sets of cacheWays;
// an address may live only in the set its hash selects (4-way
// set-associative, like a CPU cache). A lookup reads at most 4 slots with
// atomic loads: no lock, no allocation. An insertion replaces, in this
// order of preference, the slot already holding the same address, an empty
// slot, a stale slot, or a slot chosen at random. Random replacement has no
// LRU cliff: when addresses cycle through more entries than the cache
// holds, a proportional share of lookups still hits.
//
// Entries are immutable once published; replacing one is an atomic store.
type resultCache[S comparable] struct {
	seed      maphash.Seed
	slots     []atomic.Pointer[cacheEntry[S]]
	setMask   uint64
	_         [64]byte // keep the counters off the line read by every lookup
	hits      [counterStripes]stripedCounter
	misses    [counterStripes]stripedCounter
	evictions atomic.Uint64
}

const (
	cacheWays      = 4
	counterStripes = 16
)

type cacheEntry[S comparable] struct {
	key string
	gen uint64
	res []S
}

// stripedCounter keeps hit and miss counts on separate cache lines, chosen
// by address hash, so goroutines matching different addresses do not
// contend on one counter.
type stripedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

func newResultCache[S comparable](size int) *resultCache[S] {
	sets := 1
	for sets*cacheWays < size {
		sets *= 2
	}
	return &resultCache[S]{
		seed:    maphash.MakeSeed(),
		slots:   make([]atomic.Pointer[cacheEntry[S]], sets*cacheWays),
		setMask: uint64(sets - 1),
	}
}

func (c *resultCache[S]) hash(address []byte) uint64 {
	return maphash.Bytes(c.seed, address)
}

// get returns the cached result for address if it was computed at gen.
func (c *resultCache[S]) get(h uint64, address []byte, gen uint64) ([]S, bool) {
	set := c.slots[(h&c.setMask)*cacheWays:][:cacheWays]
	for i := range set {
		if e := set[i].Load(); e != nil && e.gen == gen && e.key == string(address) {
			c.hits[h>>60].n.Add(1)
			return e.res, true
		}
	}
	c.misses[h>>60].n.Add(1)
	return nil, false
}

// put stores res as the answer for address at generation gen.
func (c *resultCache[S]) put(h uint64, address []byte, gen uint64, res []S) {
	set := c.slots[(h&c.setMask)*cacheWays:][:cacheWays]
	victim, rank := -1, 4
	for i := range set {
		e := set[i].Load()
		r := 3 // live entry for another address
		switch {
		case e == nil:
			r = 1
		case e.key == string(address):
			r = 0
		case e.gen != gen:
			r = 2
		}
		if r < rank {
			victim, rank = i, r
		}
	}
	if rank == 3 {
		victim = rand.IntN(cacheWays)
		c.evictions.Add(1)
	}
	set[victim].Store(&cacheEntry[S]{key: string(address), gen: gen, res: res})
}

// counts returns the number of filled slots and of those computed at gen.
func (c *resultCache[S]) counts(gen uint64) (filled, live int) {
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil {
			filled++
			if e.gen == gen {
				live++
			}
		}
	}
	return filled, live
}

func (c *resultCache[S]) totals() (hits, misses uint64) {
	for i := range c.hits {
		hits += c.hits[i].n.Load()
		misses += c.misses[i].n.Load()
	}
	return hits, misses
}
