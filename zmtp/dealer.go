package zmtp

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// DealerOptions configure a Dealer.
type DealerOptions struct {
	// Options for each connection; Type defaults to DEALER. Queue bounds
	// the queue that holds messages while disconnected (OverflowReject
	// makes Send fail with ErrQueueFull when it is full).
	Options
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts (defaults 100 ms and 5 s); each wait is
	// randomised by ±25% so that many clients do not reconnect in step.
	ReconnectMin, ReconnectMax time.Duration
	// DialTimeout bounds one connection attempt including the handshake
	// (default 5 s).
	DialTimeout time.Duration
	// OnConnect is called on every new connection, before any queued
	// message flows; it may queue messages ahead of them with
	// Conn.SendFirst (e.g. a protocol HELLO). An error drops the
	// connection and schedules a reconnect.
	OnConnect func(c *Conn) error
	// OnMessage receives each incoming message on the connection's reader
	// goroutine; the frames are valid only during the call.
	OnMessage func(frames [][]byte)
	// OnDisconnect is told when an established connection ends, with the
	// reason. It runs on the reader goroutine and must not block.
	OnDisconnect func(err error)
	// OnDialError is told when a connection attempt fails. It must not
	// block.
	OnDialError func(err error)
}

// Dealer is the client side of ZCCP's transport with DEALER semantics: it
// connects to one endpoint in the background, reconnects with backoff
// after a loss, and queues messages while disconnected up to a bound.
// Messages that were handed to a connection that then failed are not
// sent again; whole messages still queued are carried to the next
// connection. Safe for concurrent use.
type Dealer struct {
	endpoint string
	opts     DealerOptions
	out      *Outbox

	mu      sync.Mutex
	conn    *Conn
	started bool
	closed  bool

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewDealer validates the endpoint and returns a dealer that does nothing
// until Start: the owner can keep the dealer where its callbacks will
// look for it before any callback can run. Messages sent before Start are
// queued.
func NewDealer(endpoint string, opts DealerOptions) (*Dealer, error) {
	if _, err := ParseEndpoint(endpoint); err != nil {
		return nil, err
	}
	if opts.Type == "" {
		opts.Type = TypeDealer
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = 100 * time.Millisecond
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(5*time.Second, opts.ReconnectMin)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	d := &Dealer{endpoint: endpoint, opts: opts, out: NewOutbox(opts.Queue), done: make(chan struct{})}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// Start begins connecting in the background (once; later calls do
// nothing, and so does a call after Close).
func (d *Dealer) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started || d.closed {
		return
	}
	d.started = true
	go d.run()
}

// Endpoint returns the endpoint the dealer connects to.
func (d *Dealer) Endpoint() string { return d.endpoint }

// Send queues one message; it fails with ErrQueueFull when the queue is at
// its limit (e.g. while disconnected for long) and ErrClosed after Close.
func (d *Dealer) Send(frames ...[]byte) error { return d.out.Send(frames) }

// Outbox returns the dealer's queue (shared by its successive connections).
func (d *Dealer) Outbox() *Outbox { return d.out }

// Conn returns the current connection, or nil while disconnected.
func (d *Dealer) Conn() *Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn
}

// Reconnect drops the current connection (if any) so that a new one is
// made; use it when a higher-level heartbeat says the peer is gone.
func (d *Dealer) Reconnect(reason error) {
	if c := d.Conn(); c != nil {
		if reason == nil {
			reason = errors.New("zmtp: reconnect requested")
		}
		c.fail(reason)
	}
}

// Close stops reconnecting, sends what is queued if connected (waiting at
// most timeout), and closes the connection.
func (d *Dealer) Close(timeout time.Duration) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.done
		return nil
	}
	d.closed = true
	c := d.conn
	if !d.started {
		close(d.done) // no run goroutine to close it
	}
	d.mu.Unlock()
	d.out.close(true)
	if c != nil {
		select {
		case <-c.Done():
		case <-time.After(timeout):
		}
	}
	d.cancel()
	if c != nil {
		c.fail(ErrClosed)
	}
	<-d.done
	d.out.close(false)
	return nil
}

func (d *Dealer) run() {
	defer close(d.done)
	backoff := d.opts.ReconnectMin
	for d.ctx.Err() == nil {
		c, err := d.connect()
		if err != nil {
			if d.opts.OnDialError != nil && d.ctx.Err() == nil {
				d.opts.OnDialError(err)
			}
			wait := jitter(backoff)
			backoff = min(2*backoff, d.opts.ReconnectMax)
			select {
			case <-d.ctx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		backoff = d.opts.ReconnectMin
		err = d.serve(c)
		d.mu.Lock()
		d.conn = nil
		d.mu.Unlock()
		if d.opts.OnDisconnect != nil && d.ctx.Err() == nil {
			d.opts.OnDisconnect(err)
		}
		// Wait a little before the first retry too: a broker that drops us
		// on purpose must not be hammered.
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(jitter(d.opts.ReconnectMin)):
		}
	}
}

// connect dials, handshakes, runs OnConnect and starts the writer.
func (d *Dealer) connect() (*Conn, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.opts.DialTimeout)
	defer cancel()
	nc, err := Dial(ctx, d.endpoint)
	if err != nil {
		return nil, err
	}
	opts := d.opts.Options
	if dl, ok := ctx.Deadline(); ok {
		opts.HandshakeTimeout = time.Until(dl)
	}
	c, err := handshake(nc, opts, d.out)
	if err != nil {
		return nil, err
	}
	if d.opts.OnConnect != nil {
		if err := d.opts.OnConnect(c); err != nil {
			c.nc.Close()
			return nil, err
		}
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.nc.Close()
		return nil, ErrClosed
	}
	d.conn = c
	d.mu.Unlock()
	c.start()
	return c, nil
}

// serve reads until the connection ends and returns why.
func (d *Dealer) serve(c *Conn) error {
	for {
		frames, err := c.ReadMessage()
		if errors.Is(err, ErrTooLarge) {
			continue
		}
		if err != nil {
			<-c.Done()
			return err
		}
		if d.opts.OnMessage != nil {
			d.opts.OnMessage(frames)
		}
	}
}

// jitter returns d randomised by ±25%.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2+1)
}
