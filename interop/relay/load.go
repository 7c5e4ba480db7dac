package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/zmtp"
)

// subscriber is one load-client subscriber connection.
type subscriber struct {
	l     *load
	d     *zmtp.Dealer
	ready atomic.Bool  // the relay acknowledged SUB
	got   atomic.Int64 // data messages received
	bad   atomic.Int64 // data messages out of sequence
	next  uint64       // expected sequence number (reader goroutine only)
}

func (s *subscriber) onMessage(frames [][]byte) {
	if !s.ready.Load() {
		if len(frames) == 1 && string(frames[0]) == "ok" {
			s.ready.Store(true)
		}
		return
	}
	if len(frames) != 1 || len(frames[0]) < 8 {
		s.bad.Add(1)
		return
	}
	if seq := binary.BigEndian.Uint64(frames[0]); seq != s.next {
		s.bad.Add(1)
		s.next = seq + 1
	} else {
		s.next++
	}
	n := s.got.Add(1)
	if t := s.l.target.Load(); t >= 0 && n > t {
		select {
		case s.l.wake <- struct{}{}:
		default:
		}
	}
}

// load is the pure-Go load client: one publisher, N subscribers.
type load struct {
	cfg  Config
	pub  *zmtp.Dealer
	subs []*subscriber
	sent int64 // messages published so far
	msg  []byte

	// The publisher waiting for subscribers sets target; a subscriber
	// whose count passes it wakes the publisher, which checks them all.
	target atomic.Int64 // -1: nobody waits
	wake   chan struct{}
}

// dealerOptions are the load client's connection options: queues large
// enough for a whole window.
func dealerOptions() zmtp.DealerOptions {
	return zmtp.DealerOptions{
		ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 100 * time.Millisecond,
	}
}

// newLoad connects the subscribers, waits for the relay to acknowledge
// them, then connects the publisher.
func newLoad(ctx context.Context, endpoint string, cfg Config) (*load, error) {
	l := &load{cfg: cfg, msg: make([]byte, cfg.MessageSize), wake: make(chan struct{}, 1)}
	l.target.Store(-1)
	for i := range l.msg[8:] {
		l.msg[8+i] = byte(i)
	}
	for range cfg.Subscribers {
		s := &subscriber{l: l}
		opts := dealerOptions()
		opts.OnMessage = s.onMessage
		d, err := zmtp.NewDealer(endpoint, opts)
		if err != nil {
			l.close()
			return nil, err
		}
		s.d = d
		d.Start()
		l.subs = append(l.subs, s)
		if err := d.Send([]byte("SUB")); err != nil {
			l.close()
			return nil, err
		}
	}
	if err := waitFor(ctx, 10*time.Second, func() bool {
		for _, s := range l.subs {
			if !s.ready.Load() {
				return false
			}
		}
		return true
	}); err != nil {
		l.close()
		return nil, fmt.Errorf("subscribers not acknowledged: %w", err)
	}
	pub, err := zmtp.NewDealer(endpoint, dealerOptions())
	if err != nil {
		l.close()
		return nil, err
	}
	l.pub = pub
	pub.Start()
	if err := waitFor(ctx, 10*time.Second, func() bool { return pub.Conn() != nil }); err != nil {
		l.close()
		return nil, fmt.Errorf("publisher not connected: %w", err)
	}
	return l, nil
}

func (l *load) close() {
	if l.pub != nil {
		l.pub.Close(time.Second)
	}
	for _, s := range l.subs {
		s.d.Close(time.Second)
	}
}

// minGot returns the smallest number of messages any subscriber received.
func (l *load) minGot() int64 {
	m := int64(-1)
	for _, s := range l.subs {
		if g := s.got.Load(); m < 0 || g < m {
			m = g
		}
	}
	return m
}

// flushEvery is how many messages the publisher appends between wake-ups
// of its writer.
const flushEvery = 64

// publish sends up to n messages (0: no limit) for up to d (0: no limit),
// never more than the window ahead of the slowest subscriber, and returns
// how many it sent.
func (l *load) publish(ctx context.Context, n int, d time.Duration) (int, error) {
	ob := l.pub.Outbox()
	size := zmtp.FrameHeaderSize(len(l.msg)) + len(l.msg)
	window := int64(l.cfg.Window)
	var end time.Time
	if d > 0 {
		end = time.Now().Add(d)
	}
	sent := 0
	for n <= 0 || sent < n {
		if sent%flushEvery == 0 {
			if !end.IsZero() && time.Now().After(end) {
				break
			}
			if l.sent-l.minGot() >= window {
				ob.Flush()
				if err := l.waitBelow(ctx, l.sent-window/2); err != nil {
					return sent, err
				}
			}
		}
		binary.BigEndian.PutUint64(l.msg, uint64(l.sent))
		_, err := ob.Append(size, zmtp.Command, func(b []byte) []byte { return zmtp.AppendFrame(b, l.msg, false) })
		if errors.Is(err, zmtp.ErrQueueFull) {
			ob.Flush()
			time.Sleep(20 * time.Microsecond)
			continue
		}
		if err != nil {
			return sent, err
		}
		l.sent++
		sent++
	}
	ob.Flush()
	return sent, nil
}

