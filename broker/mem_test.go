package broker

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// MemBroker drives a broker's connections without sockets, for the
// transcripts' mem run (package broker_test): each connection is a peer
// whose inputs the test steps itself (messages, the connection's end,
// ticks of a fake clock) and whose effects are recorded as the frames a
// socket would have carried. Nothing goes through zmtp.Conn or the
// outboxes' writers, so the broker's output is complete the moment step
// returns, and time moves only with Advance.
type MemBroker struct {
	b     *Broker
	now   time.Time
	conns []*MemConn
}

// NewMemBroker starts a broker with cfg (no listener) and a fake clock
// that starts at the real time of the call; it is closed at the end of
// the test.
func NewMemBroker(t testing.TB, cfg Config) *MemBroker {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	// Wall clock only (no monotonic reading): the machine compares it with
	// times it stores as Unix nanoseconds.
	return &MemBroker{b: b, now: time.Now().Round(0)}
}

// MemConn is one connection of a MemBroker.
type MemConn struct {
	m                  *MemBroker
	p                  *peer
	got                [][][]byte // what the broker sent, not yet taken
	closed             bool       // by either side
	closedBy           CloseReason
	lastRecv, lastSent time.Time
}

// Connect opens a connection (as after the ZMTP handshake).
func (m *MemBroker) Connect() *MemConn {
	c := &MemConn{m: m, lastRecv: m.now, lastSent: m.now}
	b := m.b
	p := &peer{b: b, out: zmtp.NewOutbox(zmtp.Limits{}), num: b.nextPeer.Add(1)}
	p.fx = memEffects{c}
	p.noSess.Store(m.now.UnixNano())
	p.live = liveness{interval: b.cfg.PingInterval, timeout: b.cfg.Timeout}
	c.p = p
	m.conns = append(m.conns, c)
	return c
}

// Send steps one message from the client.
func (c *MemConn) Send(frames [][]byte) {
	if c.closed {
		return
	}
	c.lastRecv = c.m.now
	if err := c.tooLarge(frames); err != nil {
		c.p.step(input{kind: inTooLarge, err: err})
		return
	}
	c.p.step(input{kind: inMessage, frames: frames})
}

// tooLarge applies the limits a connection's reader applies (zmtp's
// reader: the frame that crosses a limit is where it is refused).
func (c *MemConn) tooLarge(frames [][]byte) error {
	cfg := &c.m.b.cfg
	var total uint64
	for i, f := range frames {
		total += uint64(len(f))
		tooBig := cfg.MaxMessageSize > 0 && total > uint64(cfg.MaxMessageSize)
		tooMany := cfg.MaxFrames > 0 && i >= cfg.MaxFrames
		switch {
		case tooMany:
			return &zmtp.TooLargeError{Frames: i + 1, Limit: cfg.MaxFrames}
		case tooBig:
			return &zmtp.TooLargeError{Size: total, Limit: int(cfg.MaxMessageSize)}
		}
	}
	return nil
}

// Close ends the connection from the client's side.
func (c *MemConn) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.p.step(input{kind: inClosed, reason: ReasonDisconnected})
}

// ClosedByBroker reports whether the broker closed the connection.
func (c *MemConn) ClosedByBroker() bool { return c.closedBy != 0 }

// Take returns and forgets what the broker sent since the last Take, one
// message (its frames) per element.
func (c *MemConn) Take() [][][]byte {
	got := c.got
	c.got = nil
	return got
}

// Advance moves the fake clock by d in steps of at most a tenth of the
// broker's ping interval or timeout (as the ticker would run), ticking
// every open connection at each step and sweeping the request table.
func (m *MemBroker) Advance(d time.Duration) {
	step := m.b.cfg.PingInterval / 10
	if t := m.b.cfg.Timeout / 10; t > 0 && (step <= 0 || t < step) {
		step = t
	}
	step = max(step, time.Millisecond)
	for end := m.now.Add(d); m.now.Before(end); {
		m.now = m.now.Add(step)
		if m.now.After(end) {
			m.now = end
		}
		for _, c := range m.conns {
			if c.closed {
				continue
			}
			c.p.step(input{kind: inTick, now: m.now})
			if c.closed { // expired: the reader would see its connection end
				c.p.step(input{kind: inClosed, reason: ReasonDisconnected})
			}
		}
		m.b.sweepRequests(m.now)
	}
}

// memEffects records what a peer sends as the frames a socket would have
// carried to each connection, at the fake clock's time.
type memEffects struct{ c *MemConn }

// memRemote is every mem connection's address (as an abstract ipc peer).
var memRemote = &net.UnixAddr{Name: "@", Net: "unix"}

// record stores one message to c, copying its frames.
func (c *MemConn) record(frames ...[]byte) bool {
	if c.closed {
		return false
	}
	cp := make([][]byte, len(frames))
	for i, f := range frames {
		cp[i] = bytes.Clone(f)
	}
	c.got = append(c.got, cp)
	c.lastSent = c.m.now
	return true
}

func (e memEffects) reply(m codec.Message) bool {
	frames, err := m.Frames()
	if err != nil {
		panic(fmt.Sprintf("mem: encoding %s: %v", m.ID, err))
	}
	if !e.c.record(frames...) {
		return false
	}
	return true
}

func (e memEffects) deliver(t *session, d delivery, droppable bool) bool {
	to := t.peer.fx.(memEffects).c
	var f1 []byte
	if d.deadline.IsZero() {
		f1 = codec.AppendDeliver(nil, d.sender, d.address, d.headers, nil)
	} else {
		// The TTL left when the command is written, as an outbox does.
		left := max(d.deadline.Sub(e.c.m.now).Milliseconds(), 0)
		ttl := []codec.Header{{Name: codec.HdrTTL, Value: fmt.Sprintf("%010d", left)}}
		f1 = codec.AppendDeliverReplacing(nil, d.sender, d.address, d.headers, ttl)
	}
	return to.record(append([][]byte{f1}, d.content...)...)
}

func (e memEffects) deliverMsg(t *session, m codec.Message, droppable bool) bool {
	frames, err := m.Frames()
	if err != nil {
		return true
	}
	return t.peer.fx.(memEffects).c.record(frames...)
}

func (e memEffects) notify(frames [][]byte, droppable bool) bool { return e.c.record(frames...) }
func (e memEffects) ping()                                       { e.c.record([]byte{0xAA, 0xAA, byte(codec.Ping)}) }

func (e memEffects) close(why CloseReason) {
	e.c.closed = true
	e.c.closedBy = why
}

func (e memEffects) now() time.Time          { return e.c.m.now }
func (memEffects) remote() net.Addr          { return memRemote }
func (memEffects) peerKey() zmtp.CurveKey    { return zmtp.CurveKey{} }
func (e memEffects) lastReceived() time.Time { return e.c.lastRecv }
func (e memEffects) lastSent() time.Time     { return e.c.lastSent }
