package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/match"
	"github.com/zccp-go/zccp/zmtp"
)

// State is the client's connection state.
type State int

// Connection states.
const (
	Connecting   State = iota // first connection not yet established
	Connected                 // HELLO-OK received; the session is live
	Reconnecting              // the connection was lost; trying again
	Closed                    // Close was called or the session was taken over
)

var stateNames = [...]string{"connecting", "connected", "reconnecting", "closed"}

// String returns the state's name.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Client is a connection to a ZCCP broker. Create it with Connect.
type Client struct {
	opts     options
	endpoint string
	dealer   *zmtp.Dealer
	local    *match.Index[*Subscription] // routes deliveries to subscriptions
	localSys *match.Index[*Subscription] // subscriptions to broker events (^\$…), as the broker keeps them apart

	mu        sync.Mutex
	state     State
	info      map[string]string          // HELLO-OK headers; guarded by mu
	exprs     map[string]int             // live expression → subscriptions using it; guarded by mu
	subs      map[*Subscription]struct{} // live subscriptions; guarded by mu
	waiting   []subWait                  // SUBSCRIBEs awaiting SUBSCRIBE-OK, in order; guarded by mu
	hello     chan struct{}              // closed at the first HELLO-OK
	helloOnce sync.Once
	lastErr   error                   // last connection error, for Connect's failure message
	dialErr   string                  // the last dial failure reported (reset by a connection); guarded by mu
	goodbye   chan codec.Headers      // GOODBYE-OK statistics
	direct    *Subscription           // WithDirectHandler's queue
	calls     map[string]*pendingCall // requests awaiting replies, by id; guarded by mu
	dev       device                  // the device side: handlers and running requests
	closeOnce sync.Once
	stopBeat  chan struct{}
	beatDone  chan struct{}
}

// subWait is one SUBSCRIBE on the wire whose SUBSCRIBE-OK is expected.
type subWait struct {
	expr string
	done chan error // nil for re-subscriptions nobody waits for
	err  error      // a notice that arrived for it before the OK
}

// Connect connects to the broker at endpoint (tcp://host:port, ipc://path,
// ipc://@name), says HELLO and waits for HELLO-OK or for ctx to end. The
// client then stays connected, reconnecting by itself, until Close.
//
// While the broker cannot be reached Connect keeps trying until ctx ends,
// so give ctx a deadline; each failed attempt with a new reason (e.g.
// connection refused) is reported at once to WithErrorHandler (an error
// wrapping ErrUnreachable) and logged at warn level. Options out of
// range are rejected (ErrBadOption), never rewritten.
func Connect(ctx context.Context, endpoint string, opts ...Option) (*Client, error) {
	o := defaults()
	for _, f := range opts {
		f(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if len(o.identifier) > codec.MaxString {
		return nil, fmt.Errorf("%w: identifier is %d bytes", ErrStringTooBig, len(o.identifier))
	}
	c := &Client{
		opts:     o,
		endpoint: endpoint,
		local:    match.NewIndex[*Subscription](match.WithCacheSize(4096)),
		localSys: match.NewIndex[*Subscription](match.WithCacheSize(64)),
		exprs:    map[string]int{},
		subs:     map[*Subscription]struct{}{},
		calls:    map[string]*pendingCall{},
		hello:    make(chan struct{}),
		goodbye:  make(chan codec.Headers, 1),
		stopBeat: make(chan struct{}),
		beatDone: make(chan struct{}),
	}
	if o.onDirect != nil {
		c.direct = newSubscription(c, "", o.onDirect, nil)
	}
	c.dev.handlers = o.handlers
	c.dev.fallback = o.handleAll
	d, err := zmtp.NewDealer(endpoint, zmtp.DealerOptions{
		Options: zmtp.Options{
			Type:      zmtp.TypeDealer,
			Mechanism: o.mechanism(), // WithCurve
			Queue:     zmtp.Limits{MaxMessages: o.bufferMsgs, MaxBytes: o.bufferBytes, Overflow: zmtp.OverflowReject},
		},
		ReconnectMin: o.reconnectMin,
		ReconnectMax: o.reconnectMax,
		OnConnect:    c.onConnect,
		OnMessage:    c.onMessage,
		OnDisconnect: c.onDisconnect,
		OnDialError:  c.onDialError,
	})
	if err != nil {
		return nil, err
	}
	c.dealer = d // before Start: the callbacks use it
	d.Start()
	go c.heartbeat()
	select {
	case <-c.hello:
		return c, nil
	case <-ctx.Done():
		c.mu.Lock()
		last := c.lastErr
		c.mu.Unlock()
		c.shutdown()
		if last != nil {
			return nil, fmt.Errorf("zccp: connect %s: %w (last error: %w)", endpoint, ctx.Err(), last)
		}
		return nil, fmt.Errorf("zccp: connect %s: %w (no HELLO-OK)", endpoint, ctx.Err())
	}
}

// Identifier returns the identifier this client says HELLO with.
func (c *Client) Identifier() string { return c.opts.identifier }

// State returns the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// ServerInfo returns the broker's HELLO-OK headers (name, version,
// extensions, ...).
func (c *Client) ServerInfo() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.info)
}

