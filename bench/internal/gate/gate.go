// Package gate bounds the messages a load generator has in flight: the
// publishers take credit for each delivery they expect, the subscribers
// give it back as deliveries arrive. No queue anywhere (client buffers,
// sockets, broker queues) can then grow past the window, whichever broker
// is measured, and a publisher that has to wait sleeps instead of
// spinning, leaving the CPU to the broker.
package gate

import (
	"sync"
	"sync/atomic"
	"time"
)

// Gate is a credit counter shared by publishers and subscribers.
type Gate struct {
	credit  atomic.Int64
	window  int64
	resume  int64 // a waiting publisher resumes at this much credit
	stall   time.Duration
	waiters atomic.Int32
	stalls  atomic.Uint64

	mu  sync.Mutex
	sig chan struct{} // closed to wake the waiters; guarded by mu
}

// New returns a gate allowing window deliveries in flight. A publisher
// that waits longer than stall without any delivery coming back assumes
// the missing ones were lost (a broker dropped them without saying so),
// restores the full window and counts a stall.
func New(window int64, stall time.Duration) *Gate {
	g := &Gate{window: window, resume: window / 4, stall: stall}
	g.credit.Store(window)
	return g
}

// Acquire takes n credits (n at most half the window), waiting while the
// window is used up; a waiting publisher resumes when three quarters of
// the window are free again, so that it wakes once per many deliveries,
// not once per delivery. Before
// it waits it calls flush (if not nil) so that messages the publisher
// has buffered are on their way.
func (g *Gate) Acquire(n int64, flush func()) {
	if g.credit.Add(-n) >= 0 {
		return
	}
	if flush != nil {
		flush()
	}
	g.waiters.Add(1)
	defer g.waiters.Add(-1)
	t := time.NewTimer(g.stall)
	defer t.Stop()
	last := g.credit.Load()
	for {
		g.mu.Lock()
		c := g.credit.Load()
		if c >= g.resume {
			g.mu.Unlock()
			return
		}
		if g.sig == nil {
			g.sig = make(chan struct{})
		}
		sig := g.sig
		g.mu.Unlock()
		select {
		case <-sig:
		case <-t.C:
			if c := g.credit.Load(); c == last {
				g.credit.Add(g.window - c) // lost deliveries: start afresh
				g.stalls.Add(1)
			} else {
				last = c
			}
			t.Reset(g.stall)
		}
	}
}

// Release gives back n credits (n deliveries arrived, or were reported
// dropped by the broker).
func (g *Gate) Release(n int64) {
	c := g.credit.Add(n)
	if c >= g.resume && g.waiters.Load() > 0 {
		g.mu.Lock()
		if g.sig != nil {
			close(g.sig)
			g.sig = nil
		}
		g.mu.Unlock()
	}
}

// Stalls returns how many times the gate gave up waiting for lost
// deliveries.
func (g *Gate) Stalls() uint64 { return g.stalls.Load() }
