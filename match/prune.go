package match

import (
	"encoding/binary"
	"slices"
)

// This file holds the structures that let a cache miss look at only the
// expressions that can match (the candidates):
//
//	exact   map: literal          -> expressions `^lit$`
//	prefix  map: literal          -> expressions `^lit`, and regexps whose
//	                                 matches all start with lit
//	suffix  map: literal          -> expressions `lit$`, and regexps whose
//	                                 matches all end with lit
//	grams   4 maps: 1..4-byte key -> expressions `lit` (substring), and
//	                                 regexps that need a literal factor,
//	                                 filed under their rarest n-gram
//	rest    list                  -> everything else (scanned linearly)
//
// Each expression is in exactly one bucket, under one key, so it is
// verified at most once per address. Buckets are intrusive doubly linked
// lists through expr.prev/next. Everything here is guarded by Index.mu.

type where uint8

const (
	wNone where = iota // not indexed (kNever)
	wExact
	wPrefix
	wSuffix
	wGram
	wRest
)

// bucket is the list of expressions filed under one key.
type bucket[S comparable] struct {
	head *expr[S]
	n    int32
}

func (b *bucket[S]) push(e *expr[S]) {
	e.prev, e.next = nil, b.head
	if b.head != nil {
		b.head.prev = e
	}
	b.head = e
	b.n++
}

func (b *bucket[S]) unlink(e *expr[S]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		b.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
	b.n--
}

// lengths tracks which key lengths are in use in a prefix or suffix map, so
// a lookup probes one map entry per length in use.
type lengths struct {
	count  [slreDataMax + 1]int32
	sorted []int // lengths with count > 0, ascending
}

func (l *lengths) add(n int) {
	if l.count[n]++; l.count[n] == 1 {
		i, _ := slices.BinarySearch(l.sorted, n)
		l.sorted = slices.Insert(l.sorted, i, n)
	}
}

func (l *lengths) remove(n int) {
	if l.count[n]--; l.count[n] == 0 {
		i, _ := slices.BinarySearch(l.sorted, n)
		l.sorted = slices.Delete(l.sorted, i, i+1)
	}
}

type tables[S comparable] struct {
	exact      map[string]bucket[S]
	prefix     map[string]bucket[S]
	suffix     map[string]bucket[S]
	grams      [5]map[uint32]bucket[S] // by n-gram length 1..4
	rest       bucket[S]
	freq       gramFreq
	prefixLens lengths
	suffixLens lengths
	byWhere    [wRest + 1]int // expressions per structure (for Stats)
}

func (t *tables[S]) init() {
	t.freq = make(gramFreq, gramFreqSize)
	t.exact = make(map[string]bucket[S])
	t.prefix = make(map[string]bucket[S])
	t.suffix = make(map[string]bucket[S])
	for q := 1; q <= 4; q++ {
		t.grams[q] = make(map[uint32]bucket[S])
	}
}

// gramKey packs the first q (1..4) bytes of b.
func gramKey(b []byte, q int) uint32 {
	if q == 4 {
		return binary.LittleEndian.Uint32(b)
	}
	var k uint32
	for i := q - 1; i >= 0; i-- {
		k = k<<8 | uint32(b[i])
	}
	return k
}

// keyPenalty estimates how much less selective a key of n bytes is than a
// 4-byte one; it is added to the bucket size when choosing where to file a
// regexp expression.
func keyPenalty(n int) int {
	switch {
	case n >= 4:
		return 0
	case n == 3:
		return 8
	case n == 2:
		return 64
	}
	return 512
}

// gramFreq estimates, for each n-gram, how many filed literals (substring
// literals and regexp factors, whatever they are filed under) contain it:
// a fixed array of counters indexed by a hash of the n-gram, so it costs
// the same at 10 or 100k expressions; collisions only overestimate. A
// literal is filed under its n-gram with the lowest estimate, so a part
// that many expressions share (like "temp.node") is not used as a key
// while a rarer part (like ".r4711") is available.
type gramFreq []uint32

const gramFreqSize = 1 << 16

func gramSlot(k uint32, q int) uint32 {
	return (k*0x9E3779B1 ^ uint32(q)*0x85EBCA77) >> 16
}

// adjust adds delta (1, or ^uint32(0) for -1) for every n-gram of lit.
func (f gramFreq) adjust(lit string, delta uint32) {
	q := min(len(lit), 4)
	b := []byte(lit)
	for i := 0; i+q <= len(b); i++ {
		f[gramSlot(gramKey(b[i:], q), q)] += delta
	}
}