// Supports reports whether the broker announced an extension in its
// HELLO-OK (zccp-extensions: notices, direct, requests, clients, ...). An
// original ZCCP/1 broker announces none.
func (c *Client) Supports(ext string) bool { return c.supports(ext) }

func (c *Client) supports(ext string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(strings.Split(c.info[codec.HdrExtensions], ","), ext)
}

// require fails with ErrUnsupported when the broker did not announce ext,
// saying what would happen: what names the call.
func (c *Client) require(ext, what string) error {
	if c.supports(ext) {
		return nil
	}
	return fmt.Errorf("%w: %s needs the %q extension, which the broker at %s does not announce (an original ZCCP/1 broker?)",
		ErrUnsupported, what, ext, c.endpoint)
}

func (c *Client) setState(s State) {
	c.mu.Lock()
	if c.state == s || c.state == Closed {
		c.mu.Unlock()
		return
	}
	c.state = s
	c.mu.Unlock()
	c.opts.logger.Debug("zccp client state", "state", s.String(), "endpoint", c.endpoint)
	if c.opts.onState != nil {
		c.opts.onState(s)
	}
}

func (c *Client) report(err error) {
	c.opts.logger.Debug("zccp client error", "err", err)
	if c.opts.onError != nil {
		c.opts.onError(err)
	}
}

// onConnect runs for every new connection before anything queued flows:
// HELLO with our identifier and labels, then every live subscription.
func (c *Client) onConnect(conn *zmtp.Conn) error {
	hello := codec.Message{ID: codec.Hello, Identifier: c.opts.identifier, Headers: c.helloHeaders()}
	frames, err := hello.Frames()
	if err != nil {
		return err
	}
	if err := conn.SendFirst(frames...); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialErr = "" // connected: the next failure is news again
	// Re-subscribe in a stable order; keep the callers still waiting for
	// their SUBSCRIBE-OK attached to the new SUBSCRIBE.
	waiting := map[string][]subWait{}
	for _, w := range c.waiting {
		waiting[w.expr] = append(waiting[w.expr], w)
	}
	c.waiting = c.waiting[:0]
	exprs := make([]string, 0, len(c.exprs))
	for e := range c.exprs {
		exprs = append(exprs, e)
	}
	slices.Sort(exprs)
	last := map[string]bool{} // expressions of SubscribeLast subscriptions ask again (retain.go)
	for s := range c.subs {
		last[s.expr] = last[s.expr] || s.last
	}
	for _, e := range exprs {
		m := codec.Message{ID: codec.Subscribe, Expression: e}
		if last[e] {
			m.Headers = codec.Headers{codec.HdrLast: "1"}
		}
		f, err := m.Frames()
		if err != nil {
			continue
		}
		if err := conn.SendFirst(f...); err != nil {
			return err
		}
		w := subWait{expr: e}
		if ws := waiting[e]; len(ws) > 0 {
			w.done = ws[0].done
			for _, extra := range ws[1:] {
				if extra.done != nil {
					extra.done <- nil
				}
			}
		}
		c.waiting = append(c.waiting, w)
	}
	return nil
}

