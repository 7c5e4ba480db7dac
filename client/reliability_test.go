package client_test

// Reliability of the Go client over real sockets: it answers the broker's
// PINGs, notices a broker that went silent, reconnects with exponential
// backoff and jitter, and recovers transparently (same HELLO, every live
// subscription restored, publishes made while disconnected sent once on
// reconnect, state changes observable). Some tests use a scripted peer
// (a zmtp.Server that answers like a broker and records what it gets)
// where the real broker could not show what is on the wire.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// stateLog records the states a client goes through.
type stateLog struct {
	mu     sync.Mutex
	states []client.State
	at     []time.Time
}

func (l *stateLog) record(s client.State) {
	l.mu.Lock()
	l.states = append(l.states, s)
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
}

func (l *stateLog) get() ([]client.State, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.states), slices.Clone(l.at)
}

func seqBytes(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

func seqFrom(b []byte) int {
	if len(b) != 8 {
		return -1
	}
	return int(binary.BigEndian.Uint64(b))
}

// TestClientAnswersBrokerPings: with its own heartbeat off, the client
// stays alive on a broker with a short timeout only by answering PINGs:
// over several timeouts the session is never expired or restarted.
func TestClientAnswersBrokerPings(t *testing.T) {
	// PINGs every 30 ms; a 750 ms timeout leaves room for a loaded machine
	// (250 ms expired the session once under the full -race suite).
	b, eps := startBroker(t, broker.Config{PingInterval: 30 * time.Millisecond, Timeout: 750 * time.Millisecond})
	var log stateLog
	c := connect(t, eps[0], client.WithIdentifier("quiet"), client.WithHeartbeat(client.Off, client.Off), client.WithStateHandler(log.record))
	if _, err := c.SubscribeChan(context.Background(), "x", make(chan *client.Delivery, 1)); err != nil {
		t.Fatal(err)
	}
	// Observe for three timeouts: nothing may happen.
	end := time.Now().Add(3 * 750 * time.Millisecond)
	for time.Now().Before(end) {
		if s := b.Stats(); s.Expired != 0 || s.Started != 1 || s.Sessions != 1 || s.Subscriptions != 1 {
			t.Fatalf("the client did not keep its session alive: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if states, _ := log.get(); fmt.Sprint(states) != "[connected]" {
		t.Fatalf("states %v", states)
	}
}

// silentBroker is a peer that accepts ZMTP, answers HELLO with HELLO-OK
// and then neither reads nor writes anything (so ZMTP PINGs go
// unanswered too): a broker that hangs with its socket open.
type silentBroker struct {
	srv     *zmtp.Server
	ep      string
	conns   atomic.Int64
	hellos  chan *codec.Message
	release chan struct{}
	once    sync.Once
}

// stop releases the silent handlers and closes the server.
func (s *silentBroker) stop() {
	s.once.Do(func() {
		close(s.release)
		s.srv.Close()
	})
}

func startSilentBroker(t *testing.T) *silentBroker {
	t.Helper()
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentBroker{ep: zmtp.EndpointOf(ln), hellos: make(chan *codec.Message, 16), release: make(chan struct{})}
	s.srv = &zmtp.Server{Handler: func(c *zmtp.Conn, _ zmtp.RoutingID) {
		s.conns.Add(1)
		frames, err := c.ReadMessage()
		if err != nil {
			return
		}
		m, err := codec.Decode(frames)
		if err != nil || m.ID != codec.Hello {
			t.Errorf("first message %v %v, want HELLO", m, err)
			return
		}
		s.hellos <- m
		ok, _ := (&codec.Message{ID: codec.HelloOK, Headers: codec.Headers{codec.HdrExtensions: "notices,cancel,ping"}}).Frames()
		c.Send(ok...)
		<-s.release // silent from now on
	}}
	go s.srv.Serve(ln)
	t.Cleanup(s.stop)
	return s
}

// TestClientDetectsSilentBroker: a broker that stops answering (not even
// ZMTP PINGs) is given up after the configured silence, and the client
// reconnects by itself, saying the same HELLO.
func TestClientDetectsSilentBroker(t *testing.T) {
	leaks := testutil.Snapshot()
	sb := startSilentBroker(t)
	const heartbeat, silence = 40 * time.Millisecond, 300 * time.Millisecond
	var log stateLog
	labels := map[string]string{"kind": "pdu", "rack": "12"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, sb.ep, client.WithIdentifier("pdu-1"), client.WithLabels(labels),
		client.WithHeartbeat(heartbeat, silence), client.WithReconnect(10*time.Millisecond, 50*time.Millisecond),
		client.WithStateHandler(log.record))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		select {
		case h := <-sb.hellos:
			if h.Identifier != "pdu-1" || fmt.Sprint(map[string]string(h.Headers)) != fmt.Sprint(labels) {
				t.Fatalf("HELLO %d: %q %v", i, h.Identifier, h.Headers)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no HELLO %d: the client did not give the silent broker up", i)
		}
	}
	testutil.Eventually(t, "connected again", func() bool { return c.State() == client.Connected })
	states, at := log.get()
	if len(states) < 3 || states[0] != client.Connected || states[1] != client.Reconnecting || states[2] != client.Connected {
		t.Fatalf("states %v", states)
	}
	// Given up after the silence, not much later (the heartbeat checks
	// every heartbeat/2; the broker's last bytes were the HELLO-OK).
	if d := at[1].Sub(at[0]); d < silence-heartbeat || d > silence+heartbeat+500*time.Millisecond {
		t.Fatalf("silent broker given up after %v, silence %v", d, silence)
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer closeCancel()
	c.CloseContext(closeCtx) // the silent broker never answers GOODBYE
	sb.stop()
	testutil.CheckLeaks(t, leaks)
}

// TestReconnectBackoffWithJitter: against an endpoint that accepts and
// drops every connection at once, the attempts back off exponentially
// from the minimum to the maximum, each wait randomised by ±25%, so that
// two clients do not retry in step.
func TestReconnectBackoffWithJitter(t *testing.T) {
	// A wait shorter than its bound is a bug and fails at once; a longer
	// one can be the machine's load (a starved goroutine), so an attempt
	// with late waits is measured again, up to three times.
	var late string
	for try := 0; try < 3; try++ {
		if late = measureBackoff(t); late == "" {
			return
		}
		t.Logf("attempt %d: %s; measuring again", try+1, late)
	}
	t.Fatal(late)
}

// measureBackoff runs two clients against endpoints that drop every
// connection and checks their waits; it returns why a wait was too long,
// or "" when every wait was within its bounds.
func measureBackoff(t *testing.T) string {
	const lo, hi = 40 * time.Millisecond, 320 * time.Millisecond
	attempts := func(stamps *[]time.Time, mu *sync.Mutex) (string, net.Listener) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				*stamps = append(*stamps, time.Now())
				mu.Unlock()
				nc.Close()
			}
		}()
		return "tcp://" + ln.Addr().String(), ln
	}
	var mu sync.Mutex
	var s1, s2 []time.Time
	ep1, ln1 := attempts(&s1, &mu)
	ep2, ln2 := attempts(&s2, &mu)
	defer ln1.Close()
	defer ln2.Close()
	var wg sync.WaitGroup
	for _, ep := range []string{ep1, ep2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond) // nominal waits add up to 0.92 s; room for a loaded machine
			defer cancel()
			if _, err := client.Connect(ctx, ep, client.WithReconnect(lo, hi)); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Connect to a peer that drops every connection: %v", err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{lo, 2 * lo, 4 * lo, hi, hi}
	if len(s1) < len(want)+1 || len(s2) < len(want)+1 {
		return fmt.Sprintf("only %d and %d attempts in 2.5s", len(s1), len(s2))
	}
	gaps := func(s []time.Time) []time.Duration {
		var g []time.Duration
		for i := 1; i <= len(want); i++ {
			g = append(g, s[i].Sub(s[i-1]))
		}
		return g
	}
	g1, g2 := gaps(s1), gaps(s2)
	differ := false
	for i, w := range want {
		for _, g := range []time.Duration{g1[i], g2[i]} {
			if g < w*3/4-5*time.Millisecond {
				t.Fatalf("wait %d: %v, shorter than %v -25%% (all: %v, %v)", i, g, w, g1, g2)
			}
			if g > w*5/4+60*time.Millisecond {
				return fmt.Sprintf("wait %d: %v, want %v ±25%% (all: %v, %v)", i, g, w, g1, g2)
			}
		}
		if d := g1[i] - g2[i]; d > 2*time.Millisecond || d < -2*time.Millisecond {
			differ = true
		}
	}
	if !differ {
		t.Fatalf("two clients retried in step (no jitter): %v, %v", g1, g2)
	}
	return ""
}

// recordingBroker answers like a broker (HELLO-OK with the cancel
// extension, SUBSCRIBE-OK, GOODBYE-OK), records every message per
// connection, and drops each connection abruptly after dropAfter
// PUBLISHes on it.
type recordingBroker struct {
	ep    string
	srv   *zmtp.Server
	mu    sync.Mutex
	conns [][]*codec.Message
}

func startRecordingBroker(t *testing.T, dropAfter int) *recordingBroker {
	t.Helper()
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rb := &recordingBroker{ep: zmtp.EndpointOf(ln)}
	answer := func(c *zmtp.Conn, m codec.Message) {
		f, _ := m.Frames()
		c.Send(f...)
	}
	rb.srv = &zmtp.Server{Handler: func(c *zmtp.Conn, _ zmtp.RoutingID) {
		rb.mu.Lock()
		idx := len(rb.conns)
		rb.conns = append(rb.conns, nil)
		rb.mu.Unlock()
		pubs := 0
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				return
			}
			m, err := codec.Decode(frames)
			if err != nil {
				t.Errorf("the client sent an undecodable message: %v", err)
				return
			}
			rb.mu.Lock()
			rb.conns[idx] = append(rb.conns[idx], m)
			rb.mu.Unlock()
			switch m.ID {
			case codec.Hello:
				answer(c, codec.Message{ID: codec.HelloOK, Headers: codec.Headers{codec.HdrExtensions: "notices,cancel,ping"}})
			case codec.Subscribe:
				answer(c, codec.Message{ID: codec.SubscribeOK})
			case codec.Goodbye:
				answer(c, codec.Message{ID: codec.GoodbyeOK})
			case codec.Publish:
				if pubs++; pubs == dropAfter {
					c.Close()
					return
				}
			}
		}
	}}
	go rb.srv.Serve(ln)
	t.Cleanup(func() { rb.srv.Close() })
	return rb
}

