package match

import (
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
	"unsafe"
)

// resultCache maps an address to the sessions it was delivered to, tagged
// with the Index generation the answer was computed at. An entry whose
// generation is not the current one is stale: Match brings it up to date
// from the Index's change log, or recomputes it, so no change to the Index
// ever has to walk the cache.
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
	stripes   [counterStripes]counterStripe
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

// counterStripe holds one share of the hit, miss and refresh counts, on
// cache lines of its own. Each goroutine counts in the stripe its stack
// address selects (see stripe), so goroutines matching at the same time on
// different cores do not pass counter lines back and forth: counting every
// hit in one shared place would make parallel hits several times slower
// than the lookup itself.
type counterStripe struct {
	hits, misses, refreshes atomic.Uint64
	_                       [128 - 24]byte
}

// stripe returns the calling goroutine's counter stripe. Goroutine stacks
// are separate memory areas, so the address of a local variable tells
// goroutines apart; a stack that moves (grows) just picks another stripe,
// which changes nothing but the stripe.
func (c *resultCache[S]) stripe() *counterStripe {
	var local byte
	p := uint64(uintptr(unsafe.Pointer(&local)))
	return &c.stripes[(p>>12)*0x9E3779B97F4A7C15>>60]
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

// find returns the entry for address, whatever its generation, or nil.
func (c *resultCache[S]) find(h uint64, address []byte) *cacheEntry[S] {
	set := c.slots[(h&c.setMask)*cacheWays:][:cacheWays]
	for i := range set {
		if e := set[i].Load(); e != nil && e.key == string(address) {
			return e
		}
	}
	return nil
}

// put stores res as the answer for address at generation gen. key is
// string(address) if the caller has it already, or "".
func (c *resultCache[S]) put(h uint64, address []byte, key string, gen uint64, res []S) {
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
	if key == "" {
		key = string(address)
	}
	set[victim].Store(&cacheEntry[S]{key: key, gen: gen, res: res})
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

func (c *resultCache[S]) totals() (hits, misses, refreshes uint64) {
	for i := range c.stripes {
		hits += c.stripes[i].hits.Load()
		misses += c.stripes[i].misses.Load()
		refreshes += c.stripes[i].refreshes.Load()
	}
	return hits, misses, refreshes
}