// stallTimeout is how long the load client waits for a subscriber that
// makes no progress at all before declaring messages lost.
const stallTimeout = 10 * time.Second

// waitBelow waits until every subscriber has received more than target
// messages (all published messages when target is l.sent-1). It sleeps
// until a subscriber passes the target rather than polling: a timer sleep
// lasts about a millisecond here, long enough to drain the pipeline.
func (l *load) waitBelow(ctx context.Context, target int64) error {
	defer l.target.Store(-1)
	last, since := l.minGot(), time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		l.target.Store(target)
		m := l.minGot()
		if m > target {
			return nil
		}
		select {
		case <-l.wake:
		case <-tick.C:
			if m != last {
				last, since = m, time.Now()
			} else if time.Since(since) > stallTimeout {
				return fmt.Errorf("subscribers stuck at %d of %d messages (relay lost messages?)", m, l.sent)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitAll waits until every subscriber has received every message.
func (l *load) waitAll(ctx context.Context) error { return l.waitBelow(ctx, l.sent-1) }

// disorder returns the number of out-of-sequence messages seen.
func (l *load) disorder() int64 {
	var n int64
	for _, s := range l.subs {
		n += s.bad.Load()
	}
	return n
}

// waitFor polls cond until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// endpointFor returns the endpoint a relay child should bind.
func endpointFor(transport string) string {
	if transport == "ipc" {
		return fmt.Sprintf("ipc://@/zccp-relay-%d-%x", os.Getpid(), rand.Uint64())
	}
	return "tcp://127.0.0.1:0"
}

// Run starts the relay in a child process, drives it with the load
// client, and returns what it measured.
func Run(cfg Config) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	ch, err := startChild(ctx, cfg, endpointFor(cfg.Transport))
	if err != nil {
		return Result{}, err
	}
	res, err := drive(ctx, cfg, ch)
	if serr := ch.stop(); err == nil && serr != nil {
		err = serr
	}
	return res, err
}

// drive runs the load against a started child.
func drive(ctx context.Context, cfg Config, ch *child) (Result, error) {
	l, err := newLoad(ctx, ch.endpoint, cfg)
	if err != nil {
		return Result{}, err
	}
	defer l.close()
	if cfg.Warmup > 0 {
		if _, err := l.publish(ctx, cfg.Warmup, 0); err != nil {
			return Result{}, fmt.Errorf("warm-up: %w", err)
		}
		if err := l.waitAll(ctx); err != nil {
			return Result{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	before := l.minGot()
	cpu0, err := ch.cpu()
	if err != nil {
		return Result{}, err
	}
	cu0, cs0 := selfCPU()
	if cfg.OnStart != nil {
		cfg.OnStart()
	}
	t0 := time.Now()
	n, err := l.publish(ctx, cfg.Messages, cfg.Duration)
	if err == nil {
		err = l.waitAll(ctx)
	}
	elapsed := time.Since(t0)
	if cfg.OnStop != nil {
		cfg.OnStop()
	}
	if err != nil {
		return Result{}, err
	}
	cu1, cs1 := selfCPU()
	cpu1, err := ch.cpu()
	if err != nil {
		return Result{}, err
	}
	if bad := l.disorder(); bad != 0 {
		return Result{}, fmt.Errorf("%d messages out of sequence", bad)
	}
	var delivered int64
	for _, s := range l.subs {
		delivered += s.got.Load()
	}
	delivered -= before * int64(len(l.subs))
	return Result{
		Config:         cfg,
		Published:      n,
		Deliveries:     delivered,
		Elapsed:        elapsed,
		RelayUser:      cpu1.user - cpu0.user,
		RelaySys:       cpu1.sys - cpu0.sys,
		ClientCPU:      (cu1 + cs1) - (cu0 + cs0),
		RelayForwarded: cpu1.forwarded - cpu0.forwarded,
		RelayStalls:    cpu1.stalls - cpu0.stalls,
	}, nil
}
