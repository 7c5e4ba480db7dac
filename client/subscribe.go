package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/match"
)

// Subscription is one Subscribe call: an expression and where its
// deliveries go. Cancel it to stop.
type Subscription struct {
	c       *Client
	expr    string
	handler Handler
	ch      chan<- *Delivery
	last    bool // SubscribeLast: ask for the last values first (retain.go)

	mu      sync.Mutex
	queue   []*Delivery   // waiting for the handler; guarded by mu
	wake    chan struct{} // cap 1
	done    chan struct{} // closed when the handler goroutine exits
	stopped bool          // guarded by mu

	delivered atomic.Uint64
	dropped   atomic.Uint64
	cancelled atomic.Bool
}

// Expression returns the subscription's expression.
func (s *Subscription) Expression() string { return s.expr }

// Delivered returns how many deliveries were handed to the handler or
// channel.
func (s *Subscription) Delivered() uint64 { return s.delivered.Load() }

// Dropped returns how many deliveries were dropped because the handler or
// channel fell behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Subscribe asks the broker for every message published to an address
// that matches expr (a zrex regular expression, unanchored: `^power\.`
// for a prefix), and calls h for each, in order, on a goroutine of the
// subscription's own. Several subscriptions may match one address: each
// gets the delivery once, and the broker sends it once. It waits for the
// broker's SUBSCRIBE-OK; a bad expression fails here, before anything is
// sent.
func (c *Client) Subscribe(ctx context.Context, expr string, h Handler) (*Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("zccp: Subscribe: nil handler")
	}
	return c.subscribe(ctx, newSubscription(c, expr, h, nil))
}

// SubscribeChan is Subscribe delivering into ch. Deliveries that do not
// fit into ch at once are dropped and counted (see Dropped).
func (c *Client) SubscribeChan(ctx context.Context, expr string, ch chan<- *Delivery) (*Subscription, error) {
	if ch == nil {
		return nil, fmt.Errorf("zccp: SubscribeChan: nil channel")
	}
	return c.subscribe(ctx, newSubscription(c, expr, nil, ch))
}

func newSubscription(c *Client, expr string, h Handler, ch chan<- *Delivery) *Subscription {
	s := &Subscription{c: c, expr: expr, handler: h, ch: ch, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if h != nil {
		go s.run()
	} else {
		close(s.done)
	}
	return s
}

func (c *Client) subscribe(ctx context.Context, s *Subscription) (*Subscription, error) {
	if len(s.expr) > codec.MaxString {
		s.stop()
		return nil, fmt.Errorf("%w: expression is %d bytes", ErrStringTooBig, len(s.expr))
	}
	// Check the expression here, in the broker's dialect, so that a typo
	// is an immediate error rather than a round trip.
	if _, err := match.Translate(s.expr); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w: %w", ErrBadExpr, err)
	}
	if _, err := c.indexFor(s.expr).Add(s, s.expr); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w: %w", ErrBadExpr, err)
	}
	c.mu.Lock()
	if c.state == Closed {
		c.mu.Unlock()
		c.indexFor(s.expr).Remove(s, s.expr)
		s.stop()
		return nil, ErrClosed
	}
	c.subs[s] = struct{}{}
	c.exprs[s.expr]++
	if (c.exprs[s.expr] > 1 && !s.last) || c.state != Connected {
		// Already subscribed on the broker, or not connected: the next
		// connection's re-subscription covers it. SubscribeLast on an
		// expression already held subscribes again for the last values
		// (the broker keeps the expression once).
		c.mu.Unlock()
		return s, nil
	}
	done := make(chan error, 1)
	c.waiting = append(c.waiting, subWait{expr: s.expr, done: done})
	m := codec.Message{ID: codec.Subscribe, Expression: s.expr, Headers: s.subscribeHeaders()}
	frames, _ := m.Frames()
	err := c.dealer.Send(frames...)
	c.mu.Unlock()
	if err != nil {
		c.forget(s)
		return nil, fmt.Errorf("zccp: subscribe: %w", err)
	}
	select {
	case err := <-done:
		if err != nil {
			c.forget(s)
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		// The subscription stays in place (the broker will confirm it);
		// the caller just stopped waiting. Undo it to honour the error.
		s.Cancel(context.Background())
		return nil, ctx.Err()
	}
}

