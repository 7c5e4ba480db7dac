package match

import "slices"

// Expressions returns the distinct expressions held by at least one
// session, sorted: an expression shared by many sessions appears once.
// It costs one pass over the distinct expressions, not over every
// subscription.
func (ix *Index[S]) Expressions() []string {
	ix.mu.RLock()
	out := make([]string, 0, len(ix.exprs))
	for text := range ix.exprs {
		out = append(out, text)
	}
	ix.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Generation returns a number that changes whenever a subscription is
// added or removed, so a caller can tell cheaply (one atomic load) that
// Expressions may have changed since it last looked.
func (ix *Index[S]) Generation() uint64 { return ix.gen.Load() }
