package broker

// Reliability tests over real sockets (tcp 127.0.0.1 and abstract ipc):
// heartbeats and expiry, flow control (drop-oldest, zccp-missed, DIRECT
// refused with queue-full, the disconnect policy), limits, hostile input
// at the ZMTP and ZCCP levels, and the accounting of sessions under
// takeover races. Each test asserts counts (Stats), not just "no crash".

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// relConn is a raw ZCCP client that reads synchronously, on the test's
// goroutine: a test decides when it reads, so it can stop reading (a
// stalled consumer) and resume later.
type relConn struct {
	t  testing.TB
	nc net.Conn
	c  *zmtp.Conn
}

// relDial connects and runs the ZMTP handshake. rcvbuf > 0 shrinks a unix
// socket's receive buffer so that a consumer that stops reading backs up
// into the broker quickly.
func relDial(t testing.TB, endpoint string, rcvbuf int) *relConn {
	t.Helper()
	nc, err := zmtp.Dial(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// Only on unix sockets: a TCP receive buffer shrunk after connect
	// leaves a tiny window that stays throttled (about 8 KiB per 200 ms
	// here) even after it is enlarged again, so a TCP consumer that
	// resumes could not drain in time. On TCP the sender's buffers
	// (tcp_wmem, up to 4 MiB) absorb more; the tests publish enough.
	if uc, ok := nc.(*net.UnixConn); ok && rcvbuf > 0 {
		uc.SetReadBuffer(rcvbuf)
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &relConn{t: t, nc: nc, c: c}
}

// resume undoes a small receive buffer: a consumer that reads again
// should not be throttled by a tiny TCP window.
func (r *relConn) resume() {
	if s, ok := r.nc.(interface{ SetReadBuffer(int) error }); ok {
		s.SetReadBuffer(4 << 20)
	}
}

func (r *relConn) send(m codec.Message) {
	r.t.Helper()
	frames, err := m.Frames()
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendFrames(frames...)
}

// sendFrames queues one message, waiting while the local queue is full.
func (r *relConn) sendFrames(frames ...[]byte) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.c.Send(frames...)
		if err == nil {
			return
		}
		if !errors.Is(err, zmtp.ErrQueueFull) || time.Now().After(deadline) {
			r.t.Fatalf("send: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// read returns the next message from the broker within d, answering
// broker PINGs on the way. Any error (timeout included) ends the
// connection.
func (r *relConn) read(d time.Duration) (*codec.Message, error) {
	deadline := time.Now().Add(d) // PINGs do not extend it
	for {
		r.nc.SetReadDeadline(deadline)
		frames, err := r.c.ReadMessage()
		if err != nil {
			return nil, err
		}
		m, err := codec.Decode(frames)
		if err != nil {
			r.t.Errorf("the broker sent an undecodable message: %v", err)
			return nil, err
		}
		if m.ID == codec.Ping {
			r.send(codec.Message{ID: codec.PingOK})
			continue
		}
		return m, nil
	}
}

func (r *relConn) expect(id codec.ID) *codec.Message {
	r.t.Helper()
	m, err := r.read(5 * time.Second)
	if err != nil {
		r.t.Fatalf("waiting for %s: %v", id, err)
	}
	if m.ID != id {
		r.t.Fatalf("got %s %+v, want %s", m.ID, m, id)
	}
	return m
}

func (r *relConn) expectNotice(code string) *codec.Message {
	r.t.Helper()
	m := r.expect(codec.Deliver)
	if m.Sender != codec.NoticeSender || m.Headers[codec.HdrError] != code || m.Headers[codec.HdrReason] == "" {
		r.t.Fatalf("got %+v, want notice %q", m, code)
	}
	return m
}

func (r *relConn) hello(ident string) *codec.Message {
	r.t.Helper()
	r.send(codec.Message{ID: codec.Hello, Identifier: ident})
	return r.expect(codec.HelloOK)
}

func (r *relConn) subscribe(expr string) {
	r.t.Helper()
	r.send(codec.Message{ID: codec.Subscribe, Expression: expr})
	r.expect(codec.SubscribeOK)
}

// sync sends a client PING and returns every message that arrives before
// its PING-OK: everything the broker did for the commands sent before it.
func (r *relConn) sync() []*codec.Message {
	r.t.Helper()
	r.send(codec.Message{ID: codec.Ping})
	var got []*codec.Message
	for {
		m, err := r.read(5 * time.Second)
		if err != nil {
			r.t.Fatalf("sync: %v", err)
		}
		if m.ID == codec.PingOK {
			return got
		}
		got = append(got, m)
	}
}

// closedByBroker reports whether the broker closes the connection within
// d (reading and discarding whatever arrives first).
func (r *relConn) closedByBroker(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.nc.SetReadDeadline(deadline)
		_, err := r.c.ReadMessage()
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
	return false
}

// relEventually polls cond until it holds or 5 s pass.
func relEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func seqContent(i int) [][]byte {
	b := make([]byte, 8, 1024)
	binary.BigEndian.PutUint64(b, uint64(i))
	return [][]byte{b[:1024]}
}

func seqOf(m *codec.Message) int {
	if len(m.Content) == 0 || len(m.Content[0]) < 8 {
		return -1
	}
	return int(binary.BigEndian.Uint64(m.Content[0]))
}

func missedOf(t testing.TB, m *codec.Message) int {
	v, ok := m.Headers[codec.HdrMissed]
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("bad %s %q", codec.HdrMissed, v)
	}
	return n
}

// --- 1. Heartbeats -----------------------------------------------------

// TestHeartbeatPingAndExpiryTiming: HELLO-OK announces the configured
// interval and timeout; an idle client that answers PINGs is pinged about
// once per interval and stays (for several timeouts); once it stops
// answering it is expired no sooner than the timeout and no later than
// the timeout plus a few ticks, and everything it held is freed.
func TestHeartbeatPingAndExpiryTiming(t *testing.T) {
	const interval, timeout = 50 * time.Millisecond, 400 * time.Millisecond
	forEachTransport(t, Config{PingInterval: interval, Timeout: timeout}, func(t *testing.T, b *Broker, ep string) {
		c := relDial(t, ep, 0)
		ok := c.hello("idle")
		if ok.Headers[codec.HdrPingInterval] != "50" || ok.Headers[codec.HdrTimeout] != "400" {
			t.Fatalf("HELLO-OK %v", ok.Headers)
		}
		c.subscribe("x")
		c.subscribe("y")
		// Answer PINGs for two timeouts.
		pings := 0
		start := time.Now()
		var lastAnswer time.Time
		for time.Since(start) < 2*timeout {
			c.nc.SetReadDeadline(time.Now().Add(timeout))
			frames, err := c.c.ReadMessage()
			if err != nil {
				t.Fatalf("connection lost while answering PINGs: %v", err)
			}
			m, err := codec.Decode(frames)
			if err != nil || m.ID != codec.Ping {
				t.Fatalf("got %v %v, want PING", m, err)
			}
			pings++
			c.send(codec.Message{ID: codec.PingOK})
			lastAnswer = time.Now()
		}
		if want := int(2 * timeout / interval); pings < want/3 || pings > want+1 {
			t.Fatalf("%d PINGs in %v, want about %d (at most one per interval)", pings, 2*timeout, want)
		}
		if s := b.Stats(); s.Expired != 0 || s.Sessions != 1 || s.Started != 1 {
			t.Fatalf("answering client disturbed: %+v", s)
		}
		// Now silent: expired between timeout and timeout + slack, counted
		// from the last answer (the broker's last sign of life from us).
		silentFrom := lastAnswer
		for {
			c.nc.SetReadDeadline(time.Now().Add(2 * timeout))
			frames, err := c.c.ReadMessage()
			if err != nil {
				break
			}
			if m, _ := codec.Decode(frames); m == nil || m.ID != codec.Ping {
				t.Fatalf("unexpected %v", m)
			}
		}
		took := time.Since(silentFrom)
		if took < timeout-interval || took > timeout+timeout/2 {
			t.Fatalf("expired after %v of silence, timeout %v", took, timeout)
		}
		relEventually(t, "resources freed", func() bool {
			s := b.Stats()
			return s.Expired == 1 && s.Sessions == 0 && s.Subscriptions == 0 && s.Connections == 0
		})
		// The identifier is free again: no takeover.
		n := relDial(t, ep, 0)
		if h := n.hello("idle"); h.Headers[codec.HdrReplaced] != "" {
			t.Fatalf("identifier still held: %v", h.Headers)
		}
	})
}

// TestConnectionWithoutHelloExpires: a peer that completes the ZMTP
// handshake but never says HELLO is not pinged (ZCCP has no PING before
// HELLO) and is closed after the timeout.
func TestConnectionWithoutHelloExpires(t *testing.T) {
	b, eps := startBroker(t, Config{PingInterval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond})
	c := relDial(t, eps[1], 0)
	start := time.Now()
	c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	if frames, err := c.c.ReadMessage(); err == nil {
		t.Fatalf("got %q before HELLO, want nothing", frames)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("closed after %v, timeout 300ms", d)
	}
	relEventually(t, "connection freed", func() bool { s := b.Stats(); return s.Connections == 0 && s.Expired == 1 })
}

// --- 3. Flow control ----------------------------------------------------

// floodStalled publishes n 1 KiB notifications to "tele.<i%7>" from pub,
// synchronising every 256 so that they are all routed when it returns.
// pace, if set, is called before each message (to keep a window on the
// consumers that do read).
func floodStalled(pub *relConn, first, n int, pace func(i int)) {
	for i := first; i < first+n; i++ {
		if pace != nil {
			pace(i)
		}
		pub.send(codec.Message{ID: codec.Publish, Address: "tele." + strconv.Itoa(i%7), Content: seqContent(i)})
		if i%256 == 255 {
			pub.sync()
		}
	}
	pub.sync()
}

// window returns a pace function that lets the publisher run at most w
// messages ahead of a reader whose progress is *done (messages received).
func window(t testing.TB, done *atomic.Int64, w int) func(int) {
	return func(i int) {
		deadline := time.Now().Add(10 * time.Second)
		for int64(i)-done.Load() > int64(w) {
			if time.Now().After(deadline) {
				t.Fatalf("reader stuck at %d, publisher at %d", done.Load(), i)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// drain reads from a consumer that resumes reading until until(tele,
// directs) holds, and returns the sequence numbers of the notifications
// (address tele.*) and of the DIRECTs it got, and the sum of zccp-missed.
func drain(t *testing.T, c *relConn, until func(tele, directs []int) bool) (tele, directs []int, missed int) {
	t.Helper()
	c.resume()
	deadline := time.Now().Add(20 * time.Second)
	for !until(tele, directs) {
		if time.Now().After(deadline) {
			t.Fatalf("draining: still waiting after 20s (seen %d notifications, %d directs)", len(tele), len(directs))
		}
		m, err := c.read(5 * time.Second)
		if err != nil {
			t.Fatalf("draining: %v (seen %d notifications, %d directs)", err, len(tele), len(directs))
		}
		if m.ID != codec.Deliver {
			t.Fatalf("got %s while draining", m.ID)
		}
		missed += missedOf(t, m)
		if m.Sender == codec.NoticeSender {
			t.Fatalf("unexpected notice %v", m.Headers)
		}
		if bytes.HasPrefix([]byte(m.Address), []byte("tele.")) {
			tele = append(tele, seqOf(m))
		} else {
			directs = append(directs, seqOf(m))
		}
	}
	return tele, directs, missed
}

// lastIs returns a drain condition: the notification seq has arrived.
func lastIs(seq int) func(tele, _ []int) bool {
	return func(tele, _ []int) bool { return len(tele) > 0 && tele[len(tele)-1] == seq }
}

func increasing(seqs []int) bool {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			return false
		}
	}
	return true
}

// TestStalledConsumerDropOldestAccounting: a consumer that stops reading
// has its oldest notifications dropped; the others get everything in
// order; the publisher is never held up (every sync round trip returns);
// when the stalled consumer resumes, what it received plus the sum of its
// zccp-missed headers is exactly what was published, what it received is
// the newest part in order, and GOODBYE-OK reports the same drop count.
func TestStalledConsumerDropOldestAccounting(t *testing.T) {
	cfg := Config{Queue: zmtp.Limits{MaxBytes: 256 << 10, MaxMessages: 100_000, Overflow: zmtp.OverflowDropOldest}}
	forEachTransport(t, cfg, func(t *testing.T, b *Broker, ep string) {
		stalled := relDial(t, ep, 4096)
		stalled.hello("stalled")
		stalled.subscribe(`^tele\.`)
		fast := dialRaw(t, ep)
		fast.hello("fast")
		fast.subscribe(`^tele\.`)
		pub := relDial(t, ep, 0)
		pub.hello("pub")

		const n = 10000 // ~10 MiB: beyond the stalled queue and the kernel buffers (TCP: up to 4 MiB)
		var wg sync.WaitGroup
		var progress atomic.Int64
		wg.Add(1)
		go func() { // the fast consumer reads concurrently
			defer wg.Done()
			for i := 0; i < n+1; i++ {
				m := fast.expect(codec.Deliver)
				if seqOf(m) != i || m.Headers[codec.HdrMissed] != "" {
					t.Errorf("fast consumer: got seq %d missed %q, want %d", seqOf(m), m.Headers[codec.HdrMissed], i)
					progress.Store(1 << 40)
					return
				}
				progress.Add(1)
			}
		}()
		floodStalled(pub, 0, n, window(t, &progress, 128))
		if s := b.Stats(); s.Published != n {
			t.Fatalf("published %d", s.Published)
		}
		// The stalled consumer resumes; a last message carries what was
		// dropped since the previous report.
		var tele []int
		var missed int
		done := make(chan struct{})
		go func() {
			defer close(done)
			tele, _, missed = drain(t, stalled, lastIs(n))
		}()
		pub.send(codec.Message{ID: codec.Publish, Address: "tele.end", Content: seqContent(n)})
		<-done
		wg.Wait()
		if len(tele)+missed != n+1 {
			t.Fatalf("received %d + missed %d != published %d", len(tele), missed, n+1)
		}
		if missed == 0 || !increasing(tele) {
			t.Fatalf("missed %d of %d; received in order: %v", missed, n, increasing(tele))
		}
		stalled.send(codec.Message{ID: codec.Goodbye})
		bye := stalled.expect(codec.GoodbyeOK)
		if bye.Headers[codec.HdrStatDropped] != strconv.Itoa(missed) {
			t.Fatalf("GOODBYE-OK dropped %s, zccp-missed total %d", bye.Headers[codec.HdrStatDropped], missed)
		}
	})
}

// TestDirectNeverDroppedQueueFullAtOnce: DIRECT (a command) to a device
// that is not reading is never dropped: notifications queued to it are
// dropped first to make room, and once its queue holds only commands the
// requester gets queue-full at once, one per refused DIRECT. When the
// device reads again it gets every accepted DIRECT, in order; the
// notifications it missed (dropped, or refused while the queue held only
// commands) are all reported with zccp-missed.
func TestDirectNeverDroppedQueueFullAtOnce(t *testing.T) {
	cfg := Config{Queue: zmtp.Limits{MaxBytes: 128 << 10, MaxMessages: 100_000, Overflow: zmtp.OverflowDropOldest}}
	forEachTransport(t, cfg, func(t *testing.T, b *Broker, ep string) {
		dev := relDial(t, ep, 4096)
		dev.hello("dev")
		dev.subscribe(`^tele\.`)
		pub := relDial(t, ep, 0)
		pub.hello("pub")
		req := relDial(t, ep, 0)
		req.hello("req")

		// Notifications first: the device's queue is full of them.
		floodStalled(pub, 0, 3000, nil)
		// DIRECTs in batches: each batch is synchronised, and the notices
		// that came back count the refused ones.
		sent, refused := 0, 0
		for refused < 50 && sent < 20000 {
			for i := 0; i < 64; i++ {
				req.send(codec.Message{ID: codec.Direct, Address: "dev", Content: seqContent(sent)})
				sent++
			}
			for _, m := range req.sync() {
				if m.Sender != codec.NoticeSender || m.Headers[codec.HdrError] != codec.ErrCodeQueueFull ||
					m.Headers[codec.HdrAddress] != "dev" || m.Headers[codec.HdrCommand] != "DIRECT" {
					t.Fatalf("requester got %+v", m)
				}
				refused++
			}
		}
		if refused == 0 {
			t.Fatalf("no queue-full after %d DIRECTs to a device that does not read", sent)
		}
		accepted := sent - refused
		// More notifications while the queue holds only commands: they
		// cannot be queued; they must still be counted as missed.
		floodStalled(pub, 3000, 100, nil)
		// The device reads again: first every accepted DIRECT, then (once
		// its queue has room) a last notification carrying what it missed.
		tele, directs, missed := drain(t, dev, func(_, d []int) bool { return len(d) >= accepted })
		pub.send(codec.Message{ID: codec.Publish, Address: "tele.end", Content: seqContent(3100)})
		tele2, directs2, missed2 := drain(t, dev, lastIs(3100))
		tele, directs, missed = append(tele, tele2...), append(directs, directs2...), missed+missed2
		// Every DIRECT was either refused with a notice or delivered, in
		// order. (On TCP the kernel's send buffer grows now and then, so
		// a refusal may be followed by acceptances: which ones were
		// refused is checked exactly, by request id, in
		// TestRequestToStalledDeviceAnsweredOnce.)
		if len(directs) != accepted {
			t.Fatalf("device got %d DIRECTs, %d were accepted (%d sent, %d refused)", len(directs), accepted, sent, refused)
		}
		if !increasing(directs) || directs[len(directs)-1] >= sent {
			t.Fatalf("DIRECTs reordered or duplicated: %v", directs)
		}
		if s := b.Stats(); s.Directs != uint64(accepted) {
			t.Fatalf("Stats.Directs %d, accepted %d", s.Directs, accepted)
		}
		if len(tele)+missed != 3101 {
			t.Fatalf("notifications: received %d + missed %d != published 3101 (the ones refused while the queue held only commands were not reported)",
				len(tele), missed)
		}
	})
}

// TestRequestToStalledDeviceAnsweredOnce: requests (DIRECT with
// zccp-request-id) to a device whose queue is full are refused at once
// with a queue-full error reply; when the device then disconnects, every
// accepted request still outstanding gets a disconnected error. Every
// request gets exactly one final answer from the broker, and nothing is
// left outstanding.
func TestRequestToStalledDeviceAnsweredOnce(t *testing.T) {
	cfg := Config{Queue: zmtp.Limits{MaxBytes: 128 << 10, MaxMessages: 100_000, Overflow: zmtp.OverflowDropOldest}}
	b, eps := startBroker(t, cfg)
	dev := relDial(t, eps[1], 4096)
	dev.hello("dev")
	req := relDial(t, eps[0], 0)
	req.hello("req")
	answers := map[string][]string{} // request id → error codes received
	sent := 0
	refused := 0
	for refused < 20 && sent < 20000 {
		for i := 0; i < 64; i++ {
			req.send(codec.Message{ID: codec.Direct, Address: "dev", Content: seqContent(sent),
				Headers: codec.Headers{codec.HdrRequestID: "r" + strconv.Itoa(sent), codec.HdrMethod: "m"}})
			sent++
		}
		for _, m := range req.sync() {
			id := m.Headers[codec.HdrReplyTo]
			if m.Sender != codec.NoticeSender || id == "" || m.Headers[codec.HdrStatus] != codec.StatusError ||
				m.Headers[codec.HdrError] != codec.ErrCodeQueueFull || m.Headers[codec.HdrRecipient] != "dev" {
				t.Fatalf("requester got %+v", m)
			}
			answers[id] = append(answers[id], m.Headers[codec.HdrError])
			refused++
		}
	}
	accepted := sent - refused
	if refused == 0 {
		t.Fatalf("no queue-full after %d requests to a device that does not read", sent)
	}
	if s := b.Stats(); s.Inflight != accepted || s.Requests != uint64(sent) {
		t.Fatalf("inflight %d (accepted %d), requests %d (sent %d)", s.Inflight, accepted, s.Requests, sent)
	}
	dev.c.Close()
	for len(answers) < sent {
		m, err := req.read(5 * time.Second)
		if err != nil {
			t.Fatalf("after the device left: %d of %d requests answered: %v", len(answers), sent, err)
		}
		id := m.Headers[codec.HdrReplyTo]
		if id == "" || m.Headers[codec.HdrError] != codec.ErrCodeDisconnected {
			t.Fatalf("requester got %+v", m)
		}
		if len(answers[id]) > 0 {
			t.Fatalf("request %s answered twice: %v then %s", id, answers[id], m.Headers[codec.HdrError])
		}
		answers[id] = append(answers[id], m.Headers[codec.HdrError])
	}
	if got := req.sync(); len(got) != 0 {
		t.Fatalf("extra answers: %s", describe(got))
	}
	relEventually(t, "nothing outstanding", func() bool { return b.Stats().Inflight == 0 })
}

// TestOverflowDisconnectPolicy: with the disconnect policy a consumer that
// does not keep up is cut off (its session and subscriptions freed) while
// the others get everything and the publisher carries on.
func TestOverflowDisconnectPolicy(t *testing.T) {
	cfg := Config{Queue: zmtp.Limits{MaxBytes: 128 << 10, MaxMessages: 100_000, Overflow: zmtp.OverflowDisconnect}}
	forEachTransport(t, cfg, func(t *testing.T, b *Broker, ep string) {
		stalled := relDial(t, ep, 4096)
		stalled.hello("stalled")
		stalled.subscribe(`^tele\.`)
		fast := dialRaw(t, ep)
		fast.hello("fast")
		fast.subscribe(`^tele\.`)
		pub := relDial(t, ep, 0)
		pub.hello("pub")
		const n = 8000
		var wg sync.WaitGroup
		var progress atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if m := fast.expect(codec.Deliver); seqOf(m) != i {
					t.Errorf("fast consumer: got %d, want %d", seqOf(m), i)
					progress.Store(1 << 40)
					return
				}
				progress.Add(1)
			}
		}()
		floodStalled(pub, 0, n, window(t, &progress, 64))
		wg.Wait()
		relEventually(t, "slow consumer disconnected", func() bool {
			s := b.Stats()
			return s.Connections == 2 && s.Sessions == 2 && s.Subscriptions == 1
		})
		if !stalled.closedByBroker(5 * time.Second) {
			t.Fatal("the stalled consumer's connection is still open")
		}
	})
}

// TestQueueLimitsAloneKeepDropOldest: a Config that sets only the queue's
// size (not its policy) must keep the documented policy for
// notifications — drop the oldest and report them — rather than fall
// back to the zero value of zmtp.Overflow (reject the newest).
func TestQueueLimitsAloneKeepDropOldest(t *testing.T) {
	_, eps := startBroker(t, Config{Queue: zmtp.Limits{MaxBytes: 128 << 10}})
	stalled := relDial(t, eps[1], 4096)
	stalled.hello("stalled")
	stalled.subscribe(`^tele\.`)
	pub := relDial(t, eps[0], 0)
	pub.hello("pub")
	floodStalled(pub, 0, 3000, nil)
	// The consumer reads again; once it has read everything queued (no
	// more arrives for a while), a last message carries what it missed.
	stalled.resume()
	var mu sync.Mutex
	var tele []int
	var missed int
	var count atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := stalled.read(10 * time.Second)
			if err != nil {
				t.Errorf("reading again: %v", err)
				return
			}
			mu.Lock()
			missed += missedOf(t, m)
			tele = append(tele, seqOf(m))
			mu.Unlock()
			count.Add(1)
			if seqOf(m) == 3000 {
				return
			}
		}
	}()
	for last := int64(-1); count.Load() != last; {
		last = count.Load()
		time.Sleep(200 * time.Millisecond)
	}
	pub.send(codec.Message{ID: codec.Publish, Address: "tele.end", Content: seqContent(3000)})
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Whatever the policy, every notification not delivered is reported.
	if len(tele)+missed != 3001 {
		t.Fatalf("received %d + told of %d missed != 3001 published", len(tele), missed)
	}
	// Drop-oldest keeps the newest: the last one before the marker.
	if !slices.Contains(tele, 2999) {
		t.Fatalf("regression: with Config.Queue = {MaxBytes: 128 KiB} (policy left zero) the newest notifications were refused, the oldest kept "+
			"(received %d, the last %v): Config.withDefaults picks drop-oldest only when MaxBytes and MaxMessages are both zero, so the "+
			"policy silently becomes OverflowReject (zccpd itself always sets the policy)", len(tele), tele[max(0, len(tele)-3):])
	}
}

// TestConnectionsWithoutSessionAreBounded: the client limit must bound
// what the broker holds. Connections that complete the ZMTP handshake
// and keep themselves alive with ZMTP PINGs but never say HELLO are not
// sessions, so MaxClients does not count them, and liveness never
// expires them: nothing bounds them but the process's file limit.
func TestConnectionsWithoutSessionAreBounded(t *testing.T) {
	b, eps := startBroker(t, Config{MaxClients: 2, PingInterval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond})
	const n = 10
	conns := make([]*relConn, n)
	for i := range conns {
		conns[i] = relDial(t, eps[i%2], 0)
	}
	// Keep them alive for three timeouts with ZMTP PINGs only.
	end := time.Now().Add(600 * time.Millisecond)
	for time.Now().Before(end) {
		for _, c := range conns {
			c.c.Ping(time.Second, nil)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := b.Stats(); s.Connections > 2 {
		t.Fatalf("regression: %d connections without a session held past three timeouts with MaxClients 2 (sessions %d): "+
			"a peer that never says HELLO but sends ZMTP PINGs is neither expired (liveness counts any bytes) nor counted "+
			"against MaxClients; each costs two goroutines, a 32 KiB read buffer and a socket", s.Connections, s.Sessions)
	}
}

// TestPingFloodWithoutReadingIsCutOff: a client that sends commands
// whose replies it never reads cannot make the broker hold unbounded
// replies: once its queue is full of replies it is disconnected.
func TestPingFloodWithoutReadingIsCutOff(t *testing.T) {
	cfg := Config{Queue: zmtp.Limits{MaxBytes: 64 << 10, MaxMessages: 100_000, Overflow: zmtp.OverflowDropOldest}}
	b, eps := startBroker(t, cfg)
	bystander := dialRaw(t, eps[0])
	bystander.hello("bystander")
	c := relDial(t, eps[1], 4096)
	c.hello("flooder")
	ping, _ := (&codec.Message{ID: codec.Ping}).Frames()
	cut := false
	for i := 0; i < 2_000_000 && !cut; i++ {
		if err := c.c.Send(ping...); err != nil {
			if errors.Is(err, zmtp.ErrQueueFull) {
				time.Sleep(time.Millisecond)
				continue
			}
			cut = true // our side noticed the connection closed
		}
		if i%1024 == 0 && b.Stats().Connections == 1 {
			cut = true
		}
	}
	relEventually(t, "flooder cut off", func() bool { s := b.Stats(); return s.Connections == 1 && s.Sessions == 1 })
	bystander.send(codec.Message{ID: codec.Ping})
	bystander.expect(codec.PingOK)
}

// --- 4. Limits ------------------------------------------------------------

func TestLimitsWithClearErrors(t *testing.T) {
	t.Run("message-size-and-frames", func(t *testing.T) {
		_, eps := startBroker(t, Config{MaxMessageSize: 1000, MaxFrames: 4})
		sub := relDial(t, eps[0], 0)
		sub.hello("sub")
		sub.subscribe("x")
		c := relDial(t, eps[1], 0)
		c.hello("c")
		frame1, _ := (&codec.Message{ID: codec.Publish, Address: "x"}).AppendCommand(nil)
		// Exactly at the limit: delivered.
		c.sendFrames(frame1, make([]byte, 1000-len(frame1)))
		// One byte over: refused with a notice; the session goes on.
		c.sendFrames(frame1, make([]byte, 1001-len(frame1)))
		if got := c.sync(); len(got) != 1 || got[0].Headers[codec.HdrError] != codec.ErrCodeTooLarge {
			t.Fatalf("over the size limit: got %v", got)
		}
		// Four frames pass, five do not.
		c.sendFrames(frame1, []byte("a"), []byte("b"), []byte("c"))
		c.sendFrames(frame1, []byte("a"), []byte("b"), []byte("c"), []byte("d"))
		if got := c.sync(); len(got) != 1 || got[0].Headers[codec.HdrError] != codec.ErrCodeTooLarge {
			t.Fatalf("over the frame limit: got %v", got)
		}
		if m := sub.expect(codec.Deliver); len(m.Content) != 1 || len(m.Content[0]) != 1000-len(frame1) {
			t.Fatalf("got %+v", m)
		}
		if m := sub.expect(codec.Deliver); contentString(m) != "a|b|c" {
			t.Fatalf("got %+v", m)
		}
		if got := sub.sync(); len(got) != 0 {
			t.Fatalf("refused messages were delivered: %v", got)
		}
	})
	t.Run("headers", func(t *testing.T) {
		_, eps := startBroker(t, Config{MaxHeaders: 3})
		four := codec.Headers{"a": "1", "b": "2", "c": "3", "d": "4"}
		three := codec.Headers{"a": "1", "b": "2", "c": "3"}
		c := relDial(t, eps[0], 0)
		c.send(codec.Message{ID: codec.Hello, Identifier: "c", Headers: four})
		c.expectNotice(codec.ErrCodeTooManyHeaders)
		c.send(codec.Message{ID: codec.Publish, Address: "x"}) // no session was started
		c.expect(codec.Invalid)
		c.send(codec.Message{ID: codec.Hello, Identifier: "c", Headers: three})
		c.expect(codec.HelloOK)
		sub := relDial(t, eps[1], 0)
		sub.hello("sub")
		sub.subscribe("x")
		c.send(codec.Message{ID: codec.Publish, Address: "x", Headers: four})
		c.send(codec.Message{ID: codec.Direct, Address: "sub", Headers: four})
		got := c.sync()
		if len(got) != 2 || got[0].Headers[codec.HdrError] != codec.ErrCodeTooManyHeaders ||
			got[0].Headers[codec.HdrCommand] != "PUBLISH" || got[1].Headers[codec.HdrCommand] != "DIRECT" {
			t.Fatalf("got %v", got)
		}
		if got := sub.sync(); len(got) != 0 {
			t.Fatalf("refused messages were delivered: %v", got)
		}
	})
	t.Run("subscriptions", func(t *testing.T) {
		b, eps := startBroker(t, Config{MaxSubscriptions: 3})
		c := relDial(t, eps[0], 0)
		c.hello("c")
		for _, e := range []string{"a", "b", "a", "c"} { // "a" twice is stored once
			c.subscribe(e)
		}
		c.send(codec.Message{ID: codec.Subscribe, Expression: "d"})
		n := c.expectNotice(codec.ErrCodeTooManySubs)
		if n.Headers[codec.HdrAddress] != "d" {
			t.Fatalf("notice %v", n.Headers)
		}
		c.expect(codec.SubscribeOK)
		if s := b.Stats(); s.Subscriptions != 3 {
			t.Fatalf("%d subscriptions held", s.Subscriptions)
		}
		p := relDial(t, eps[1], 0)
		p.hello("p")
		p.send(codec.Message{ID: codec.Publish, Address: "d"})
		p.send(codec.Message{ID: codec.Publish, Address: "c", Content: [][]byte{[]byte("c")}})
		if m := c.expect(codec.Deliver); m.Address != "c" {
			t.Fatalf("refused subscription delivered: %+v", m)
		}
		c.send(codec.Message{ID: codec.Subscribe, Expression: "a", Headers: codec.Headers{codec.HdrCancel: "1"}})
		c.expect(codec.SubscribeOK)
		c.subscribe("d") // room again
		if s := b.Stats(); s.Subscriptions != 3 {
			t.Fatalf("%d subscriptions held", s.Subscriptions)
		}
	})
	t.Run("clients", func(t *testing.T) {
		b, eps := startBroker(t, Config{MaxClients: 2})
		c := relDial(t, eps[0], 0)
		refusedThenAdmitted := func(what string) {
			t.Helper()
			relEventually(t, what+": slot freed", func() bool { return b.Stats().Sessions < 2 })
			c.send(codec.Message{ID: codec.Hello, Identifier: "c"})
			c.expect(codec.HelloOK)
			c.send(codec.Message{ID: codec.Goodbye})
			c.expect(codec.GoodbyeOK)
		}
		a := relDial(t, eps[0], 0)
		a.hello("a")
		bb := relDial(t, eps[1], 0)
		bb.hello("b")
		c.send(codec.Message{ID: codec.Hello, Identifier: "c"})
		c.expectNotice(codec.ErrCodeTooManyClients)
		c.send(codec.Message{ID: codec.Publish, Address: "x"}) // no session was started
		c.expect(codec.Invalid)
		// Taking over an identifier at the limit is allowed (it replaces).
		a2 := relDial(t, eps[1], 0)
		if h := a2.hello("a"); h.Headers[codec.HdrReplaced] != "1" {
			t.Fatalf("takeover at the limit: %v", h.Headers)
		}
		a.expectNotice(codec.ErrCodeTakenOver)
		if s := b.Stats(); s.Sessions != 2 {
			t.Fatalf("%d sessions after a takeover at the limit", s.Sessions)
		}
		// Every way a session ends frees its slot: GOODBYE, INVALID,
		// disconnection (expiry: TestHeartbeatPingAndExpiryTiming).
		a2.send(codec.Message{ID: codec.Goodbye})
		a2.expect(codec.GoodbyeOK)
		refusedThenAdmitted("goodbye")
		a2.hello("a")
		bb.send(codec.Message{ID: codec.HelloOK})
		bb.expectNotice(codec.ErrCodeBadSequence)
		bb.expect(codec.Invalid)
		refusedThenAdmitted("invalid")
		bb.hello("b")
		a2.c.Close()
		refusedThenAdmitted("disconnect")
		bb.send(codec.Message{ID: codec.Goodbye})
		bb.expect(codec.GoodbyeOK)
		relEventually(t, "all freed", func() bool { return b.Stats().Sessions == 0 })
	})
}

// TestResubscribeAtLimit: subscribing again to an expression the session
// already holds adds nothing, so it must not be refused at the limit.
func TestResubscribeAtLimit(t *testing.T) {
	_, eps := startBroker(t, Config{MaxSubscriptions: 2})
	c := relDial(t, eps[0], 0)
	c.hello("c")
	c.subscribe("a")
	c.subscribe("b")
	c.send(codec.Message{ID: codec.Subscribe, Expression: "a"})
	if got := c.sync(); len(got) != 1 || got[0].ID != codec.SubscribeOK {
		t.Fatalf("regression: SUBSCRIBE to an expression already held, at the subscription limit, is answered %s instead of a bare SUBSCRIBE-OK (broker/handlers.go subscribe checks the count before index.Add)", describe(got))
	}
}

// TestSubscribeHeaderLimit: the header limit applies to every dictionary
// (docs/protocol.md §5.7: "headers per dictionary"; §6.2: "the command was
// not executed"), SUBSCRIBE included.
func TestSubscribeHeaderLimit(t *testing.T) {
	b, eps := startBroker(t, Config{MaxHeaders: 3})
	c := relDial(t, eps[0], 0)
	c.hello("c")
	c.send(codec.Message{ID: codec.Subscribe, Expression: "x", Headers: codec.Headers{"a": "1", "b": "2", "c": "3", "d": "4"}})
	got := c.sync()
	if len(got) != 2 || got[0].Headers[codec.HdrError] != codec.ErrCodeTooManyHeaders || got[1].ID != codec.SubscribeOK ||
		b.Stats().Subscriptions != 0 {
		t.Fatalf("regression: SUBSCRIBE with 4 headers (limit 3) was executed without a too-many-headers notice: got %s, %d subscriptions held (broker/handlers.go subscribe does not check MaxHeaders)",
			describe(got), b.Stats().Subscriptions)
	}
}

// --- 5. Hostile input -------------------------------------------------------

// TestOutOfSequenceTable checks the documented answer (docs/protocol.md
// §4) to every command id, with and without a session, over a socket.
func TestOutOfSequenceTable(t *testing.T) {
	b, eps := startBroker(t, Config{})
	c := relDial(t, eps[0], 0)
	encode := func(id codec.ID) [][]byte {
		m := codec.Message{ID: id, Identifier: "t", Expression: "e", Address: "nobody", Sender: "s"}
		f, err := m.Frames()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	kinds := describe
	// collect sends a PING and returns what arrives before its PING-OK.
	collect := func() []*codec.Message { return c.sync() }
	// Without a session everything but HELLO is INVALID (and no notice).
	for id := codec.ID(2); id <= codec.Invalid; id++ {
		c.sendFrames(encode(id)...)
		c.send(codec.Message{ID: codec.Hello, Identifier: "t"})
		if got, want := kinds(collect()), "[INVALID HELLO-OK]"; got != want {
			t.Fatalf("%s without a session: got %s, want %s", id, got, want)
		}
		c.send(codec.Message{ID: codec.Goodbye})
		c.expect(codec.GoodbyeOK)
	}
	// In a session. ends: the session is over afterwards.
	inSession := map[codec.ID]struct {
		want string
		ends bool
	}{
		codec.Hello:       {"[INVALID]", true},
		codec.Subscribe:   {"[SUBSCRIBE-OK]", false},
		codec.Publish:     {"[]", false},
		codec.Direct:      {"[notice:no-such-client]", false},
		codec.Goodbye:     {"[GOODBYE-OK]", true},
		codec.Ping:        {"[PING-OK]", false},
		codec.PingOK:      {"[]", false},
		codec.HelloOK:     {"[notice:bad-sequence INVALID]", true},
		codec.SubscribeOK: {"[notice:bad-sequence INVALID]", true},
		codec.Deliver:     {"[notice:bad-sequence INVALID]", true},
		codec.GoodbyeOK:   {"[notice:bad-sequence INVALID]", true},
		codec.Invalid:     {"[notice:bad-sequence INVALID]", true},
	}
	for id := codec.Hello; id <= codec.Invalid; id++ {
		c.send(codec.Message{ID: codec.Hello, Identifier: "t"})
		c.expect(codec.HelloOK)
		c.subscribe("held")
		c.sendFrames(encode(id)...)
		tc := inSession[id]
		want := tc.want
		if tc.ends {
			// Without a session, PUBLISH is INVALID; a new HELLO makes the
			// sync PING answerable.
			c.send(codec.Message{ID: codec.Publish, Address: "x"})
			c.send(codec.Message{ID: codec.Hello, Identifier: "t"})
			want = want[:len(want)-1] + " INVALID HELLO-OK]"
		}
		got := collect()
		if id == codec.Ping { // its PING-OK ended collect; the sync's follows
			got = append(got, &codec.Message{ID: codec.PingOK})
			c.expect(codec.PingOK)
		}
		if kinds(got) != want {
			t.Fatalf("%s in a session: got %s, want %s", id, kinds(got), want)
		}
		if tc.ends {
			// Only the new session's nothing is held: the old one's
			// subscription went with it.
			if s := b.Stats(); s.Sessions != 1 || s.Subscriptions != 0 {
				t.Fatalf("%s: old session not forgotten: %+v", id, s)
			}
		}
		c.send(codec.Message{ID: codec.Goodbye})
		c.expect(codec.GoodbyeOK)
	}
	// Unknown ids, a bad signature, an empty frame: malformed, then INVALID.
	for _, f := range [][]byte{{0xAA, 0xAA, 0}, {0xAA, 0xAA, 13}, {0xAA, 0xAA, 255}, {0xAB, 0xAA, 1, 0, 0, 0, 0, 0}, {}} {
		c.send(codec.Message{ID: codec.Hello, Identifier: "t"})
		c.expect(codec.HelloOK)
		c.sendFrames(f)
		c.expectNotice(codec.ErrCodeMalformed)
		c.expect(codec.Invalid)
	}
	if s := b.Stats(); s.Connections != 1 || s.Sessions != 0 || s.Malformed != 5 {
		t.Fatalf("stats %+v", s)
	}
}

// zmtpGreeting is a ZMTP 3.1 NULL greeting (as a client).
func zmtpGreeting(major byte, mech string) []byte {
	g := []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, 1}
	var m [20]byte
	copy(m[:], mech)
	g = append(g, m[:]...)
	g = append(g, 0)
	return append(g, make([]byte, 31)...)
}

// zmtpCommand encodes a ZMTP command frame.
func zmtpCommand(name string, data []byte) []byte {
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, data...)
	if len(body) > 255 {
		return append(binary.BigEndian.AppendUint64([]byte{0x06}, uint64(len(body))), body...)
	}
	return append([]byte{0x04, byte(len(body))}, body...)
}

func zmtpReady(socketType string) []byte {
	md := []byte{byte(len("Socket-Type"))}
	md = append(md, "Socket-Type"...)
	md = binary.BigEndian.AppendUint32(md, uint32(len(socketType)))
	md = append(md, socketType...)
	return zmtpCommand("READY", md)
}

// TestHostileZMTPClosesOnlyThatConnection sends broken ZMTP (greeting,
// handshake and framing errors) on raw sockets: the broker closes each
// such connection, never panics, frees it, and a bystander session never
// notices.
func TestHostileZMTPClosesOnlyThatConnection(t *testing.T) {
	b, eps := startBroker(t, Config{})
	bystander := dialRaw(t, eps[0])
	bystander.hello("bystander")
	bystander.subscribe("x")
	handshake := append(zmtpGreeting(3, "NULL"), zmtpReady("DEALER")...)
	hello, _ := (&codec.Message{ID: codec.Hello, Identifier: "h"}).Frames()
	helloFrame := append([]byte{0, byte(len(hello[0]))}, hello[0]...)
	cases := []struct {
		name string
		data []byte
	}{
		{"bad signature", make([]byte, 64)},
		{"zmtp 1.0", zmtpGreeting(1, "NULL")},
		{"mechanism PLAIN", zmtpGreeting(3, "PLAIN")},
		{"socket type PUB", append(zmtpGreeting(3, "NULL"), zmtpReady("PUB")...)},
		{"no READY", append(zmtpGreeting(3, "NULL"), zmtpCommand("HELLO", nil)...)},
		{"message before READY", append(zmtpGreeting(3, "NULL"), 0, 1, 'x')},
		{"reserved flag bits", append(slicesConcat(handshake, helloFrame), 0x80, 0)},
		{"command frame with MORE", slicesConcat(handshake, helloFrame, []byte{0x05, 7, 4, 'P', 'I', 'N', 'G', 0, 0})},
		{"frame of 2^63 bytes", slicesConcat(handshake, helloFrame, []byte{0x02, 0x80, 0, 0, 0, 0, 0, 0, 0})},
		{"ERROR command", slicesConcat(handshake, helloFrame, zmtpCommand("ERROR", []byte{3, 'b', 'y', 'e'}))},
		{"READY again", slicesConcat(handshake, helloFrame, zmtpReady("DEALER"))},
		{"empty command name", slicesConcat(handshake, helloFrame, []byte{0x04, 1, 0})},
		{"short PING", slicesConcat(handshake, helloFrame, zmtpCommand("PING", []byte{1}))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := zmtp.Dial(context.Background(), eps[len(tc.name)%2])
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, nc); err != nil {
				t.Fatalf("broker did not close the connection: %v", err)
			}
			relEventually(t, "connection freed", func() bool { s := b.Stats(); return s.Connections == 1 && s.Sessions == 1 })
		})
	}
	// Truncated in the middle of a frame, then closed by the client.
	nc, err := zmtp.Dial(context.Background(), eps[0])
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(slicesConcat(handshake, helloFrame, []byte{0x00, 200, 'a', 'b'}))
	relEventually(t, "half a frame: session started", func() bool { return b.Stats().Sessions == 2 })
	nc.Close()
	relEventually(t, "truncated connection freed", func() bool { s := b.Stats(); return s.Connections == 1 && s.Sessions == 1 })

	p := dialRaw(t, eps[1])
	p.hello("p")
	p.publish("x", "still here")
	if m := bystander.expect(codec.Deliver); contentString(m) != "still here" {
		t.Fatalf("got %+v", m)
	}
}