// forget drops s locally without telling the broker.
func (c *Client) forget(s *Subscription) {
	c.indexFor(s.expr).Remove(s, s.expr)
	c.mu.Lock()
	if _, ok := c.subs[s]; ok {
		delete(c.subs, s)
		if c.exprs[s.expr]--; c.exprs[s.expr] <= 0 {
			delete(c.exprs, s.expr)
		}
	}
	c.mu.Unlock()
	s.stop()
}

func (c *Client) allSubscriptions() []*Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Subscription, 0, len(c.subs))
	for s := range c.subs {
		out = append(out, s)
	}
	return out
}

// Cancel ends the subscription: no more deliveries reach it, and when it
// was the last one with its expression the broker is told (the
// zccp-cancel extension; with a broker that lacks it, deliveries for the
// expression keep arriving and are discarded here). Cancel waits for the
// broker's answer or ctx.
func (s *Subscription) Cancel(ctx context.Context) error {
	if !s.cancelled.CompareAndSwap(false, true) {
		return nil
	}
	c := s.c
	c.indexFor(s.expr).Remove(s, s.expr)
	c.mu.Lock()
	delete(c.subs, s)
	last := false
	if c.exprs[s.expr]--; c.exprs[s.expr] <= 0 {
		delete(c.exprs, s.expr)
		last = true
	}
	connected := c.state == Connected
	c.mu.Unlock()
	s.stop()
	if !last || !connected || !c.supports("cancel") {
		return nil
	}
	done := make(chan error, 1)
	m := codec.Message{ID: codec.Subscribe, Expression: s.expr, Headers: codec.Headers{codec.HdrCancel: "1"}}
	frames, _ := m.Frames()
	c.mu.Lock()
	c.waiting = append(c.waiting, subWait{expr: s.expr, done: done})
	err := c.dealer.Send(frames...)
	if err != nil {
		c.waiting = c.waiting[:len(c.waiting)-1]
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("zccp: cancel: %w", err)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enqueue hands a delivery to the subscription without blocking the
// client's reader: channel form sends or drops; handler form queues up to
// the pending limit.
func (s *Subscription) enqueue(d *Delivery) {
	if s.ch != nil {
		select {
		case s.ch <- d:
			s.delivered.Store(s.delivered.Load() + 1) // one writer: the client's reader
		default:
			s.drop()
		}
		return
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= s.c.opts.pendingLimit {
		s.mu.Unlock()
		s.drop()
		return
	}
	first := len(s.queue) == 0
	s.queue = append(s.queue, d)
	s.mu.Unlock()
	// Only the first delivery into an empty queue needs to wake run: it
	// takes the whole queue each time it wakes.
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *Subscription) drop() {
	if s.dropped.Add(1) == 1 || s.dropped.Load()%1000 == 0 {
		s.c.report(fmt.Errorf("%w: subscription %q has dropped %d", ErrSlowConsumer, s.expr, s.dropped.Load()))
	}
}

// run calls the handler for each queued delivery, in order.
func (s *Subscription) run() {
	defer close(s.done)
	var batch []*Delivery
	for {
		<-s.wake
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		stopped := s.stopped
		s.mu.Unlock()
		for i, d := range batch {
			if s.cancelled.Load() {
				break
			}
			s.handler(d)
			s.delivered.Store(s.delivered.Load() + 1) // one writer: this goroutine
			batch[i] = nil
		}
		if stopped {
			return
		}
	}
}

// stop ends the handler goroutine after the deliveries already queued
// (unless cancelled) and waits for it, except when called from the
// handler itself.
func (s *Subscription) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