// bestGram returns the n-gram of lit (non-empty) with the lowest estimated
// frequency, and its cost.
func (t *tables[S]) bestGram(lit string) (key uint32, q int, cost int) {
	q = min(len(lit), 4)
	cost = -1
	b := []byte(lit)
	for i := 0; i+q <= len(b); i++ {
		k := gramKey(b[i:], q)
		c := int(t.freq[gramSlot(k, q)]) + keyPenalty(q)
		if cost < 0 || c < cost {
			key, cost = k, c
		}
	}
	return key, q, cost
}

// place files e (whose kind and literals come from pl) in one structure.
func (t *tables[S]) place(e *expr[S], pl plan) {
	switch e.kind {
	case kEqual:
		t.putString(t.exact, nil, wExact, e, pl.lit)
	case kPrefix:
		t.putString(t.prefix, &t.prefixLens, wPrefix, e, pl.lit)
	case kSuffix:
		t.putString(t.suffix, &t.suffixLens, wSuffix, e, pl.lit)
	case kContains:
		if pl.lit == "" {
			t.putRest(e)
			return
		}
		t.freq.adjust(pl.lit, 1)
		k, q, _ := t.bestGram(pl.lit)
		t.putGram(e, pl.lit, k, q)
	case kRegexp:
		const none = int(^uint(0) >> 1)
		best, choice := none, wRest
		var gk uint32
		var gq int
		var glit string
		if pl.prefix != "" {
			best, choice = int(t.prefix[pl.prefix].n)+keyPenalty(len(pl.prefix)), wPrefix
		}
		if pl.suffix != "" {
			if c := int(t.suffix[pl.suffix].n) + keyPenalty(len(pl.suffix)); c < best {
				best, choice = c, wSuffix
			}
		}
		for _, f := range pl.factors {
			t.freq.adjust(f, 1)
		}
		for _, f := range pl.factors {
			if k, q, c := t.bestGram(f); c < best {
				best, choice, gk, gq, glit = c, wGram, k, q, f
			}
		}
		switch choice {
		case wPrefix:
			t.putString(t.prefix, &t.prefixLens, wPrefix, e, pl.prefix)
		case wSuffix:
			t.putString(t.suffix, &t.suffixLens, wSuffix, e, pl.suffix)
		case wGram:
			t.putGram(e, glit, gk, gq)
		default:
			t.putRest(e)
		}
	default: // kNever
		e.where = wNone
		t.byWhere[wNone]++
	}
}

func (t *tables[S]) putString(m map[string]bucket[S], l *lengths, w where, e *expr[S], key string) {
	b := m[key]
	b.push(e)
	m[key] = b
	if l != nil && b.n == 1 {
		l.add(len(key))
	}
	e.lit, e.where = key, w
	t.byWhere[w]++
}

func (t *tables[S]) putGram(e *expr[S], lit string, k uint32, q int) {
	b := t.grams[q][k]
	b.push(e)
	t.grams[q][k] = b
	e.lit, e.gram, e.q, e.where = lit, k, uint8(q), wGram
	t.byWhere[wGram]++
}

func (t *tables[S]) putRest(e *expr[S]) {
	t.rest.push(e)
	e.where = wRest
	t.byWhere[wRest]++
}

// remove takes e out of its structure; factors are the regexp factors
// place was given for e (nil for other kinds).
func (t *tables[S]) remove(e *expr[S], factors []string) {
	t.byWhere[e.where]--
	if e.kind == kContains && e.lit != "" {
		t.freq.adjust(e.lit, ^uint32(0))
	}
	for _, f := range factors {
		t.freq.adjust(f, ^uint32(0))
	}
	switch e.where {
	case wExact:
		t.dropString(t.exact, nil, e)
	case wPrefix:
		t.dropString(t.prefix, &t.prefixLens, e)
	case wSuffix:
		t.dropString(t.suffix, &t.suffixLens, e)
	case wGram:
		m := t.grams[e.q]
		b := m[e.gram]
		b.unlink(e)
		if b.n == 0 {
			delete(m, e.gram)
		} else {
			m[e.gram] = b
		}
	case wRest:
		t.rest.unlink(e)
	}
	e.where = wNone
}

func (t *tables[S]) dropString(m map[string]bucket[S], l *lengths, e *expr[S]) {
	b := m[e.lit]
	b.unlink(e)
	if b.n == 0 {
		delete(m, e.lit)
		if l != nil {
			l.remove(len(e.lit))
		}
	} else {
		m[e.lit] = b
	}
}
