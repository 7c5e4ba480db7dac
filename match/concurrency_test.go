package match

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentChangesAreVisible runs Match from several goroutines while
// others subscribe and unsubscribe; every writer checks that a Match it
// starts after Add returned sees its session and that a Match it starts
// after Remove/RemoveAll returned does not. Run it with -race.
func TestConcurrentChangesAreVisible(t *testing.T) {
	for _, size := range []int{0, 8, 1024} {
		ix := NewIndex[int](WithCacheSize(size), WithRegexpCacheSize(4))
		for i := range 300 {
			ix.Add(1000+i%30, shapeExpr(i%5, i))
		}
		const writers = 4
		type sub struct{ expr, addr string }
		var subs []sub
		for i := range 40 {
			subs = append(subs, sub{shapeExpr(i%5, i), shapeAddr(i%5, i)})
		}
		subs = append(subs, sub{`.*`, "anything"}, sub{`^(power|temp)\.\w+`, "temp.x"})

		var stop atomic.Bool
		var readers sync.WaitGroup
		for g := range 2 {
			readers.Go(func() {
				for n := g; !stop.Load(); n++ {
					ix.Match([]byte(subs[n%len(subs)].addr))
				}
			})
		}
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range 150 {
					sb := subs[(w*7+i)%len(subs)]
					a := []byte(sb.addr)
					if _, err := ix.Add(w, sb.expr); err != nil {
						t.Error(err)
						return
					}
					if !slices.Contains(ix.Match(a), w) {
						t.Errorf("cache %d: session %d missing right after Add(%q)", size, w, sb.expr)
					}
					if i%3 == 0 {
						ix.RemoveAll(w)
					} else if !ix.Remove(w, sb.expr) {
						t.Errorf("Remove(%d, %q) = false", w, sb.expr)
					}
					if slices.Contains(ix.Match(a), w) {
						t.Errorf("cache %d: removed session %d still matched %q", size, w, a)
					}
				}
			})
		}
		wg.Wait()
		stop.Store(true)
		readers.Wait()
		if st := ix.Stats(); st.Subscriptions != 300 {
			t.Errorf("Subscriptions = %d after the writers left, want 300", st.Subscriptions)
		}
	}
}
