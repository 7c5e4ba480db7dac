package match

// Stats is a snapshot of an [Index]'s size and cache counters.
type Stats struct {
	Expressions   int // distinct expressions
	Subscriptions int // (session, expression) pairs
	Sessions      int // sessions with at least one subscription

	// Where the distinct expressions are filed (they add up to Expressions).
	Exact     int // `^lit$`, answered by one map lookup
	Prefix    int // filed under a literal prefix
	Suffix    int // filed under a literal suffix
	Substring int // filed under an n-gram of a literal they must contain
	Linear    int // no usable literal: checked for every cache miss
	Never     int // can never match (`$`): not filed at all

	// Regexp counts the expressions that need a regexp run to confirm a
	// candidate; the others are answered by byte comparisons alone.
	Regexp          int
	CompiledRegexps int    // regexps held now (-1 if the regexp cache is unbounded)
	RegexpCompiles  uint64 // regexps compiled so far
	RegexpEvictions uint64 // compiled regexps dropped for room

	CacheCapacity int    // result cache slots (0: disabled)
	CacheEntries  int    // filled slots, including stale ones
	CacheLive     int    // entries computed at the current generation
	CacheHits     uint64 // Match calls answered by the cache
	CacheMisses   uint64 // Match calls that consulted the index
	// CacheRefreshes counts Match calls that found the address's entry
	// out of date and brought it up to date by replaying the changes made
	// since (see Index), without consulting the index.
	CacheRefreshes uint64
	CacheEvictions uint64 // live entries replaced to make room
	Generation     uint64 // number of changes so far
}

// Stats returns the current statistics.
func (ix *Index[S]) Stats() Stats {
	ix.mu.RLock()
	st := Stats{
		Expressions:   len(ix.exprs),
		Subscriptions: ix.nsubs,
		Sessions:      len(ix.sessions),
		Exact:         ix.t.byWhere[wExact],
		Prefix:        ix.t.byWhere[wPrefix],
		Suffix:        ix.t.byWhere[wSuffix],
		Substring:     ix.t.byWhere[wGram],
		Linear:        ix.t.byWhere[wRest],
		Never:         ix.t.byWhere[wNone],
		Regexp:        ix.nregexp,
		Generation:    ix.gen.Load(),
	}
	ix.mu.RUnlock()
	st.CompiledRegexps = ix.regexps.resident()
	st.RegexpCompiles = ix.regexps.compiles.Load()
	st.RegexpEvictions = ix.regexps.evicted.Load()
	if c := ix.cache; c != nil {
		st.CacheCapacity = len(c.slots)
		st.CacheEntries, st.CacheLive = c.counts(st.Generation)
		st.CacheHits, st.CacheMisses, st.CacheRefreshes = c.totals()
		st.CacheEvictions = c.evictions.Load()
	}
	return st
}
