package interop

import (
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// TestLibzmqDealerToServer: a libzmq DEALER talks to our ROUTER-semantics
// Server, which echoes every message back through Server.Send, over tcp
// and abstract ipc, with every message shape and a 10k burst.
func TestLibzmqDealerToServer(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			srv := startServer(t, tr.ours(), zmtp.Options{}, nil)
			zctx := newZContext(t)
			dealer := newZSocket(t, zctx, zmq.DEALER, func(s *zmq.Socket) error { return s.SetIdentity("libzmq-dealer-1") })
			if err := dealer.Connect(srv.endpoint); err != nil {
				t.Fatal(err)
			}

			for _, sh := range shapes() {
				zsend(t, dealer, sh.frames...)
				if got := zrecv(t, dealer); !equalFrames(got, sh.frames) {
					t.Fatalf("%s: echoed %s, sent %s", sh.name, describe(got), describe(sh.frames))
				}
			}

			c := srv.onlyConn(t)
			if got := c.PeerType(); got != zmtp.TypeDealer {
				t.Errorf("peer type %q, want DEALER", got)
			}
			if got := string(c.PeerIdentity()); got != "libzmq-dealer-1" {
				t.Errorf("peer identity %q, want libzmq-dealer-1", got)
			}

			// A burst: everything is sent before anything is read back, so
			// both sides queue; order must be preserved.
			for i := range burstSize {
				zsend(t, dealer, burstMessage(i)...)
			}
			for i := range burstSize {
				got, want := zrecv(t, dealer), burstMessage(i)
				if !equalFrames(got, want) {
					t.Fatalf("burst message %d: got %s, want %s", i, describe(got), describe(want))
				}
			}
			if n := srv.accepts(); n != 1 {
				t.Fatalf("%d connections, want 1 (libzmq reconnected?)", n)
			}
		})
	}
}

// TestServerSendsFirstToLibzmqDealer: our Server addresses a libzmq DEALER
// by routing id without being asked, before and after the DEALER speaks.
func TestServerSendsFirstToLibzmqDealer(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			srv := startServer(t, tr.ours(), zmtp.Options{}, nil)
			zctx := newZContext(t)
			dealer := newZSocket(t, zctx, zmq.DEALER)
			if err := dealer.Connect(srv.endpoint); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "connection registered", func() bool { return srv.live() == 1 })
			var id zmtp.RoutingID
			srv.mu.Lock()
			for rid := range srv.conns {
				id = rid
			}
			srv.mu.Unlock()
			for _, sh := range shapes() {
				if err := srv.send(id, sh.frames...); err != nil {
					t.Fatal(err)
				}
			}
			for _, sh := range shapes() {
				if got := zrecv(t, dealer); !equalFrames(got, sh.frames) {
					t.Fatalf("%s: got %s", sh.name, describe(got))
				}
			}
			if err := srv.send(id+1000, []byte("nobody")); err != errNoPeer {
				t.Fatalf("Send to an unknown routing id: %v, want errNoPeer", err)
			}
		})
	}
}

// TestLibzmqReqToServer: a libzmq REQ (compatible with ROUTER) sends its
// empty delimiter frame; the Server answers with the same envelope.
func TestLibzmqReqToServer(t *testing.T) {
	srv := startServer(t, "tcp://127.0.0.1:0", zmtp.Options{}, func(s *testServer, _ *zmtp.Conn, id zmtp.RoutingID, frames [][]byte) {
		if len(frames) != 2 || len(frames[0]) != 0 {
			t.Errorf("REQ request %s, want [\"\" body]", describe(frames))
			return
		}
		s.send(id, []byte{}, append([]byte("re: "), frames[1]...))
	})
	zctx := newZContext(t)
	req := newZSocket(t, zctx, zmq.REQ)
	if err := req.Connect(srv.endpoint); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		zsend(t, req, []byte{byte('a' + i)})
		got := zrecv(t, req)
		if len(got) != 1 || string(got[0]) != "re: "+string(rune('a'+i)) {
			t.Fatalf("reply %s", describe(got))
		}
	}
}

// TestLibzmqDealerHeartbeat: a libzmq DEALER with ZMQ_HEARTBEAT_IVL 100 ms
// and ZMQ_HEARTBEAT_TIMEOUT 300 ms stays connected through more than a
// second of idleness because our side answers its PINGs, and the
// connection still carries messages afterwards.
func TestLibzmqDealerHeartbeat(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			srv := startServer(t, tr.ours(), zmtp.Options{}, nil)
			zctx := newZContext(t)
			dealer := newZSocket(t, zctx, zmq.DEALER,
				func(s *zmq.Socket) error { return s.SetHeartbeatIvl(100 * time.Millisecond) },
				func(s *zmq.Socket) error { return s.SetHeartbeatTimeout(300 * time.Millisecond) },
				func(s *zmq.Socket) error { return s.SetHeartbeatTtl(time.Second) },
			)
			if err := dealer.Connect(srv.endpoint); err != nil {
				t.Fatal(err)
			}
			zsend(t, dealer, []byte("before"))
			if got := zrecv(t, dealer); string(got[0]) != "before" {
				t.Fatalf("got %s", describe(got))
			}
			c := srv.onlyConn(t)
			idleFrom := time.Now()
			holdFor(t, 1200*time.Millisecond, "connection up while idle", func() bool {
				select {
				case <-c.Done():
					return false
				default:
				}
				return srv.accepts() == 1 && srv.live() == 1
			})
			// Only PINGs arrived while idle: LastReceived moving on shows
			// that libzmq kept probing and was answered.
			if last := c.LastReceived(); last.Before(idleFrom.Add(900 * time.Millisecond)) {
				t.Fatalf("no PING received while idle (last receive %v after idling began)", last.Sub(idleFrom))
			}
			zsend(t, dealer, []byte("after"), []byte("idle"))
			if got := zrecv(t, dealer); !equalFrames(got, [][]byte{[]byte("after"), []byte("idle")}) {
				t.Fatalf("got %s", describe(got))
			}
			if n := srv.accepts(); n != 1 {
				t.Fatalf("%d connections, want 1", n)
			}
		})
	}
}

// TestLibzmqHeartbeatDropsSilentPeer is the control for the heartbeat
// test: a ZMTP peer that completes the handshake but never reads (so never
// answers PING) is dropped by libzmq after its heartbeat timeout, and
// libzmq reconnects. Without it the heartbeat test could pass with
// heartbeats that do nothing.
func TestLibzmqHeartbeatDropsSilentPeer(t *testing.T) {
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *zmtp.Conn, 16)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeRouter})
			if err != nil {
				continue
			}
			select {
			case conns <- c: // never read: PINGs go unanswered
			default:
				c.Close()
			}
		}
	}()
	defer func() {
		ln.Close()
		<-accepted
		close(conns)
		for c := range conns {
			c.Close()
		}
	}()
	zctx := newZContext(t)
	dealer := newZSocket(t, zctx, zmq.DEALER,
		func(s *zmq.Socket) error { return s.SetHeartbeatIvl(100 * time.Millisecond) },
		func(s *zmq.Socket) error { return s.SetHeartbeatTimeout(300 * time.Millisecond) },
		func(s *zmq.Socket) error { return s.SetReconnectIvl(50 * time.Millisecond) },
	)
	if err := dealer.Connect(zmtp.EndpointOf(ln)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "libzmq dropped the silent peer and reconnected", func() bool { return len(conns) >= 2 })
}
