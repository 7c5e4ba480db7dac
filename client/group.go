package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/zccp-go/zccp/codec"
)

// Group selects the devices of a group request: those subscribed to an
// expression matching Address (when Address is not empty) and carrying
// every label in Labels (their HELLO headers).
type Group struct {
	Address string
	Labels  map[string]string
	DryRun  bool // resolve and report the recipients, send nothing
}

// Summary accounts for every device a group request was routed to.
type Summary struct {
	Expected []string          // the broker's roll call, in its order
	OK       []string          // answered with status ok
	Failed   map[string]*Reply // answered with an error (by the device or by the broker for it)
	Missing  []string          // no final answer before the call ended
	// Err says why the call ended before every expected device answered:
	// ctx's error, ErrTimeout, or ErrConnLost / ErrClosed when the
	// connection to the broker went away (then Missing are unknown, not
	// silent). Nil when everyone answered.
	Err error
}

// GroupCall is a group request in flight. Read Replies until it is
// closed, then Summary.
type GroupCall struct {
	// Expected lists the identifiers the broker routed the request to
	// (its receipt): exactly whom to wait for.
	Expected []string
	DryRun   bool

	replies chan *Reply
	done    chan struct{}
	mu      sync.Mutex
	summary Summary
}

// Replies delivers every final reply as it arrives; it is closed when
// every expected device has answered, or ctx (or the call's Timeout)
// ended first.
func (g *GroupCall) Replies() <-chan *Reply { return g.replies }

// Summary waits for the call to end and returns the account.
func (g *GroupCall) Summary() Summary {
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.summary
}

// Wait drains Replies and returns the Summary.
func (g *GroupCall) Wait() Summary {
	for range g.replies {
	}
	return g.Summary()
}

// RequestGroup sends method to every device subscribed to an expression
// that matches address. It returns once the broker has said which devices
// it routed the request to (GroupCall.Expected); replies then arrive on
// GroupCall.Replies until all are in or ctx ends.
func (c *Client) RequestGroup(ctx context.Context, address, method string, body ...[]byte) (*GroupCall, error) {
	return c.DoGroup(ctx, Group{Address: address}, Call{Method: method, Body: body})
}

// DoGroup is RequestGroup with a label selection, dry runs and every
// option of Call.
func (c *Client) DoGroup(ctx context.Context, g Group, call Call) (*GroupCall, error) {
	if g.Address == "" && len(g.Labels) == 0 {
		return nil, fmt.Errorf("zccp: group request needs an address or labels")
	}
	if err := c.require("requests", "a group request"); err != nil {
		return nil, err
	}
	id := c.newRequestID()
	p := newPending("")
	c.register(id, p)
	h := requestHeaders(id, &call, ttlFor(ctx, &call))
	if sel := selector(g.Labels); sel != "" {
		h[codec.HdrSelect] = sel
	}
	if g.DryRun {
		h[codec.HdrDryRun] = "1"
	}
	if err := c.Publish(g.Address, h, call.Body...); err != nil {
		c.unregister(id)
		return nil, err
	}
	var receipt *Delivery
	select {
	case receipt = <-p.receipt:
	case <-p.wake:
		// The receipt comes before any reply, so replies with a receipt
		// waiting are the call's: hand them to collect. Without one, this
		// is a failure before the receipt (the broker refused the request,
		// or the connection was lost).
		select {
		case receipt = <-p.receipt:
			p.signal()
		default:
			replies, err := p.take()
			c.unregister(id)
			for _, r := range replies {
				if rerr := r.Err(); rerr != nil {
					return nil, rerr
				}
			}
			if err == nil {
				err = errors.New("zccp: group request answered without a receipt")
			}
			return nil, err
		}
	case <-ctx.Done():
		c.unregister(id)
		return nil, ctx.Err()
	}
	gc := &GroupCall{DryRun: g.DryRun, done: make(chan struct{})}
	gc.Expected = receiptNames(receipt)
	gc.replies = make(chan *Reply, len(gc.Expected))
	if g.DryRun {
		c.unregister(id)
		gc.summary = Summary{Expected: gc.Expected, Failed: map[string]*Reply{}, Missing: slices.Clone(gc.Expected)}
		close(gc.replies)
		close(gc.done)
		return gc, nil
	}
	go c.collect(ctx, id, p, gc, &call)
	return gc, nil
}

// collect gathers the replies of a group call until all expected devices
// have answered or the call ends.
func (c *Client) collect(ctx context.Context, id string, p *pendingCall, gc *GroupCall, call *Call) {
	defer close(gc.done)
	defer close(gc.replies)
	defer c.unregister(id)
	waiting := map[string]int{} // identifier → answers still expected (duplicates possible)
	for _, e := range gc.Expected {
		waiting[e]++
	}
	left := len(gc.Expected)
	sum := Summary{Expected: gc.Expected, Failed: map[string]*Reply{}}
	if left > 0 {
		sum.Err = p.await(ctx, call, func(r *Reply) bool {
			if waiting[r.From] == 0 {
				return false // not on the roll call, or answered already
			}
			waiting[r.From]--
			left--
			if r.Err() == nil {
				sum.OK = append(sum.OK, r.From)
			} else {
				sum.Failed[r.From] = r
			}
			gc.replies <- r
			return left == 0
		})
	}
	// Whoever has not answered by now is missing, and told to stop.
	for e, n := range waiting {
		for ; n > 0; n-- {
			sum.Missing = append(sum.Missing, e)
			c.cancelRequest(e, id)
		}
	}
	slices.Sort(sum.Missing)
	gc.mu.Lock()
	gc.summary = sum
	gc.mu.Unlock()
}

// selector encodes labels as "k=v,k2=v2", sorted.
func selector(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// receiptNames returns the identifiers a receipt lists: its first
// zccp-recipients content frames (a receipt naming nobody carries one
// empty frame, because every broker DELIVER has content).
func receiptNames(d *Delivery) []string {
	n, err := strconv.Atoi(d.Headers[codec.HdrRecipients])
	if err != nil || n < 0 || n > len(d.Content) {
		n = len(d.Content)
	}
	names := make([]string, 0, n)
	for _, f := range d.Content[:n] {
		names = append(names, string(f))
	}
	return names
}
