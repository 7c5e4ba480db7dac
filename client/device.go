package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// Request is a command received by a device.
type Request struct {
	ID       string            // the requester's id for it
	From     string            // the requester's identifier (replies go there)
	Method   string            // zccp-method
	Address  string            // the address it was sent to (our identifier, or a group address)
	Headers  map[string]string // all headers
	Content  [][]byte          // content frames
	Deadline time.Time         // when it must have started by (zero: none)

	c *Client
}

// Body returns the first content frame, or nil.
func (r *Request) Body() []byte {
	if len(r.Content) == 0 {
		return nil
	}
	return r.Content[0]
}

// Progress tells the requester the request is still running (and
// optionally how far it got); it keeps the requester from timing out.
func (r *Request) Progress(body ...[]byte) error {
	return r.c.Send(r.From, map[string]string{codec.HdrReplyTo: r.ID, codec.HdrStatus: codec.StatusProgress}, body...)
}

// A client without any handler answers every request it receives (a
// DIRECT request: it is no group member) with no-such-method, so that a
// requester never waits for it in vain.

// RequestHandler runs one request. Its ctx ends at the request's deadline
// or when the requester cancels. A nil *Reply means "ok, no body"; an
// error becomes an error reply carrying err.Error() (a *RequestError
// keeps its Code). A panic becomes an error reply too.
type RequestHandler func(ctx context.Context, r *Request) (*Reply, error)

// Handle registers h for method. Requests for methods without a handler
// are answered with no-such-method. A client with a handler declares at
// HELLO that it serves requests (zccp-serves: 1), which makes it a member
// of the group requests addressed to its subscriptions or labels; a
// handler registered with Handle after Connect serves requests sent to
// this client at once but joins groups only from the next HELLO (a
// reconnection), so register with WithHandler or WithHandleAll to be a
// member from the start. Handlers run concurrently, one
// goroutine per request. A request whose deadline has passed is never
// handed to a handler; one seen again (same requester and id, a retry)
// within the dedup window is answered from the record of the first, not
// run twice.
func (c *Client) Handle(method string, h RequestHandler) {
	c.dev.mu.Lock()
	defer c.dev.mu.Unlock()
	if c.dev.handlers == nil {
		c.dev.handlers = map[string]RequestHandler{}
	}
	c.dev.handlers[method] = h
}

// HandleAll registers h for every method without a handler of its own
// (e.g. a bridge that hands requests to an external program).
func (c *Client) HandleAll(h RequestHandler) {
	c.dev.mu.Lock()
	defer c.dev.mu.Unlock()
	c.dev.fallback = h
}

// serving reports whether any request handler is registered.
func (d *device) serving() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.handlers) > 0 || d.fallback != nil
}

// dedupWindow and dedupMax bound the record of answered requests.
const (
	dedupWindow = 10 * time.Minute
	dedupMax    = 10000
)

// device is the client's device side: handlers, running requests and the
// record of recent answers.
type device struct {
	mu       sync.Mutex
	handlers map[string]RequestHandler
	fallback RequestHandler
	closing  bool                                 // Close has begun: new requests are refused
	running  map[dedupKey]context.CancelCauseFunc // guarded by mu
	done     map[dedupKey]*doneEntry              // guarded by mu
	order    []dedupKey                           // done keys, oldest first
	wg       sync.WaitGroup
}

type dedupKey struct{ from, id string }

type doneEntry struct {
	at      time.Time
	headers map[string]string
	content [][]byte
}