// helloHeaders returns the labels, plus zccp-serves: 1 when the client
// has a request handler: only then is it a member of group requests.
func (c *Client) helloHeaders() map[string]string {
	if !c.dev.serving() {
		return c.opts.labels
	}
	h := maps.Clone(c.opts.labels)
	if h == nil {
		h = map[string]string{}
	}
	h[codec.HdrServes] = "1"
	return h
}

// onDialError reports a failed connection attempt at once — to the error
// handler and the log — while the dealer keeps retrying: the first
// failure and then each time the reason changes (every attempt is logged
// at debug level).
func (c *Client) onDialError(err error) {
	c.mu.Lock()
	c.lastErr = err
	fresh := err.Error() != c.dialErr
	c.dialErr = err.Error()
	c.mu.Unlock()
	c.opts.logger.Debug("zccp connect failed; retrying", "endpoint", c.endpoint, "err", err)
	if fresh {
		c.opts.logger.Warn("zccp cannot connect; retrying", "endpoint", c.endpoint, "err", err)
		if c.opts.onError != nil {
			c.opts.onError(fmt.Errorf("%w: %s: %w (retrying)", ErrUnreachable, c.endpoint, err))
		}
	}
}

func (c *Client) onDisconnect(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
	c.setState(Reconnecting)
	c.report(fmt.Errorf("zccp: connection to %s lost: %w", c.endpoint, err))
	// Replies to requests in flight would come on the lost session, if at
	// all: fail them now rather than let them hang.
	c.failCalls(fmt.Errorf("%w: %w", ErrConnLost, err))
}

// onMessage handles one message from the broker, on the reader goroutine.
func (c *Client) onMessage(frames [][]byte) {
	if c.fastDeliver(frames) {
		return
	}
	m, err := codec.Decode(frames)
	if err != nil {
		c.report(fmt.Errorf("zccp: undecodable message from the broker: %w", err))
		return
	}
	switch m.ID {
	case codec.HelloOK:
		c.mu.Lock()
		c.info = m.Headers
		c.mu.Unlock()
		c.setState(Connected)
		c.helloOnce.Do(func() { close(c.hello) })
	case codec.SubscribeOK:
		c.mu.Lock()
		if len(c.waiting) > 0 {
			w := c.waiting[0]
			c.waiting = c.waiting[1:]
			if w.done != nil {
				w.done <- w.err
			}
		}
		c.mu.Unlock()
	case codec.Deliver:
		if id, ok := m.Headers[codec.HdrReplyTo]; ok {
			if c.onReply(deliveryFrom(m), id) {
				return
			}
		}
		if m.Sender == codec.NoticeSender && m.Address == codec.AddrError {
			c.onNotice(m)
			return
		}
		d := deliveryFrom(m)
		if c.onRequest(d) {
			return
		}
		c.dispatch(d)
	case codec.Ping:
		if f, err := (&codec.Message{ID: codec.PingOK}).Frames(); err == nil {
			c.dealer.Send(f...)
		}
	case codec.GoodbyeOK:
		select {
		case c.goodbye <- m.Headers:
		default:
		}
	case codec.Invalid:
		// The broker forgot our session: start a fresh one (HELLO and
		// every subscription again) on a new connection.
		c.report(errors.New("zccp: broker answered INVALID; re-establishing the session"))
		c.dealer.Reconnect(errors.New("zccp: session lost (INVALID)"))
	}
}

