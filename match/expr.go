package match

import (
	"bytes"
	"regexp"
	"sync/atomic"
)

// expr is one distinct expression in an Index, shared by all sessions that
// subscribe to it. Its fields are written with Index.mu held for writing and
// read with it held for reading, except re, which the regexp cache sets and
// clears atomically while readers hold Index.mu.RLock.
type expr[S comparable] struct {
	text string // the zrex expression (shares its bytes with the map key)
	// lit is the literal that answers a literal kind, or, for kRegexp, the
	// literal the expression is filed under (its prefix, suffix or factor).
	lit        string
	prev, next *expr[S] // neighbours in the bucket that holds the expr
	subs       members[S]
	re         atomic.Pointer[regexp.Regexp] // kRegexp: compiled at Add (default) or lazily and evictable (bounded cache)
	gram       uint32                        // where == wGram: the n-gram key
	kind       kind
	where      where
	q          uint8 // where == wGram: n-gram length 1..4
	anchored   bool  // zrex tries offset 0 only
	nullable   bool  // can match the empty string
}

// verify reports whether e matches address, given that the key e is filed
// under was found in address (exactly for wExact/wPrefix/wSuffix, as an
// n-gram for wGram, not at all for wRest). latin is the Latin-1 view of the
// address for the regexp, computed on first use. Called with Index.mu held
// for reading.
func (e *expr[S]) verify(address []byte, rc *regexpCache, latin *latinView) bool {
	if len(address) == 0 && !e.anchored {
		return false
	}
	switch e.kind {
	case kEqual:
		return string(address) == e.lit
	case kPrefix:
		return hasPrefix(address, e.lit)
	case kSuffix:
		return hasSuffix(address, e.lit)
	case kContains:
		return contains(address, e.lit)
	case kRegexp:
		if e.where == wGram && !contains(address, e.lit) {
			return false
		}
		re := rc.get(&e.re, e.text)
		if re == nil {
			return false
		}
		in := latin.get(address)
		if e.nullable && !e.anchored {
			loc := re.FindIndex(in)
			return loc != nil && loc[0] < len(in)
		}
		return re.Match(in)
	}
	return false
}

// matches reports whether e matches address, on its own (unlike verify it
// does not assume that the key e is filed under was found). e may have
// left the index: it then uses the regexp compiled when it was added
// (the default), or compiles one for this call only. Called with Index.mu held for reading.
func (e *expr[S]) matches(address []byte, rc *regexpCache, latin *latinView) bool {
	if e.kind != kRegexp {
		return e.verify(address, rc, latin) // literal kinds: an exact check
	}
	switch e.where {
	case wPrefix:
		if !hasPrefix(address, e.lit) {
			return false
		}
	case wSuffix:
		if !hasSuffix(address, e.lit) {
			return false
		}
	case wNone: // removed from the index
		if len(address) == 0 && !e.anchored {
			return false
		}
		if e.lit != "" && !contains(address, e.lit) {
			return false // lit is a literal every match contains
		}
		re := e.re.Load()
		if re == nil {
			var err error
			if re, err = Compile(e.text); err != nil {
				return false
			}
		}
		return zrexSearch(re, e.anchored, e.nullable, address)
	}
	return e.verify(address, rc, latin)
}

// The helpers below compare without converting lit to []byte (which would
// copy it on every call); string(b) == s does not allocate.

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}

func contains(b []byte, s string) bool {
	if len(s) == 0 {
		return true
	}
	for len(b) >= len(s) {
		i := bytes.IndexByte(b[:len(b)-len(s)+1], s[0])
		if i < 0 {
			return false
		}
		if string(b[i:i+len(s)]) == s {
			return true
		}
		b = b[i+1:]
	}
	return false
}

// latinView computes the Latin-1 view of one address at most once.
type latinView struct {
	done bool
	b    []byte
}

func (l *latinView) get(address []byte) []byte {
	if !l.done {
		l.b = Latin1(nil, address)
		l.done = true
	}
	return l.b
}
