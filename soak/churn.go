package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// The short-lived clients: every way a client can come and go, and the
// stalled consumers that keep the drop-oldest path busy.

type churner struct {
	eps     []string
	stable  int
	started atomic.Int64
	active  atomic.Int64
	failed  atomic.Int64
	seq     atomic.Int64

	stalledMissed atomic.Int64 // zccp-missed reported to the stalled consumers
}

// maxChurning bounds the short-lived clients alive at once.
const maxChurning = 400

func (ch *churner) run(ctx context.Context, perSecond float64) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if perSecond <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ch.active.Load() >= maxChurning {
			continue
		}
		n := ch.seq.Add(1)
		ch.started.Add(1)
		ch.active.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.active.Add(-1)
			if err := ch.one(n); err != nil {
				ch.failed.Add(1)
				if ch.failed.Load() <= 5 {
					logf("short-lived client %d: %v", n, err)
				}
			}
		}()
	}
}

func between(lo, hi time.Duration) time.Duration { return lo + rand.N(hi-lo+1) }

var exprs = []string{`^soak\.p0\.`, `^soak\.p1\.1`, `rack\d`, `^nothing$`, `soak\.p.\.7`, `^\$zccp\.presence\.`, `(a|b)+c`}

// one runs one short-lived client with a random behaviour.
func (ch *churner) one(n int64) error {
	ep := ch.eps[n%2]
	ident := fmt.Sprintf("churn-%d", n)
	switch r := rand.IntN(100); {
	case r < 30: // polite: the Go client, a few subscriptions, GOODBYE
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := client.Connect(ctx, ep, client.WithIdentifier(ident), client.WithLabels(map[string]string{"role": "churn"}))
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 1+rand.IntN(3); i++ {
			if _, err := c.Subscribe(ctx, exprs[rand.IntN(len(exprs))], func(*client.Delivery) {}); err != nil {
				return err
			}
		}
		time.Sleep(between(200*time.Millisecond, 2*time.Second))
		return nil
	case r < 45: // DIRECTs to a stable subscriber and to nobody
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := client.Connect(ctx, ep, client.WithIdentifier(ident), client.WithErrorHandler(func(error) {}))
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 10; i++ {
			c.Send(fmt.Sprintf("stable-sub-%d", rand.IntN(max(ch.stable, 1))), nil, []byte("hello"))
			c.Send("nobody-"+ident, nil, []byte("lost"))
		}
		time.Sleep(between(50*time.Millisecond, 500*time.Millisecond))
		return nil
	case r < 65: // abrupt: subscribe, then drop the socket without GOODBYE
		c, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.hello(ident); err != nil {
			return err
		}
		for i := 0; i < 2; i++ {
			if err := c.subscribe(exprs[rand.IntN(len(exprs))]); err != nil {
				return err
			}
		}
		time.Sleep(between(100*time.Millisecond, time.Second))
		return nil
	case r < 80: // silent: never answers PING; expired by the broker
		c, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.hello(ident); err != nil {
			return err
		}
		if err := c.subscribe(`rack\d`); err != nil {
			return err
		}
		time.Sleep(brokerTimeout + between(500*time.Millisecond, 2*time.Second))
		return nil
	case r < 90: // hostile: garbage, out-of-sequence and refused commands
		c, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer c.close()
		garbage := [][][]byte{
			{{0xAA, 0xAB, 5}}, {{0xAA, 0xAA, 99}}, {{}}, {{0xAA, 0xAA, 8}, []byte("x")},
		}
		c.send(codec.Message{ID: codec.Publish, Address: "before-hello"})
		c.hello(ident)
		c.send(codec.Message{ID: codec.Subscribe, Expression: "rack[12"})
		c.send(codec.Message{ID: codec.Publish, Address: "$zccp.x"})
		c.send(codec.Message{ID: codec.Deliver, Sender: "x", Address: "y"})
		c.hello(ident)
		for _, g := range garbage {
			c.c.Send(g...)
		}
		c.send(codec.Message{ID: codec.Hello, Identifier: ident})
		c.drainFor(between(50*time.Millisecond, 300*time.Millisecond))
		// And one peer that is not ZMTP at all.
		if nc, err := zmtp.Dial(context.Background(), ep); err == nil {
			nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
			nc.Close()
		}
		return nil
	default: // takeover: a second session claims the identifier
		a, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer a.close()
		if err := a.hello(ident); err != nil {
			return err
		}
		a.subscribe(`rack\d`)
		b, err := rawDial(ch.eps[(n+1)%2])
		if err != nil {
			return err
		}
		defer b.close()
		if err := b.hello(ident); err != nil {
			return err
		}
		a.drainFor(between(50*time.Millisecond, 300*time.Millisecond))
		b.send(codec.Message{ID: codec.Goodbye})
		b.drainFor(50 * time.Millisecond)
		return nil
	}
}

// stalledLoop keeps one consumer that subscribes to everything and never
// reads, replacing it every hold, until ctx ends.
func (ch *churner) stalledLoop(ctx context.Context, slot int, hold time.Duration) {
	for n := 0; ctx.Err() == nil; n++ {
		ch.started.Add(1)
		c, err := rawDial(ch.eps[n%2])
		if err == nil {
			if err = c.hello(fmt.Sprintf("stalled-%d-%d", slot, n)); err == nil {
				err = c.subscribe(`^soak\.`)
			}
		}
		if err != nil {
			ch.failed.Add(1)
			logf("stalled consumer %d/%d: %v", slot, n, err)
		}
		// It never reads, but it keeps its session alive (a client PING
		// now and then): otherwise the broker would expire it long before
		// its queue overflows.
		end := time.After(hold)
		beat := time.NewTicker(500 * time.Millisecond)
	stall:
		for {
			select {
			case <-ctx.Done():
				break stall
			case <-end:
				break stall
			case <-beat.C:
				if c != nil {
					c.send(codec.Message{ID: codec.Ping})
				}
			}
		}
		beat.Stop()
		if c != nil {
			// Read what is left: the drops are reported with zccp-missed.
			got, missed := c.missedWithin(time.Second)
			if *verbose {
				logf("stalled %d/%d read %d messages, missed %d", slot, n, got, missed)
			}
			ch.stalledMissed.Add(missed)
			c.close()
		}
	}
}
