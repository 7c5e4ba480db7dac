package interop

import (
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// TestDealerPingsLibzmqRouter: our Conn.Ping reaches libzmq, which
// answers PONG (LastReceived moves); with a TTL, libzmq drops the
// connection once we stay silent for that long, which shows that the TTL
// is encoded in the unit libzmq reads (tenths of a second); our Dealer
// then reconnects.
//
// The ROUTER sets ZMQ_ROUTER_HANDOVER. Without it, libzmq 4.3.4 ignores
// the reconnected Dealer for good (its messages never come out of the
// ROUTER) whenever the application made no call on the ROUTER between the
// loss of the old connection and the arrival of the new one: the old pipe
// still holds the identity when the new one is attached, the new pipe is
// parked as "anonymous", and it is never looked at again. Seen with 20,
// 100 and 500 ms reconnect delays; polling the ROUTER meanwhile avoids it.
func TestDealerPingsLibzmqRouter(t *testing.T) {
	zctx := newZContext(t)
	router, ep := newRouter(t, zctx, "tcp://127.0.0.1:*", func(s *zmq.Socket) error { return s.SetRouterHandover(true) })
	var drops atomic.Int32
	d, _ := newDealer(t, ep, zmtp.DealerOptions{
		Options:      zmtp.Options{Identity: []byte("pinger")},
		OnDisconnect: func(error) { drops.Add(1) },
	})
	if err := d.Send([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	recvFrom(t, router, "pinger")
	c := d.Conn()
	if c == nil {
		t.Fatal("not connected")
	}

	// No TTL: a PONG comes back and nothing else happens.
	before := c.LastReceived()
	if err := c.Ping(0, []byte("ctx-16-bytes-max")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "PONG received", func() bool { return c.LastReceived().After(before) })
	holdFor(t, 500*time.Millisecond, "connection kept after a TTL-less PING", func() bool { return d.Conn() == c })

	// TTL 300 ms, then silence: libzmq gives up on us after ~300 ms.
	start := time.Now()
	if err := c.Ping(300*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "libzmq dropped the silent pinger", func() bool { return drops.Load() == 1 })
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("dropped after %v, want about 300 ms (TTL unit wrong?)", took)
	}
	testutil.Eventually(t, "dealer reconnected", func() bool { return d.Conn() != nil && d.Conn() != c })
	if err := d.Send([]byte("back")); err != nil {
		t.Fatal(err)
	}
	if got := recvFrom(t, router, "pinger"); string(got[0]) != "back" {
		t.Fatalf("got %s", describe(got))
	}
}

// TestServerForgetsClosedLibzmqPeer: when a libzmq DEALER goes away, the
// Server closes that connection (its Conn is done), so no live peer is
// left and sending to the old id fails instead of queueing forever.
func TestServerForgetsClosedLibzmqPeer(t *testing.T) {
	srv := startServer(t, "tcp://127.0.0.1:0", zmtp.Options{}, nil)
	zctx := newZContext(t)
	dealer := newZSocket(t, zctx, zmq.DEALER)
	if err := dealer.Connect(srv.endpoint); err != nil {
		t.Fatal(err)
	}
	zsend(t, dealer, []byte("x"))
	zrecv(t, dealer)
	var id zmtp.RoutingID
	srv.mu.Lock()
	for rid := range srv.conns {
		id = rid
	}
	srv.mu.Unlock()
	dealer.Close()
	testutil.Eventually(t, "peer forgotten", func() bool { return srv.live() == 0 })
	if err := srv.send(id, []byte("late")); err != errNoPeer {
		t.Fatalf("Send to a gone peer: %v, want errNoPeer", err)
	}
}