// onNotice handles a broker notice: it completes the call it is about, or
// goes to the error handler.
func (c *Client) onNotice(m *codec.Message) {
	n := noticeFrom(m.Headers)
	switch {
	case n.Code == codec.ErrCodeTakenOver:
		c.report(n)
		go c.shutdown()
		return
	case n.Command == "HELLO": // refused (e.g. not-authorized): Connect says why
		c.mu.Lock()
		c.lastErr = n
		c.mu.Unlock()
	case n.Command == "SUBSCRIBE":
		c.mu.Lock()
		for i := range c.waiting {
			if c.waiting[i].expr == n.Address && c.waiting[i].err == nil {
				c.waiting[i].err = n
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
	}
	c.report(n)
}

// dispatch hands a delivery to the subscriptions it belongs to, each once.
func (c *Client) dispatch(d *Delivery) {
	if c.direct != nil && d.Address == c.opts.identifier {
		c.direct.enqueue(d)
		return
	}
	fanOut(d, c.indexFor(d.Address).Match([]byte(d.Address)))
}

// heartbeat pings a quiet broker and gives up a silent connection.
func (c *Client) heartbeat() {
	defer close(c.beatDone)
	if c.opts.heartbeat == Off {
		<-c.stopBeat
		return
	}
	t := time.NewTicker(c.opts.heartbeat / 2)
	defer t.Stop()
	for {
		select {
		case <-c.stopBeat:
			return
		case <-t.C:
		}
		conn := c.dealer.Conn()
		if conn == nil {
			continue
		}
		quiet := time.Since(conn.LastReceived())
		switch {
		case c.opts.silence > 0 && quiet >= c.opts.silence:
			c.dealer.Reconnect(fmt.Errorf("zccp: broker silent for %v", quiet.Round(time.Millisecond)))
		case quiet >= c.opts.heartbeat:
			conn.Ping(max(c.opts.silence, 0), nil)
		}
	}
}

// Close ends the session politely: GOODBYE, then up to 2 s for
// GOODBYE-OK and for queued messages to go out. It returns the broker's
// session statistics when it got them.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.closeTimeout)
	defer cancel()
	_, err := c.CloseContext(ctx)
	return err
}

// CloseContext is Close with a caller-chosen bound; it returns the
// GOODBYE-OK statistics (nil if the broker did not answer in time).
func (c *Client) CloseContext(ctx context.Context) (map[string]string, error) {
	var stats map[string]string
	// Running handlers answer first; their replies go out before GOODBYE.
	c.dev.drain(ctx)
	if c.State() == Connected {
		m := codec.Message{ID: codec.Goodbye}
		if f, err := m.Frames(); err == nil && c.dealer.Send(f...) == nil {
			select {
			case h := <-c.goodbye:
				stats = h
			case <-ctx.Done():
			}
		}
	}
	c.shutdown()
	return stats, nil
}

// shutdown stops everything; safe to call more than once and from any
// goroutine but the dealer's reader.
func (c *Client) shutdown() {
	c.closeOnce.Do(func() {
		c.setState(Closed)
		close(c.stopBeat)
		<-c.beatDone
		c.dealer.Close(c.opts.closeTimeout)
		c.mu.Lock()
		waiting := c.waiting
		c.waiting = nil
		c.mu.Unlock()
		for _, w := range waiting {
			if w.done != nil {
				w.done <- ErrClosed
			}
		}
		for _, s := range c.allSubscriptions() {
			s.stop()
		}
		c.failCalls(ErrClosed)
		c.dev.cancelAll()
		c.dev.wg.Wait()
		if c.direct != nil {
			c.direct.stop()
		}
	})
}

// sysPrefix starts the expressions that select broker events ($zccp.…
// addresses); like the broker, the client routes those addresses only to
// such expressions, so that `.*` does not catch presence events.
const sysPrefix = `^\$`

// indexFor returns the local index for an address or expression: $
// addresses (and ^\$ expressions) live apart.
func (c *Client) indexFor(s string) *match.Index[*Subscription] {
	if strings.HasPrefix(s, "$") || strings.HasPrefix(s, sysPrefix) {
		return c.localSys
	}
	return c.local
}
