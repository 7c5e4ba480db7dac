package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/client"
)

// The stable clients: publishers streaming numbered notifications and
// subscribers that must receive every one of them, in order.

type stablePub struct {
	n    int
	c    *client.Client
	next int // next sequence number (owned by run)
}

func newStablePub(ctx context.Context, ep string, n int) (*stablePub, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, ep, client.WithIdentifier(fmt.Sprintf("stable-pub-%d", n)),
		client.WithLabels(map[string]string{"role": "publisher"}))
	if err != nil {
		return nil, err
	}
	return &stablePub{n: n, c: c}, nil
}

// run publishes rate messages per second (in 10 ms steps) until ctx ends;
// a full buffer delays the next sequence number, it never skips one.
func (p *stablePub) run(ctx context.Context, rate, size int) {
	addr := fmt.Sprintf("soak.p%d.", p.n)
	body := make([]byte, max(size, 12))
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	owed := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		owed += float64(rate) / 100
		for ; owed >= 1; owed-- {
			binary.BigEndian.PutUint32(body, uint32(p.n))
			binary.BigEndian.PutUint64(body[4:], uint64(p.next))
			if err := p.c.Publish(addr+fmt.Sprint(p.next%16), nil, body); err != nil {
				break // buffer full: retry this one at the next step
			}
			p.next++
		}
	}
}

type stableSub struct {
	n          int
	c          *client.Client
	mu         sync.Mutex
	last       []int // per publisher
	gaps       int
	reorders   int
	missed     uint64
	directs    atomic.Int64
	reconnects atomic.Int64
}

func newStableSub(ctx context.Context, ep string, n, publishers int) (*stableSub, error) {
	s := &stableSub{n: n, last: make([]int, publishers)}
	for i := range s.last {
		s.last[i] = -1
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, ep, client.WithIdentifier(fmt.Sprintf("stable-sub-%d", n)),
		client.WithLabels(map[string]string{"role": "subscriber"}),
		client.WithDirectHandler(func(*client.Delivery) { s.directs.Add(1) }),
		client.WithStateHandler(func(st client.State) {
			if st == client.Reconnecting {
				s.reconnects.Add(1)
			}
		}))
	if err != nil {
		return nil, err
	}
	s.c = c
	if _, err := c.Subscribe(cctx, `^soak\.p`, s.deliver); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stableSub) deliver(d *client.Delivery) {
	b := d.Body()
	if len(b) < 12 {
		return
	}
	p, seq := int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint64(b[4:]))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missed += d.Missed
	if p >= len(s.last) {
		return
	}
	switch {
	case seq == s.last[p]+1:
	case seq > s.last[p]+1:
		s.gaps += seq - s.last[p] - 1
	default:
		s.reorders++
	}
	s.last[p] = max(s.last[p], seq)
}

func (s *stableSub) caughtUp(final []int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range final {
		if s.last[i] < f {
			return false
		}
	}
	return true
}

func (s *stableSub) check(final []int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var problems []string
	for i, f := range final {
		if s.last[i] != f {
			problems = append(problems, fmt.Sprintf("publisher %d: last %d, want %d", i, s.last[i], f))
		}
	}
	if s.gaps > 0 || s.reorders > 0 || s.missed > 0 {
		problems = append(problems, fmt.Sprintf("%d lost, %d duplicated or reordered, %d reported missed by the broker", s.gaps, s.reorders, s.missed))
	}
	return strings.Join(problems, "; ")
}
