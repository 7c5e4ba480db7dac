package match

import "slices"

// This file answers "which sessions match this address" from the pruning
// structures (the cache-miss path). Everything here runs with Index.mu held
// for reading.

// collector gathers the subscribers of matching expressions, each session
// once.
type collector[S comparable] struct {
	out    []S
	nexprs int
	seen   map[S]struct{} // built once out grows past a few sessions
}

func (c *collector[S]) add(e *expr[S]) {
	c.nexprs++
	if c.nexprs == 1 {
		c.out = e.subs.appendTo(c.out) // one expression's members are distinct
		return
	}
	if e.subs.many == nil {
		if e.subs.has1 {
			c.addOne(e.subs.one)
		}
		return
	}
	for s := range e.subs.many {
		c.addOne(s)
	}
}

// covers reports whether e's one subscriber is already collected, so
// that verifying e cannot change the result: a session with thousands of
// expressions is checked until one of them matches, not through all.
func (c *collector[S]) covers(e *expr[S]) bool {
	if e.subs.many != nil || !e.subs.has1 || len(c.out) == 0 {
		return false
	}
	if c.seen != nil {
		_, ok := c.seen[e.subs.one]
		return ok
	}
	return len(c.out) <= 16 && slices.Contains(c.out, e.subs.one)
}

func (c *collector[S]) addOne(s S) {
	if c.seen == nil {
		if len(c.out) < 16 {
			if !slices.Contains(c.out, s) {
				c.out = append(c.out, s)
			}
			return
		}
		c.seen = make(map[S]struct{}, 2*len(c.out))
		for _, x := range c.out {
			c.seen[x] = struct{}{}
		}
	}
	if _, ok := c.seen[s]; !ok {
		c.seen[s] = struct{}{}
		c.out = append(c.out, s)
	}
}

// gramSeen remembers the n-gram keys already probed for one address, so a
// repeated n-gram does not verify its bucket twice.
type gramSeen struct {
	slot [512]uint64 // key+1; 0 is empty
}

// firstTime reports whether k was not seen before, and records it.
func (g *gramSeen) firstTime(k uint32) bool {
	i := (k * 0x9E3779B1) >> 23
	for {
		switch g.slot[i] {
		case 0:
			g.slot[i] = uint64(k) + 1
			return true
		case uint64(k) + 1:
			return false
		}
		i = (i + 1) & 511
	}
}

// lookup returns the sessions subscribed to an expression that matches
// address, each once, in a new slice (nil if none).
func (ix *Index[S]) lookup(address []byte) []S {
	var c collector[S]
	var latin latinView
	t := &ix.t
	n := len(address)
	rc := &ix.regexps

	verifyList := func(e *expr[S]) {
		for ; e != nil; e = e.next {
			if !c.covers(e) && e.verify(address, rc, &latin) {
				c.add(e)
			}
		}
	}

	if b, ok := t.exact[string(address)]; ok {
		verifyList(b.head)
	}
	for _, l := range t.prefixLens.sorted {
		if l > n {
			break
		}
		if b, ok := t.prefix[string(address[:l])]; ok {
			verifyList(b.head)
		}
	}
	for _, l := range t.suffixLens.sorted {
		if l > n {
			break
		}
		if b, ok := t.suffix[string(address[n-l:])]; ok {
			verifyList(b.head)
		}
	}
	if n <= 256 {
		var seen gramSeen
		for q := 4; q >= 1; q-- {
			m := t.grams[q]
			if len(m) == 0 || n < q {
				continue
			}
			if q < 4 {
				seen = gramSeen{}
			}
			for i := 0; i+q <= n; i++ {
				k := gramKey(address[i:], q)
				if b, ok := m[k]; ok && seen.firstTime(k) {
					verifyList(b.head)
				}
			}
		}
	} else {
		// Longer than any protocol address: too many n-grams for the
		// small seen-table, so probe without it (the collector still
		// keeps sessions unique).
		for q := 4; q >= 1; q-- {
			m := t.grams[q]
			for i := 0; len(m) > 0 && i+q <= n; i++ {
				if b, ok := m[gramKey(address[i:], q)]; ok {
					verifyList(b.head)
				}
			}
		}
	}
	verifyList(t.rest.head)

	if len(c.out) == 0 {
		return nil
	}
	return slices.Clip(c.out)
}
