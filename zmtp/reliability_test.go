package zmtp

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/testutil"
)

// queueMsg queues one droppable (or not) message of n bytes; report says
// whether to take the drop count into it, as a broker DELIVER does. It
// returns the count taken, or -1 if the message was refused.
func queueMsg(t *testing.T, o *Outbox, n int, droppable, report bool) int {
	t.Helper()
	class := Command
	if droppable {
		class = Notification
	}
	taken := 0
	var err error
	if report {
		_, err = o.AppendReport(n, class, func(b []byte, missed uint64) []byte {
			taken = int(missed)
			return append(b, make([]byte, n)...)
		})
	} else {
		_, err = o.Append(n, class, func(b []byte) []byte { return append(b, make([]byte, n)...) })
	}
	if err != nil {
		if !errors.Is(err, ErrQueueFull) {
			t.Fatal(err)
		}
		return -1
	}
	return taken
}

// TestDropReportsAddUp: the drop counts handed out with messages add up
// to every drop, even when a message carrying a count is dropped in turn
// (its count is owed again), and a droppable message refused because the
// queue holds only undroppable ones counts as dropped too.
func TestDropReportsAddUp(t *testing.T) {
	o := NewOutbox(Limits{MaxBytes: 1000, MaxMessages: 1000, Overflow: OverflowDropOldest})
	reported := map[int]int{} // message index → count it carried
	for i := 0; i < 500; i++ {
		if c := queueMsg(t, o, 100, true, true); c > 0 {
			reported[i] = c
		}
	}
	// Everything still queued: which reports survive?
	msgs, _ := o.Len()
	survivors := 0
	for i := 500 - msgs; i < 500; i++ {
		survivors += reported[i]
	}
	if total := survivors + int(o.TakeDropped()); total != int(o.Dropped()) || total != 500-msgs {
		t.Fatalf("reports surviving in the queue %d + still owed → %d, dropped %d, queued %d of 500", survivors, total, o.Dropped(), msgs)
	}

	// A queue full of commands: notifications cannot be queued; they are
	// counted and reported with the next one that fits.
	o = NewOutbox(Limits{MaxBytes: 1000, MaxMessages: 1000, Overflow: OverflowDropOldest})
	for i := 0; i < 10; i++ {
		if queueMsg(t, o, 100, false, false) < 0 {
			t.Fatalf("command %d refused", i)
		}
	}
	if queueMsg(t, o, 100, false, false) >= 0 {
		t.Fatal("an 11th command of 100 bytes fit into 1000")
	}
	for i := 0; i < 7; i++ {
		if queueMsg(t, o, 100, true, true) >= 0 {
			t.Fatal("a notification fit into a queue full of commands")
		}
	}
	if o.Dropped() != 7 {
		t.Fatalf("dropped %d, want 7 (refused notifications)", o.Dropped())
	}
	// The writer takes the queue; the next notification carries all 7.
	var stop atomic.Bool
	if _, ok := o.take(&stop); !ok {
		t.Fatal("take")
	}
	if c := queueMsg(t, o, 100, true, true); c != 7 {
		t.Fatalf("next notification reports %d, want 7", c)
	}

	// OverflowReject refuses the newest instead; refused notifications
	// are reported all the same.
	o = NewOutbox(Limits{MaxBytes: 1000, MaxMessages: 1000, Overflow: OverflowReject})
	refused := 0
	for i := 0; i < 15; i++ {
		if queueMsg(t, o, 100, true, true) < 0 {
			refused++
		}
	}
	if _, ok := o.take(&stop); !ok {
		t.Fatal("take")
	}
	if c := queueMsg(t, o, 100, true, true); refused != 5 || c != 5 {
		t.Fatalf("reject: %d refused, next notification reports %d", refused, c)
	}
}

