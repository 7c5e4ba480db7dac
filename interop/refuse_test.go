package interop

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// TestIncompatibleLibzmqPeerRefused: libzmq sockets whose type cannot talk
// to a ROUTER are refused at the handshake: OnError reports
// ErrIncompatible, the handler never runs, no message is delivered.
func TestIncompatibleLibzmqPeerRefused(t *testing.T) {
	for _, typ := range []zmq.Type{zmq.PUB, zmq.SUB, zmq.REP, zmq.PUSH, zmq.PULL, zmq.PAIR} {
		t.Run(typ.String(), func(t *testing.T) {
			var delivered atomic.Int32
			srv := startServer(t, "tcp://127.0.0.1:0", zmtp.Options{}, func(*testServer, *zmtp.Conn, zmtp.RoutingID, [][]byte) { delivered.Add(1) })
			zctx := newZContext(t)
			peer := newZSocket(t, zctx, typ, func(s *zmq.Socket) error { return s.SetReconnectIvl(50 * time.Millisecond) })
			if err := peer.Connect(srv.endpoint); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "OnError reported the peer", func() bool { return len(srv.reportedErrors()) > 0 })
			for _, err := range srv.reportedErrors() {
				if !errors.Is(err, zmtp.ErrIncompatible) {
					t.Fatalf("OnError: %v, want ErrIncompatible", err)
				}
			}
			switch typ {
			case zmq.PUB, zmq.PUSH, zmq.PAIR:
				peer.SendMessageDontwait("should not arrive") // EAGAIN for PUSH/PAIR: no usable peer
			}
			holdFor(t, 300*time.Millisecond, "no connection established", func() bool { return srv.accepts() == 0 && srv.live() == 0 })
			if n := delivered.Load(); n != 0 {
				t.Fatalf("%d messages delivered from an incompatible peer", n)
			}
		})
	}
}

// TestDealerRefusesIncompatibleLibzmqPeer: our Dealer connecting to a
// libzmq PUB never establishes a connection (and never delivers).
func TestDealerRefusesIncompatibleLibzmqPeer(t *testing.T) {
	zctx := newZContext(t)
	pub := newZSocket(t, zctx, zmq.PUB)
	ep := bindZ(t, pub, "tcp://127.0.0.1:*")
	var connects atomic.Int32
	d, in := newDealer(t, ep, zmtp.DealerOptions{OnConnect: func(*zmtp.Conn) error { connects.Add(1); return nil }})
	holdFor(t, 500*time.Millisecond, "dealer stays disconnected", func() bool { return d.Conn() == nil })
	pub.SendMessageDontwait("nobody")
	if connects.Load() != 0 || in.len() != 0 {
		t.Fatalf("%d connects, %d messages from a PUB", connects.Load(), in.len())
	}
}

// TestOversizedFromLibzmqRefused: with Options.MaxMessageSize 1000 and
// MaxFrames 4, larger messages from a libzmq DEALER (one big frame, or
// several frames that add up, or too many frames) are refused with
// ErrTooLarge, and the connection goes on carrying the ones within limits.
func TestOversizedFromLibzmqRefused(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			srv := startServer(t, tr.ours(), zmtp.Options{MaxMessageSize: 1000, MaxFrames: 4}, nil)
			zctx := newZContext(t)
			dealer := newZSocket(t, zctx, zmq.DEALER)
			if err := dealer.Connect(srv.endpoint); err != nil {
				t.Fatal(err)
			}
			refused := [][][]byte{
				{pattern(2000, 1)},                 // one frame over the limit (LONG size)
				{pattern(600, 2), pattern(600, 3)}, // two frames that add up
				{pattern(1<<20, 4)},                // far over
				{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")}, // five frames
			}
			accepted := [][][]byte{
				{pattern(1000, 5)}, // exactly the limit
				{[]byte("1"), []byte("2"), []byte("3"), []byte("after")}, // four frames
			}
			zsend(t, dealer, accepted[0]...)
			for _, m := range refused {
				zsend(t, dealer, m...)
			}
			zsend(t, dealer, accepted[1]...)
			for _, want := range accepted {
				if got := zrecv(t, dealer); !equalFrames(got, want) {
					t.Fatalf("echo %s, want %s", describe(got), describe(want))
				}
			}
			zrecvNone(t, dealer, 100*time.Millisecond)
			errs := srv.readErrors()
			if len(errs) != len(refused) {
				t.Fatalf("read errors %v, want %d ErrTooLarge", errs, len(refused))
			}
			for _, err := range errs {
				var tl *zmtp.TooLargeError
				if !errors.Is(err, zmtp.ErrTooLarge) || !errors.As(err, &tl) {
					t.Fatalf("read error %v, want a *TooLargeError", err)
				}
			}
			if n := srv.accepts(); n != 1 {
				t.Fatalf("%d connections, want 1", n)
			}
		})
	}
}

// TestDealerRefusesOversizedFromLibzmq: our Dealer with MaxMessageSize
// skips a message from a libzmq ROUTER that is too large and receives the
// next one.
func TestDealerRefusesOversizedFromLibzmq(t *testing.T) {
	zctx := newZContext(t)
	router, ep := newRouter(t, zctx, "tcp://127.0.0.1:*")
	var drops atomic.Int32
	d, in := newDealer(t, ep, zmtp.DealerOptions{
		Options:      zmtp.Options{Identity: []byte("small"), MaxMessageSize: 1000},
		OnDisconnect: func(error) { drops.Add(1) },
	})
	if err := d.Send([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	recvFrom(t, router, "small")
	zsend(t, router, []byte("small"), pattern(5000, 1))
	zsend(t, router, []byte("small"), pattern(600, 2), pattern(600, 3))
	zsend(t, router, []byte("small"), []byte("fits"))
	if got := in.waitN(t, 1)[0]; string(got[0]) != "fits" {
		t.Fatalf("Dealer got %s first", describe(got))
	}
	holdFor(t, 100*time.Millisecond, "nothing else arrives", func() bool { return in.len() == 1 })
	if c := d.Conn(); c == nil || drops.Load() != 0 {
		t.Fatalf("connection dropped (%d disconnects)", drops.Load())
	}
}