func (rb *recordingBroker) snapshot() [][]*codec.Message {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	out := make([][]*codec.Message, len(rb.conns))
	for i, c := range rb.conns {
		out[i] = slices.Clone(c)
	}
	return out
}

// TestRecoveryResendsNothingTwice: a peer drops the connection every 100
// publishes. On every new connection the client says the same HELLO
// (identifier and labels) and restores exactly its live subscriptions
// (each once, a cancelled one not), ahead of anything queued; across all
// connections no PUBLISH arrives twice and their order holds.
func TestRecoveryResendsNothingTwice(t *testing.T) {
	leaks := testutil.Snapshot()
	rb := startRecordingBroker(t, 100)
	labels := map[string]string{"kind": "pdu", "rack": "12"}
	var log stateLog
	ctx := context.Background()
	c, err := client.Connect(ctx, rb.ep, client.WithIdentifier("dev"), client.WithLabels(labels),
		client.WithReconnect(5*time.Millisecond, 20*time.Millisecond), client.WithStateHandler(log.record))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"b", "a", "c"} {
		if _, err := c.SubscribeChan(ctx, e, make(chan *client.Delivery, 1)); err != nil {
			t.Fatal(err)
		}
	}
	subs, _ := c.SubscribeChan(ctx, "gone", make(chan *client.Delivery, 1))
	if err := subs.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := 0; i < n; i++ {
		if i%20 == 0 {
			time.Sleep(2 * time.Millisecond) // small batches: the drops cost little
		}
		for {
			err := c.Publish("metric", nil, seqBytes(i))
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrBufferFull) {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Publishes in the batch being written when the peer drops the
	// connection are lost (at most once, never twice): send markers until
	// one arrives, so that everything before it has been written.
	maxSeen := func() int {
		m := -1
		for _, msgs := range rb.snapshot() {
			for _, x := range msgs {
				if x.ID == codec.Publish {
					m = max(m, seqFrom(x.Content[0]))
				}
			}
		}
		return m
	}
	for k := n; maxSeen() < n; k++ {
		if k > n+100 {
			t.Fatalf("no marker arrived; last publish seen %d", maxSeen())
		}
		if err := c.Publish("metric", nil, seqBytes(k)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(200 * time.Millisecond)
		for maxSeen() < n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	conns := rb.snapshot()
	if len(conns) < 4 {
		t.Fatalf("only %d connections: the peer's drops did not happen", len(conns))
	}
	prev, received := -1, 0
	for i, msgs := range conns {
		if len(msgs) == 0 {
			continue
		}
		h := msgs[0]
		if h.ID != codec.Hello || h.Identifier != "dev" || fmt.Sprint(map[string]string(h.Headers)) != fmt.Sprint(labels) {
			t.Fatalf("connection %d starts with %s %q %v, want HELLO dev %v", i, h.ID, h.Identifier, h.Headers, labels)
		}
		var restored []string
		for _, m := range msgs[1:] {
			switch m.ID {
			case codec.Subscribe:
				if _, cancel := m.Headers[codec.HdrCancel]; !cancel && i > 0 {
					restored = append(restored, m.Expression)
				}
			case codec.Publish:
				if i > 0 && len(restored) != 3 {
					t.Fatalf("connection %d: PUBLISH before the subscriptions were restored (%v)", i, restored)
				}
				seq := seqFrom(m.Content[0])
				if seq <= prev {
					t.Fatalf("connection %d: publish %d after %d: sent twice or reordered", i, seq, prev)
				}
				prev = seq
				received++
			case codec.Hello:
				t.Fatalf("connection %d: second HELLO", i)
			}
		}
		if i > 0 && fmt.Sprint(restored) != "[a b c]" {
			t.Fatalf("connection %d restored %v, want [a b c] (each live subscription once, not the cancelled one)", i, restored)
		}
	}
	t.Logf("%d connections, %d publishes received once, none twice (those in a batch being written when the peer dropped the connection are lost: at most once)", len(conns), received)
	c.Close()
	states, _ := log.get()
	for i, s := range states {
		want := client.Connected
		if i%2 == 1 {
			want = client.Reconnecting
		}
		if i == len(states)-1 {
			want = client.Closed
		}
		if s != want {
			t.Fatalf("states %v", states)
		}
	}
	rb.srv.Close()
	testutil.CheckLeaks(t, leaks)
}

// TestBufferedWhileDisconnectedSentOnReconnect: with the broker gone, a
// publisher's Publish calls are held in its bounded buffer (beyond it:
// ErrBufferFull); when a broker is back the subscriber's subscription is
// restored without the application doing anything, and the held
// publishes are delivered exactly once, in order.
func TestBufferedWhileDisconnectedSentOnReconnect(t *testing.T) {
	leaks := testutil.Snapshot()
	b1, err := broker.New(broker.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := b1.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ipc := fmt.Sprintf("ipc://@/zccp-client-buffer-%d-%d", time.Now().UnixNano(), rand.Uint64())
	if _, err := b1.Listen(ipc); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var subLog, pubLog stateLog
	sub, err := client.Connect(ctx, tcp, client.WithIdentifier("sub"), client.WithReconnect(10*time.Millisecond, 50*time.Millisecond),
		client.WithStateHandler(subLog.record))
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *client.Delivery, 1024)
	if _, err := sub.SubscribeChan(ctx, "^buf", ch); err != nil {
		t.Fatal(err)
	}
	pub, err := client.Connect(ctx, ipc, client.WithIdentifier("pub"), client.WithBuffer(100, 1<<20),
		client.WithReconnect(10*time.Millisecond, 50*time.Millisecond), client.WithStateHandler(pubLog.record))
	if err != nil {
		t.Fatal(err)
	}
	pub.Publish("buf", nil, seqBytes(1000))
	if d := recv(t, ch); seqFrom(d.Body()) != 1000 {
		t.Fatalf("got %v", d.Body())
	}
	b1.Close()
	testutil.Eventually(t, "both disconnected", func() bool {
		return sub.State() == client.Reconnecting && pub.State() == client.Reconnecting
	})
	for i := 0; i < 100; i++ {
		if err := pub.Publish("buf", nil, seqBytes(i)); err != nil {
			t.Fatalf("publish %d while disconnected: %v", i, err)
		}
	}
	if err := pub.Publish("buf", nil, seqBytes(100)); !errors.Is(err, client.ErrBufferFull) {
		t.Fatalf("publish beyond the buffer: %v, want ErrBufferFull", err)
	}
	// The broker comes back: first where the subscriber connects.
	b2, err := broker.New(broker.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Listen(tcp); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "subscription restored", func() bool {
		return sub.State() == client.Connected && b2.Stats().Subscriptions == 1
	})
	none(t, ch, 20*time.Millisecond)
	// Then where the publisher connects: its buffer goes out.
	if _, err := b2.Listen(ipc); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if d := recv(t, ch); seqFrom(d.Body()) != i {
			t.Fatalf("held publish %d arrived as %d", i, seqFrom(d.Body()))
		}
	}
	none(t, ch, 50*time.Millisecond)
	if err := pub.Publish("buf", nil, seqBytes(100)); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, ch); seqFrom(d.Body()) != 100 {
		t.Fatalf("got %d", seqFrom(d.Body()))
	}
	if s := b2.Stats(); s.Started != 2 || s.Published != 101 {
		t.Fatalf("broker stats %+v", s)
	}
	sub.Close()
	pub.Close()
	b2.Close()
	for _, l := range []*stateLog{&subLog, &pubLog} {
		if states, _ := l.get(); fmt.Sprint(states) != "[connected reconnecting connected closed]" {
			t.Fatalf("states %v", states)
		}
	}
	testutil.CheckLeaks(t, leaks)
}

// TestSubscriptionChangesWhileDisconnected: a subscription made while
// the broker is away is sent on reconnect; one cancelled while away is
// not restored.
func TestSubscriptionChangesWhileDisconnected(t *testing.T) {
	leaks := testutil.Snapshot()
	ep := fmt.Sprintf("ipc://@/zccp-client-changes-%d-%d", time.Now().UnixNano(), rand.Uint64())
	b1, _ := broker.New(broker.Config{Logger: discard})
	if _, err := b1.Listen(ep); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sub, err := client.Connect(ctx, ep, client.WithIdentifier("sub"), client.WithReconnect(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *client.Delivery, 64)
	if _, err := sub.SubscribeChan(ctx, "^keep", ch); err != nil {
		t.Fatal(err)
	}
	drop, err := sub.SubscribeChan(ctx, "^drop", ch)
	if err != nil {
		t.Fatal(err)
	}
	b1.Close()
	testutil.Eventually(t, "disconnected", func() bool { return sub.State() == client.Reconnecting })
	if _, err := sub.SubscribeChan(ctx, "^added", ch); err != nil {
		t.Fatalf("subscribe while disconnected: %v", err)
	}
	if err := drop.Cancel(ctx); err != nil {
		t.Fatalf("cancel while disconnected: %v", err)
	}
	b2, _ := broker.New(broker.Config{Logger: discard})
	if _, err := b2.Listen(ep); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "restored", func() bool { return sub.State() == client.Connected && b2.Stats().Subscriptions == 2 })
	pub, err := client.Connect(ctx, ep, client.WithIdentifier("pub"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"drop", "keep", "added"} {
		pub.Publish(a, nil, []byte(a))
	}
	for _, want := range []string{"keep", "added"} {
		if d := recv(t, ch); d.Address != want {
			t.Fatalf("got %q, want %q", d.Address, want)
		}
	}
	none(t, ch, 50*time.Millisecond)
	sub.Close()
	pub.Close()
	b2.Close()
	testutil.CheckLeaks(t, leaks)
}