// TestOverflowDisconnectClosesAtOnce: with OverflowDisconnect, the
// connection of a peer that does not read is closed as soon as its queue
// overflows, even though the writer is blocked writing to that very peer.
func TestOverflowDisconnectClosesAtOnce(t *testing.T) {
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *Conn, 1)
	s := &Server{Options: Options{Queue: Limits{MaxBytes: 64 << 10, Overflow: OverflowDisconnect}}}
	s.Handler = func(c *Conn, id RoutingID) {
		conns <- c
		for {
			if _, err := c.ReadMessage(); err != nil {
				if !errors.Is(err, ErrSlowConsumer) {
					t.Errorf("reader ended with %v, want ErrSlowConsumer", err)
				}
				return
			}
		}
	}
	go s.Serve(ln)
	defer s.Close()
	nc, err := Dial(context.Background(), EndpointOf(ln))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer, err := Handshake(nc, Options{Type: TypeDealer})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := <-conns
	// The peer never reads: queue until the policy fires.
	msg := [][]byte{make([]byte, 1024)}
	var sendErr error
	for i := 0; i < 100_000 && sendErr == nil; i++ {
		sendErr = c.Send(msg...)
	}
	if !errors.Is(sendErr, ErrSlowConsumer) {
		t.Fatalf("send: %v, want ErrSlowConsumer", sendErr)
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("connection still open 2s after its queue overflowed (writer blocked on the peer)")
	}
	if !errors.Is(c.Err(), ErrSlowConsumer) {
		t.Fatalf("Err() = %v", c.Err())
	}
}

// TestShutdownBoundedWithHalfOpenPeers: Shutdown returns within its
// context even when peers connected and never completed the ZMTP
// handshake (they would otherwise hold it for the handshake timeout).
func TestShutdownBoundedWithHalfOpenPeers(t *testing.T) {
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: func(c *Conn, id RoutingID) {
		for {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}}
	go s.Serve(ln)
	ep := EndpointOf(ln)
	var silent []net.Conn
	for i := 0; i < 3; i++ {
		nc, err := Dial(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		silent = append(silent, nc)
	}
	// Partial greeting on one of them.
	silent[0].Write([]byte{0xFF, 0, 0})
	// And one complete connection.
	nc, err := Dial(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Handshake(nc, Options{Type: TypeDealer})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.Eventually(t, "one connection registered", func() bool { return s.connCount() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s.Shutdown(ctx)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Shutdown took %v with half-open peers, context 300ms (handshake timeout %v)", d, DefaultHandshakeTimeout)
	}
	for i, nc := range silent {
		nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 128)
		for {
			if _, err := nc.Read(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("half-open peer %d still connected after Shutdown", i)
				}
				break
			}
		}
	}
}

// FuzzOutboxAccounting drives an outbox with a random mix of droppable and
// undroppable messages, reports and writer takes, and checks that the
// reports that reach the writer plus those still queued or owed always
// add up to the drops.
func FuzzOutboxAccounting(f *testing.F) {
	f.Add([]byte{0x81, 0x82, 0x03, 0xff, 0x10, 0x90})
	f.Fuzz(func(t *testing.T, ops []byte) {
		o := NewOutbox(Limits{MaxBytes: 2000, MaxMessages: 20, Overflow: OverflowDropOldest})
		var stop atomic.Bool
		reportsIn := func() int { // reports carried by queued messages
			o.mu.Lock()
			defer o.mu.Unlock()
			n := 0
			for _, m := range o.marks {
				n += int(m.reported)
			}
			return n
		}
		written := 0 // reports that reached the writer
		for _, op := range ops {
			if op == 0xff { // the writer takes everything (take blocks on an empty queue)
				if _, n := o.Len(); n == 0 {
					continue
				}
				r := reportsIn()
				if _, ok := o.take(&stop); ok {
					written += r
				}
				continue
			}
			droppable := op&0x80 != 0
			size := 10 + int(op&0x7f)*10
			body := func(b []byte, _ uint64) []byte { return append(b, make([]byte, size)...) }
			if droppable {
				o.AppendReport(size, Notification, body)
			} else {
				o.Append(size, Command, func(b []byte) []byte { return body(b, 0) })
			}
		}
		queued := reportsIn()
		o.mu.Lock()
		owed, dropped := int(o.unreport), int(o.dropped)
		o.mu.Unlock()
		if written+queued+owed != dropped {
			t.Fatalf("reports written %d + queued %d + owed %d != dropped %d", written, queued, owed, dropped)
		}
	})
}
