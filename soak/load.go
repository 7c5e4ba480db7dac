package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// load is the stable clients and the churn running against the broker
// for -duration.
type load struct {
	ctx       context.Context // ends after -duration, or when the run is interrupted
	stop      context.CancelFunc
	subs      []*stableSub
	pubs      []*stablePub
	pubWG     sync.WaitGroup
	ch        *churner
	churnDone chan struct{}
}

// startLoad connects the stable subscribers, then the stable publishers
// (alternating tcp and ipc), and starts publishing and churning.
func startLoad(ctx context.Context, eps []string) (*load, error) {
	l := &load{subs: make([]*stableSub, *subscribers), pubs: make([]*stablePub, *publishers)}
	for i := range l.subs {
		s, err := newStableSub(ctx, eps[i%2], i, *publishers)
		if err != nil {
			return nil, fmt.Errorf("subscriber %d: %v", i, err)
		}
		l.subs[i] = s
	}
	for i := range l.pubs {
		p, err := newStablePub(ctx, eps[(i+1)%2], i)
		if err != nil {
			return nil, fmt.Errorf("publisher %d: %v", i, err)
		}
		l.pubs[i] = p
	}
	l.ctx, l.stop = context.WithTimeout(ctx, *duration)
	for _, p := range l.pubs {
		l.pubWG.Add(1)
		go func() { defer l.pubWG.Done(); p.run(l.ctx, *rate, *size) }()
	}
	l.ch = &churner{eps: eps, stable: len(l.subs)}
	l.churnDone = make(chan struct{})
	go l.churn()
	return l, nil
}

// churn runs the short-lived clients and the stalled consumers until the
// load ends.
func (l *load) churn() {
	defer close(l.churnDone)
	var wg sync.WaitGroup
	for i := 0; i < *stalled; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered, so that the number of stalled queues at
			// their bound stays the same over time.
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(time.Duration(i) * *stallFor / time.Duration(*stalled)):
			}
			l.ch.stalledLoop(l.ctx, i, *stallFor)
		}()
	}
	l.ch.run(l.ctx, *churn)
	wg.Wait()
}

// windDown lets the short-lived clients finish and the publishers stop,
// checks that every stable subscriber got everything, and closes the
// stable clients.
func (l *load) windDown(fails *failures) {
	logf("load stopped; waiting for the short-lived clients to finish")
	select {
	case <-l.churnDone:
	case <-time.After(30 * time.Second):
		fails.add("short-lived clients still running 30s after the end")
	}
	l.pubWG.Wait()
	final := make([]int, len(l.pubs))
	for i, p := range l.pubs {
		final[i] = p.next - 1
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range l.subs {
		for !s.caughtUp(final) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if msg := s.check(final); msg != "" {
			fails.add("stable subscriber %d: %s", s.n, msg)
		}
	}
	var sent int
	for _, p := range l.pubs {
		sent += p.next
	}
	logf("stable subscribers: %d each received %d messages from %d publishers, in order, none missing", len(l.subs), sent, len(l.pubs))
	for _, p := range l.pubs {
		p.c.Close()
	}
	for _, s := range l.subs {
		if s.reconnects.Load() > 0 {
			fails.add("stable subscriber %d reconnected %d times", s.n, s.reconnects.Load())
		}
		s.c.Close()
	}
}