// describe lists commands by name, notices by code.
func describe(ms []*codec.Message) string {
	var s []string
	for _, m := range ms {
		if m.ID == codec.Deliver && m.Sender == codec.NoticeSender {
			s = append(s, "notice:"+m.Headers[codec.HdrError])
		} else {
			s = append(s, m.ID.String())
		}
	}
	return fmt.Sprint(s)
}

func slicesConcat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestTakeoverRaceKeepsSessionCount: a takeover racing with the end of
// the old session (its connection closing) must leave the session count
// equal to the sessions alive; otherwise the client limit and Stats
// drift.
func TestTakeoverRaceKeepsSessionCount(t *testing.T) {
	b, eps := startBroker(t, Config{})
	for i := 0; i < 200; i++ {
		old := relDial(t, eps[i%2], 0)
		old.hello("dup")
		newer := relDial(t, eps[(i+1)%2], 0)
		f, _ := (&codec.Message{ID: codec.Hello, Identifier: "dup"}).Frames()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); old.c.Close() }()
		newer.sendFrames(f...)
		newer.expect(codec.HelloOK)
		wg.Wait()
		relEventually(t, "old connection gone", func() bool { return b.Stats().Connections == 1 })
		if s := b.Stats(); s.Sessions != 1 {
			t.Fatalf("regression: after a takeover racing with the old connection's close (iteration %d) Stats.Sessions = %d with one live session: "+
				"Broker.register does not count the new session when it finds an old one, and endSession(old, ReasonDisconnected) "+
				"running between register and endSession(old, ReasonTakenOver) decrements nsess for it", i, s.Sessions)
		}
		newer.send(codec.Message{ID: codec.Goodbye})
		newer.expect(codec.GoodbyeOK)
		newer.c.Close()
		relEventually(t, "all gone", func() bool { s := b.Stats(); return s.Connections == 0 && s.Sessions == 0 })
	}
}
