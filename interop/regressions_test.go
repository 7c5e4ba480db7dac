package interop

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// Regression tests for two zmtp defects this suite found (see README.md):
// a PONG refused by a full outbox closed the connection, and large write
// batches regrew their buffer from nothing every time.

// TestPingWithFullOutboxKeepsConnection: formerly, when a connection's Outbox is
// full (OverflowReject), an incoming PING makes Conn.ReadMessage fail with
// ErrQueueFull and close the connection: the PONG goes through
// Outbox.Append and its limits, and handleCommand's error is fatal. A
// libzmq peer with ZMQ_HEARTBEAT_IVL that is slow to read gets
// disconnected by our side although the policy says "reject new
// messages", not "disconnect". Expected: the PONG bypasses the limits
// (as SendFirst does) or is skipped, and the connection stays up.
func TestPingWithFullOutboxKeepsConnection(t *testing.T) {
	srv := startServer(t, "tcp://127.0.0.1:0", zmtp.Options{
		// At most 8 queued messages: when the queue is full, there is no
		// room for a PONG either, however small.
		Queue: zmtp.Limits{MaxMessages: 8, Overflow: zmtp.OverflowReject},
	}, func(*testServer, *zmtp.Conn, zmtp.RoutingID, [][]byte) {})
	zctx := newZContext(t)
	dealer := newZSocket(t, zctx, zmq.DEALER,
		func(s *zmq.Socket) error { return s.SetRcvhwm(1) },
		func(s *zmq.Socket) error { return s.SetHeartbeatIvl(100 * time.Millisecond) },
		func(s *zmq.Socket) error { return s.SetHeartbeatTimeout(10 * time.Second) },
	)
	if err := dealer.Connect(srv.endpoint); err != nil {
		t.Fatal(err)
	}
	zsend(t, dealer, []byte("hello")) // the DEALER now never reads
	c := srv.onlyConn(t)
	big := make([]byte, 64<<10)
	full := false
	for i := 0; i < 10_000 && !full; i++ { // ~650 MB at most; the kernel buffers take a few MB
		err := c.Send(big)
		switch {
		case errors.Is(err, zmtp.ErrQueueFull):
			full = true
		case err != nil:
			t.Fatalf("send %d: %v", i, err)
		default:
			time.Sleep(time.Millisecond / 4) // let the writer hand bytes to the kernel
		}
	}
	if !full {
		t.Fatal("the outbox never filled")
	}
	holdFor(t, time.Second, "connection up while the peer PINGs and our queue is full", func() bool {
		select {
		case <-c.Done():
			t.Logf("read errors: %v", srv.readErrors())
			return false
		default:
			return true
		}
	})
}

// TestOutboxBatchOverSpareReusesBuffer: formerly, Outbox kept the buffer of the
// last written batch for reuse only if its capacity is at most 1 MiB
// (maxSpare). Once batches are larger (a subscriber a little behind: 1 MiB
// is ~10k messages of 100 bytes), every batch regrows its buffer from
// nothing by doubling: about twice the batch size allocated, zeroed and
// copied per batch, and the garbage collector and scavenger (madvise)
// busy. In the relay benchmark a 10k-message window cuts the native
// relay from ~2.5M to ~0.6M deliveries/s and from ~0.2 to ~1.2 µs of CPU
// per delivery. Expected: the buffer is reused (or regrown once to its
// previous size) whatever the batch size, within the Outbox's memory
// bound.
func TestOutboxBatchOverSpareReusesBuffer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		messages int
	}{
		{"800KB-batches", 8000},
		{"1.2MB-batches", 12000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, received := connPair(t)
			msg := pattern(100, 1)
			size := zmtp.FrameHeaderSize(len(msg)) + len(msg)
			var total int64
			round := func() {
				ob := sc.Outbox()
				before := sc.LastSent()
				for range tc.messages {
					if _, err := ob.Append(size, zmtp.Command, func(b []byte) []byte { return zmtp.AppendFrame(b, msg, false) }); err != nil {
						t.Fatal(err)
					}
				}
				ob.Flush()
				total += int64(tc.messages)
				testutil.Eventually(t, "batch delivered", func() bool { return received.Load() == total && sc.LastSent() != before })
			}
			round() // the first batch allocates its buffer
			round()
			// A round can start while the writer still holds the previous
			// round's last buffer (the peer has every byte before the
			// writer hands the buffer back), and then regrows one: about
			// 2.6 batches. Without reuse every round regrows (about 26
			// batches in 10 rounds); two regrows are allowed.
			const rounds = 10
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for range rounds {
				round()
			}
			runtime.ReadMemStats(&m1)
			alloc := m1.TotalAlloc - m0.TotalAlloc
			batch := uint64(tc.messages * size)
			t.Logf("batch %d bytes: %d bytes allocated in %d batches", batch, alloc, rounds)
			if alloc > 6*batch {
				t.Fatalf("%d bytes allocated in %d batches of %d bytes: the queue buffer is not reused", alloc, rounds, batch)
			}
		})
	}
}

// connPair returns the server side of a ROUTER–DEALER connection over
// loopback tcp whose DEALER side reads and counts every message.
func connPair(t *testing.T) (*zmtp.Conn, *atomic.Int64) {
	t.Helper()
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   *zmtp.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			accepted <- result{nil, err}
			return
		}
		c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeRouter})
		accepted <- result{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	nc, err := zmtp.Dial(ctx, zmtp.EndpointOf(ln))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer})
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		cc.Close()
		t.Fatal(r.err)
	}
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := cc.ReadMessage(); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	t.Cleanup(func() {
		r.c.Close()
		cc.Close()
		<-done
	})
	return r.c, &received
}
