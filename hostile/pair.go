package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/zccp-go/zccp/client"
)

// pair is a well-behaved publisher (100 msg/s, numbered) and subscriber
// that run beside an attack; its loss says whether the attack hurt
// legitimate clients.
type pair struct {
	pub, sub *client.Client
	mu       sync.Mutex
	got      int64
	missed   int64
	sent     int64
	cancel   context.CancelFunc
	done     chan struct{}
}

func startPair(ctx context.Context, ep string) (*pair, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p := &pair{done: make(chan struct{})}
	var err error
	if p.sub, err = client.Connect(cctx, ep, client.WithIdentifier("watch-sub")); err != nil {
		return nil, fmt.Errorf("pair subscriber: %w", err)
	}
	if _, err = p.sub.Subscribe(cctx, `^watch\.`, p.deliver); err != nil {
		return nil, fmt.Errorf("pair subscribe: %w", err)
	}
	if p.pub, err = client.Connect(cctx, ep, client.WithIdentifier("watch-pub")); err != nil {
		return nil, fmt.Errorf("pair publisher: %w", err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	p.cancel = rcancel
	go p.publish(rctx)
	return p, nil
}

func (p *pair) deliver(d *client.Delivery) {
	p.mu.Lock()
	p.got++
	p.missed += int64(d.Missed)
	p.mu.Unlock()
}

func (p *pair) publish(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	body := make([]byte, 64)
	for seq := uint64(0); ; {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		binary.BigEndian.PutUint64(body, seq)
		if p.pub.Publish("watch.tick", nil, body) == nil {
			seq++
			p.mu.Lock()
			p.sent++
			p.mu.Unlock()
		}
	}
}

// stop ends publishing, waits (at most 5 s) for the subscriber to catch
// up, closes both and returns what was sent and received.
func (p *pair) stop() (sent, got int64) {
	p.cancel()
	<-p.done
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		caught := p.got >= p.sent
		p.mu.Unlock()
		if caught {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.pub.Close()
	p.sub.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.got
}