// closingDevice refuses new requests and waits (up to ctx) for the
// running handlers to answer, so that Close sends their replies before
// GOODBYE.
func (d *device) drain(ctx context.Context) {
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// onRequest handles a DELIVER that carries a request or a cancellation;
// it reports false when the client has no handlers (the delivery then
// goes to the ordinary subscriptions).
func (c *Client) onRequest(d *Delivery) bool {
	dev := &c.dev
	if id, ok := d.Headers[codec.HdrCancelRequest]; ok {
		dev.mu.Lock()
		cancel := dev.running[dedupKey{d.Sender, id}]
		dev.mu.Unlock()
		if cancel != nil {
			cancel(errCancelledByRequester)
		}
		return true
	}
	id, hasID := d.Headers[codec.HdrRequestID]
	method, hasMethod := d.Headers[codec.HdrMethod]
	if !hasID || !hasMethod {
		return false
	}
	req := &Request{ID: id, From: d.Sender, Method: method, Address: d.Address, Headers: d.Headers, Content: d.Content, c: c}
	if v, ok := d.Headers[codec.HdrTTL]; ok {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 {
			c.answer(req, nil, &RequestError{Code: codec.ErrCodeExpired, Reason: "the request arrived with no time left"}, false)
			return true
		}
		req.Deadline = time.Now().Add(time.Duration(ms) * time.Millisecond)
	}
	key := dedupKey{req.From, req.ID}
	dev.mu.Lock()
	if e := dev.done[key]; e != nil {
		dev.mu.Unlock()
		c.Send(req.From, e.headers, e.content...) // a retry: the recorded answer
		return true
	}
	if _, busy := dev.running[key]; busy {
		dev.mu.Unlock()
		return true // a retry of one still running: it will answer
	}
	if dev.closing {
		dev.mu.Unlock()
		c.answer(req, nil, &RequestError{Code: codec.ErrCodeDeviceError, Reason: "the device is shutting down"}, false)
		return true
	}
	h := dev.handlers[method]
	if h == nil {
		h = dev.fallback
	}
	if h == nil {
		dev.mu.Unlock()
		c.answer(req, nil, &RequestError{Code: codec.ErrCodeNoSuchMethod, Reason: fmt.Sprintf("no handler for method %q", method)}, false)
		return true
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if dev.running == nil {
		dev.running = map[dedupKey]context.CancelCauseFunc{}
	}
	dev.running[key] = cancel
	dev.wg.Add(1)
	dev.mu.Unlock()
	go c.run(ctx, cancel, h, req)
	return true
}

// errCancelledByRequester is the cause of a handler context cancelled by
// the requester.
var errCancelledByRequester = errors.New("zccp: cancelled by the requester")

// run calls the handler and answers; a panic becomes an error reply.
func (c *Client) run(ctx context.Context, cancel context.CancelCauseFunc, h RequestHandler, req *Request) {
	defer c.dev.wg.Done()
	defer cancel(nil)
	if !req.Deadline.IsZero() {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, req.Deadline)
		defer stop()
	}
	var reply *Reply
	var err error
	returned := false // the handler gave the answer (not a panic, not a late start)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &RequestError{Code: codec.ErrCodeDeviceError, Reason: fmt.Sprintf("handler for %q panicked: %v", req.Method, p)}
				c.report(fmt.Errorf("zccp: %w", err))
			}
		}()
		if !req.Deadline.IsZero() && !time.Now().Before(req.Deadline) {
			err = &RequestError{Code: codec.ErrCodeExpired, Reason: "the request's deadline passed before it could run"}
			return
		}
		reply, err = h(ctx, req)
		returned = true
	}()
	if err != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errCancelledByRequester):
			err = &RequestError{Code: codec.ErrCodeCancelled, Reason: "cancelled by the requester"}
		case errors.Is(cause, context.DeadlineExceeded):
			err = &RequestError{Code: codec.ErrCodeExpired, Reason: "the handler ran past the request's deadline: " + err.Error()}
		}
	}
	c.answer(req, reply, err, returned)
}

// answer sends the final reply to a request. Only an answer the
// application gave (record: its handler returned) is recorded for
// retries; the library's own refusals (no handler, expired on arrival,
// shutting down, a panic) are not, so a retry gets a fresh chance.
func (c *Client) answer(req *Request, reply *Reply, err error, record bool) {
	h := map[string]string{}
	var content [][]byte
	if reply != nil {
		for k, v := range reply.Headers {
			h[k] = v
		}
		content = reply.Content
	}
	h[codec.HdrReplyTo] = req.ID
	if err != nil {
		h[codec.HdrStatus] = codec.StatusError
		var re *RequestError
		if errors.As(err, &re) {
			h[codec.HdrError] = re.Code
			h[codec.HdrReason] = re.Reason
		} else {
			h[codec.HdrError] = codec.ErrCodeDeviceError
			h[codec.HdrReason] = err.Error()
		}
	} else {
		h[codec.HdrStatus] = codec.StatusOK
	}
	dev := &c.dev
	key := dedupKey{req.From, req.ID}
	dev.mu.Lock()
	delete(dev.running, key)
	if record {
		dev.record(key, h, content)
	}
	dev.mu.Unlock()
	if err := c.Send(req.From, h, content...); err != nil {
		c.report(fmt.Errorf("zccp: reply to %s (%s) not sent: %w", req.From, req.ID, err))
	}
}

// record keeps an answer for retries, forgetting the oldest beyond the
// window; called with d.mu held.
func (d *device) record(key dedupKey, h map[string]string, content [][]byte) {
	if d.done == nil {
		d.done = map[dedupKey]*doneEntry{}
	}
	now := time.Now()
	d.done[key] = &doneEntry{at: now, headers: h, content: content}
	d.order = append(d.order, key)
	for len(d.order) > 0 {
		old := d.order[0]
		e := d.done[old]
		if e != nil && len(d.order) <= dedupMax && now.Sub(e.at) < dedupWindow {
			break
		}
		delete(d.done, old)
		d.order = d.order[1:]
	}
}

// errClientClosed is the cause of handler contexts ended by Close.
var errClientClosed = errors.New("zccp: client closed")

// cancelAll ends every running handler's context (the client is closing).
func (d *device) cancelAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, cancel := range d.running {
		cancel(errClientClosed)
	}
}
