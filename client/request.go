package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// Call describes a request in full; Request and RequestGroup are the
// short forms.
type Call struct {
	Method  string            // what the device is asked to do (zccp-method)
	Headers map[string]string // extra headers for the device
	Body    [][]byte          // content frames
	// TTL: the command must start within this long or not at all (the
	// broker drops it, the device refuses it). Zero: until ctx's
	// deadline, if it has one.
	TTL time.Duration
	// Timeout: give up after this long without any reply or progress
	// report (progress extends it). Zero: wait for ctx only.
	Timeout time.Duration
	// OnProgress, if set, receives the device's progress reports.
	OnProgress func(*Reply)
}

// pendingCall collects the replies to one request id.
type pendingCall struct {
	mu      sync.Mutex
	queue   []*Reply // guarded by mu
	err     error    // set when the connection is lost; guarded by mu
	wake    chan struct{}
	receipt chan *Delivery // group requests: the broker's receipt
	target  string         // one device's identifier (replies come from it or from the broker); "" for a group
	rolled  bool           // a group's receipt has arrived (reader goroutine only)
}

// newPending returns the pending call of a request to target (a device's
// identifier), or of a group request when target is "".
func newPending(target string) *pendingCall {
	p := &pendingCall{wake: make(chan struct{}, 1), target: target}
	if target == "" {
		p.receipt = make(chan *Delivery, 1)
	}
	return p
}

// accepts reports whether d may answer this call: a reply to one device
// comes from that device or from the broker on its behalf (zccp-recipient
// names it); before a group's receipt only the broker may answer (members
// are told after it), after it the roll call decides (collect).
func (p *pendingCall) accepts(d *Delivery) bool {
	fromBroker := d.Sender == codec.NoticeSender
	switch {
	case p.target == "":
		return fromBroker || p.rolled
	case p.target == codec.NoticeSender:
		return fromBroker
	case fromBroker:
		return d.Headers[codec.HdrRecipient] == p.target
	}
	return d.Sender == p.target
}

func (p *pendingCall) push(r *Reply) {
	p.mu.Lock()
	p.queue = append(p.queue, r)
	p.mu.Unlock()
	p.signal()
}

// signal wakes whoever waits on p.wake (once, however often called).
func (p *pendingCall) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pendingCall) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.signal()
}

// take returns queued replies and the failure, if any.
func (p *pendingCall) take() ([]*Reply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queue
	p.queue = nil
	return q, p.err
}

// newRequestID returns a fresh id: 128 random bits, so that nobody who
// saw one id can predict another (and forge its reply).
func (c *Client) newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *Client) register(id string, p *pendingCall) {
	c.mu.Lock()
	c.calls[id] = p
	c.mu.Unlock()
}

func (c *Client) unregister(id string) {
	c.mu.Lock()
	delete(c.calls, id)
	c.mu.Unlock()
}

// onReply routes a DELIVER that carries zccp-reply-to to its call; it
// reports false when no call waits for it (a late reply).
func (c *Client) onReply(d *Delivery, id string) bool {
	c.mu.Lock()
	p := c.calls[id]
	c.mu.Unlock()
	if p == nil {
		return false
	}
	if !p.accepts(d) {
		// Not from whom the request went to: a forged or misrouted reply.
		c.report(fmt.Errorf("zccp: reply to request %s from %q ignored: the request did not go there", id, d.Sender))
		return true
	}
	if d.Sender == codec.NoticeSender && d.Address == codec.AddrReceipt && p.receipt != nil {
		p.rolled = true
		select {
		case p.receipt <- d:
		default:
		}
		return true
	}
	p.push(replyFrom(d))
	return true
}

// failCalls fails every outstanding call (the connection was lost).
func (c *Client) failCalls(err error) {
	c.mu.Lock()
	calls := make([]*pendingCall, 0, len(c.calls))
	for _, p := range c.calls {
		calls = append(calls, p)
	}
	c.mu.Unlock()
	for _, p := range calls {
		p.fail(err)
	}
}

// requestHeaders builds the headers of a request.
func requestHeaders(id string, call *Call, ttl time.Duration) map[string]string {
	h := make(map[string]string, len(call.Headers)+3)
	for k, v := range call.Headers {
		h[k] = v
	}
	h[codec.HdrRequestID] = id
	h[codec.HdrMethod] = call.Method
	if ttl > 0 {
		h[codec.HdrTTL] = strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)
	}
	return h
}

// ttlFor returns the TTL to send: the call's, else the time left on ctx.
func ttlFor(ctx context.Context, call *Call) time.Duration {
	if call.TTL > 0 {
		return call.TTL
	}
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}

// Request asks the device whose identifier is identifier to run method
// with body, and waits for its reply. The reply's error, the broker's (no
// such client, expired, device gone) or ctx's come back as the error: a
// *RequestError (errors.Is ErrNoSuchClient, ErrExpired, ErrDeviceError,
// ...) or ctx.Err(). ctx's deadline is sent along as the command's TTL,
// so a command that could not start in time never runs.
func (c *Client) Request(ctx context.Context, identifier, method string, body ...[]byte) (*Reply, error) {
	return c.Do(ctx, identifier, Call{Method: method, Body: body})
}

// Do is Request with every option of Call. A broker without the
// "requests" extension gets nothing: Do returns ErrUnsupported at once.
func (c *Client) Do(ctx context.Context, identifier string, call Call) (*Reply, error) {
	if err := c.require("requests", "a request"); err != nil {
		return nil, err
	}
	id := c.newRequestID()
	p := newPending(identifier)
	c.register(id, p)
	defer c.unregister(id)
	if err := c.Send(identifier, requestHeaders(id, &call, ttlFor(ctx, &call)), call.Body...); err != nil {
		return nil, err
	}
	var final *Reply
	err := p.await(ctx, &call, func(r *Reply) bool { final = r; return true })
	switch {
	case err == nil:
		return final, final.Err()
	case errors.Is(err, ErrTimeout) || errors.Is(err, ctx.Err()):
		c.cancelRequest(identifier, id)
	}
	return nil, err
}

// await hands the final replies of p to final until it returns true, and
// the progress reports to call.OnProgress (each one restarts the
// inactivity timeout). It returns nil when final is satisfied, ErrTimeout
// after call.Timeout without a sign of life, ctx.Err(), or the call's
// failure (the connection was lost).
func (p *pendingCall) await(ctx context.Context, call *Call, final func(*Reply) (done bool)) error {
	var timeout <-chan time.Time
	var timer *time.Timer
	if call.Timeout > 0 {
		timer = time.NewTimer(call.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		select {
		case <-p.wake:
			replies, err := p.take()
			for _, r := range replies {
				if r.Status == codec.StatusProgress {
					if call.OnProgress != nil {
						call.OnProgress(r)
					}
					if timer != nil {
						timer.Reset(call.Timeout)
					}
					continue
				}
				if final(r) {
					return nil
				}
			}
			if err != nil {
				return err
			}
		case <-timeout:
			return ErrTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cancelRequest tells a device to stop working on a request.
func (c *Client) cancelRequest(identifier, id string) {
	c.Send(identifier, map[string]string{codec.HdrCancelRequest: id})
}
