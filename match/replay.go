package match

import "slices"

// The change log lets Match bring a cached result up to date instead of
// recomputing it. Every change (a successful Add, Remove or RemoveAll) is
// one generation; the log keeps the last few, and an entry computed at
// generation g is updated to the current generation G by applying the
// changes g+1..G to its set of sessions, each with the rule below, which
// gives exactly the answer a lookup at G would give:
//
//	Add(s, e)     s joins the result if e matches the address (it may
//	              already be there through another expression);
//	RemoveAll(s)  s leaves the result (none of its expressions are left);
//	Remove(s, e)  nothing changes if s is not in the result or e does not
//	              match; otherwise s may still match through another of
//	              its expressions, so the entry is recomputed.
//
// So a subscription change costs each cached address one cheap check of
// one expression the next time it is published to, instead of a full
// lookup for every cached address (at 100k expressions, a lookup costs
// 1-3 µs and checking a literal expression about 10 ns).

// defaultChangeLog is how many changes the log keeps. An entry more than
// this many changes old is recomputed; replaying is linear in the number
// of changes, so a long log would cost more than a lookup.
const defaultChangeLog = 64

type changeOp uint8

const (
	opAdd changeOp = iota + 1
	opRemove
	opRemoveAll
)

// change is one logged change: session s subscribed to e (opAdd), stopped
// subscribing to e (opRemove), or lost all its subscriptions (opRemoveAll,
// e nil). e may have left the index since; its text and analysis stay
// valid.
type change[S comparable] struct {
	gen uint64
	op  changeOp
	s   S
	e   *expr[S]
}

// replay returns the result for address at generation gen, computed from
// ent (an entry for address at an older generation) and the change log,
// or false if the log does not reach back far enough or a Remove needs a
// lookup. Called with ix.mu held for reading, gen being the current
// generation. The result shares ent.res when nothing changed; otherwise
// it is a new slice.
func (ix *Index[S]) replay(ent *cacheEntry[S], address []byte, gen uint64) ([]S, bool) {
	n := uint64(len(ix.log))
	if n == 0 || gen-ent.gen > n {
		return nil, false
	}
	res, owned := ent.res, false
	var latin latinView
	for g := ent.gen + 1; g <= gen; g++ {
		c := &ix.log[g&(n-1)]
		if c.gen != g {
			return nil, false // not expected: the log holds the last n
		}
		switch c.op {
		case opAdd:
			if !slices.Contains(res, c.s) && c.e.matches(address, &ix.regexps, &latin) {
				if !owned {
					res, owned = slices.Clone(res), true
				}
				res = append(res, c.s)
			}
		case opRemove:
			if slices.Contains(res, c.s) && c.e.matches(address, &ix.regexps, &latin) {
				return nil, false
			}
		case opRemoveAll:
			if i := slices.Index(res, c.s); i >= 0 {
				if !owned {
					res, owned = slices.Clone(res), true
				}
				res = slices.Delete(res, i, i+1)
			}
		}
	}
	if len(res) == 0 {
		return nil, true
	}
	if owned {
		res = slices.Clip(res)
	}
	return res, true
}
