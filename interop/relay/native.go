package relay

import (
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/zmtp"
)

// nativeRelay is a zmtp.Server: each connection has its own goroutine;
// the publisher's goroutine appends every message to every subscriber's
// Outbox and wakes their writers once per read batch.
type nativeRelay struct {
	srv      *zmtp.Server
	ln       net.Listener
	endpoint string

	mu   sync.Mutex                     // serialises changes to subs
	subs atomic.Pointer[[]*zmtp.Outbox] // copy on write

	forwarded atomic.Uint64
	stalls    atomic.Uint64
	served    sync.WaitGroup
}

func startNative(endpoint string) (server, error) {
	ln, err := zmtp.Listen(endpoint)
	if err != nil {
		return nil, err
	}
	r := &nativeRelay{ln: ln, endpoint: zmtp.EndpointOf(ln)}
	r.subs.Store(&[]*zmtp.Outbox{})
	r.srv = &zmtp.Server{Handler: r.handle}
	r.served.Add(1)
	go func() {
		defer r.served.Done()
		r.srv.Serve(ln)
	}()
	return r, nil
}

func (r *nativeRelay) Endpoint() string { return r.endpoint }

func (r *nativeRelay) Counters() (uint64, uint64) { return r.forwarded.Load(), r.stalls.Load() }

func (r *nativeRelay) Close() {
	r.srv.Close()
	r.served.Wait()
}

// handle serves one connection: a subscriber after its "SUB", otherwise
// the publisher.
func (r *nativeRelay) handle(c *zmtp.Conn, _ zmtp.RoutingID) {
	frames, err := c.ReadMessage()
	if err != nil {
		return
	}
	if len(frames) == 1 && string(frames[0]) == "SUB" {
		r.subscribe(c)
		return
	}
	r.publish(c, frames)
}

// subscribe registers c's outbox, acknowledges, and reads (and ignores)
// until the connection ends.
func (r *nativeRelay) subscribe(c *zmtp.Conn) {
	ob := c.Outbox()
	r.mu.Lock()
	subs := append(slices.Clone(*r.subs.Load()), ob)
	r.subs.Store(&subs)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		subs := slices.DeleteFunc(slices.Clone(*r.subs.Load()), func(o *zmtp.Outbox) bool { return o == ob })
		r.subs.Store(&subs)
		r.mu.Unlock()
	}()
	if err := c.Send([]byte("ok")); err != nil {
		return
	}
	for {
		if _, err := c.ReadMessage(); err != nil && !errors.Is(err, zmtp.ErrTooLarge) {
			return
		}
	}
}

// publish forwards first and every following message of the publisher to
// every subscriber. Messages are appended without waking the writers;
// when the read buffer is drained (the next read will block), every
// subscriber's writer is woken once, so that a batch of messages becomes
// one write per subscriber.
func (r *nativeRelay) publish(c *zmtp.Conn, first [][]byte) {
	frames := first
	var fwd uint64
	for {
		subs := *r.subs.Load()
		size := zmtp.MessageSize(frames)
		for _, ob := range subs {
			if r.append(ob, subs, size, frames) {
				fwd++
			}
		}
		if c.Buffered() == 0 {
			for _, ob := range subs {
				ob.Flush()
			}
			r.forwarded.Add(fwd)
			fwd = 0
		}
		var err error
		frames, err = c.ReadMessage()
		for errors.Is(err, zmtp.ErrTooLarge) {
			frames, err = c.ReadMessage()
		}
		if err != nil {
			r.forwarded.Add(fwd)
			return
		}
	}
}

// stallLimit bounds how long the publisher waits for room in one
// subscriber's queue before dropping the message for it.
const stallLimit = 5 * time.Second

// append queues one message to ob. When the queue is full
// (OverflowReject) it wakes every writer and waits for room, up to
// stallLimit; it reports whether the message was queued.
func (r *nativeRelay) append(ob *zmtp.Outbox, subs []*zmtp.Outbox, size int, frames [][]byte) bool {
	var deadline time.Time
	for {
		_, err := ob.Append(size, zmtp.Command, func(b []byte) []byte { return zmtp.AppendMessage(b, frames) })
		if err == nil {
			return true
		}
		if !errors.Is(err, zmtp.ErrQueueFull) {
			return false // the subscriber is gone
		}
		if deadline.IsZero() {
			r.stalls.Add(1)
			deadline = time.Now().Add(stallLimit)
			for _, o := range subs {
				o.Flush()
			}
		} else if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Microsecond)
	}
}
