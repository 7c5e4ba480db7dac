package interop

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// newRouter returns a libzmq ROUTER bound to endpoint, with
// ZMQ_ROUTER_MANDATORY so that a message to an unknown or full peer is an
// error rather than a silent drop, and the endpoint it got.
func newRouter(t testing.TB, zctx *zmq.Context, endpoint string, setup ...func(*zmq.Socket) error) (*zmq.Socket, string) {
	t.Helper()
	setup = append([]func(*zmq.Socket) error{func(s *zmq.Socket) error { return s.SetRouterMandatory(1) }}, setup...)
	r := newZSocket(t, zctx, zmq.ROUTER, setup...)
	return r, bindZ(t, r, endpoint)
}

// recvFrom receives one message on a ROUTER and checks its routing id.
func recvFrom(t testing.TB, r *zmq.Socket, id string) [][]byte {
	t.Helper()
	msg := zrecv(t, r)
	if len(msg) < 2 {
		t.Fatalf("ROUTER got %s: no routing id and body", describe(msg))
	}
	if string(msg[0]) != id {
		t.Fatalf("ROUTER saw routing id %q, want %q", msg[0], id)
	}
	return msg[1:]
}

// TestDealerToLibzmqRouter: our Dealer, with an Identity, talks to a
// libzmq ROUTER over tcp and abstract ipc. The ROUTER sees the Identity
// as the routing id and replies through it; it also sends to our Dealer
// unprompted; both directions carry every shape and a 10k burst in order.
func TestDealerToLibzmqRouter(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			zctx := newZContext(t)
			router, ep := newRouter(t, zctx, tr.libzmq())
			const id = "zccp-dealer-7"
			d, in := newDealer(t, ep, zmtp.DealerOptions{Options: zmtp.Options{Identity: []byte(id)}})

			// Dealer → ROUTER, ROUTER replies through the routing id.
			for _, sh := range shapes() {
				if err := d.Send(sh.frames...); err != nil {
					t.Fatal(err)
				}
				got := recvFrom(t, router, id)
				if !equalFrames(got, sh.frames) {
					t.Fatalf("%s: ROUTER got %s", sh.name, describe(got))
				}
				zsend(t, router, append([][]byte{[]byte(id)}, got...)...)
			}
			for i, m := range in.waitN(t, len(shapes())) {
				if sh := shapes()[i]; !equalFrames(m, sh.frames) {
					t.Fatalf("%s: Dealer got %s back", sh.name, describe(m))
				}
			}
			if c := d.Conn(); c == nil || c.PeerType() != zmtp.TypeRouter {
				t.Fatalf("dealer connection %v: want a ROUTER peer", c)
			}

			// ROUTER → Dealer, unprompted.
			base := in.len()
			for _, sh := range shapes() {
				zsend(t, router, append([][]byte{[]byte(id)}, sh.frames...)...)
			}
			for i, m := range in.waitN(t, base+len(shapes()))[base:] {
				if sh := shapes()[i]; !equalFrames(m, sh.frames) {
					t.Fatalf("%s unprompted: Dealer got %s", sh.name, describe(m))
				}
			}

			// Burst Dealer → ROUTER.
			for i := range burstSize {
				if err := d.Send(burstMessage(i)...); err != nil {
					t.Fatalf("burst send %d: %v", i, err)
				}
			}
			for i := range burstSize {
				if got, want := recvFrom(t, router, id), burstMessage(i); !equalFrames(got, want) {
					t.Fatalf("burst message %d: ROUTER got %s, want %s", i, describe(got), describe(want))
				}
			}

			// Burst ROUTER → Dealer.
			base = in.len()
			for i := range burstSize {
				zsend(t, router, append([][]byte{[]byte(id)}, burstMessage(i)...)...)
			}
			for i, m := range in.waitN(t, base+burstSize)[base:] {
				if want := burstMessage(i); !equalFrames(m, want) {
					t.Fatalf("burst message %d: Dealer got %s, want %s", i, describe(m), describe(want))
				}
			}
		})
	}
}

// TestDealerAnonymousToLibzmqRouter: without an Identity the ROUTER makes
// up a routing id, and replies through it still reach our Dealer.
func TestDealerAnonymousToLibzmqRouter(t *testing.T) {
	zctx := newZContext(t)
	router, ep := newRouter(t, zctx, "tcp://127.0.0.1:*")
	d, in := newDealer(t, ep, zmtp.DealerOptions{})
	if err := d.Send([]byte("who am I")); err != nil {
		t.Fatal(err)
	}
	msg := zrecv(t, router)
	if len(msg) != 2 || len(msg[0]) == 0 || string(msg[1]) != "who am I" {
		t.Fatalf("ROUTER got %s", describe(msg))
	}
	zsend(t, router, msg[0], []byte("you are"), msg[0])
	got := in.waitN(t, 1)[0]
	if len(got) != 2 || string(got[0]) != "you are" {
		t.Fatalf("Dealer got %s", describe(got))
	}
}

// TestDealerAnswersLibzmqRouterHeartbeat: a libzmq ROUTER with heartbeats
// (100 ms interval, 300 ms timeout) keeps our idle Dealer's connection for
// more than a second.
func TestDealerAnswersLibzmqRouterHeartbeat(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			zctx := newZContext(t)
			router, ep := newRouter(t, zctx, tr.libzmq(),
				func(s *zmq.Socket) error { return s.SetHeartbeatIvl(100 * time.Millisecond) },
				func(s *zmq.Socket) error { return s.SetHeartbeatTimeout(300 * time.Millisecond) },
			)
			var drops atomic.Int32
			d, in := newDealer(t, ep, zmtp.DealerOptions{
				Options:      zmtp.Options{Identity: []byte("hb")},
				OnDisconnect: func(error) { drops.Add(1) },
			})
			if err := d.Send([]byte("ping?")); err != nil {
				t.Fatal(err)
			}
			recvFrom(t, router, "hb")
			c := d.Conn()
			if c == nil {
				t.Fatal("no connection after a message went through")
			}
			idleFrom := time.Now()
			holdFor(t, 1200*time.Millisecond, "dealer connection up while idle", func() bool {
				return d.Conn() == c && drops.Load() == 0
			})
			if last := c.LastReceived(); last.Before(idleFrom.Add(900 * time.Millisecond)) {
				t.Fatalf("no PING from the ROUTER while idle (last receive %v after idling began)", last.Sub(idleFrom))
			}
			zsend(t, router, []byte("hb"), []byte("still there"))
			if got := in.waitN(t, 1)[0]; string(got[0]) != "still there" {
				t.Fatalf("Dealer got %s", describe(got))
			}
		})
	}
}

// TestDealerReconnectsToRebornRouter: the libzmq ROUTER is closed; our
// Dealer notices, queues what is sent meanwhile, reconnects when a new
// ROUTER binds the same endpoint, and delivers the whole queue in order.
func TestDealerReconnectsToRebornRouter(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			zctx := newZContext(t)
			router, ep := newRouter(t, zctx, tr.libzmq())
			const id = "zccp-reconnect"
			var disconnects atomic.Int32
			d, in := newDealer(t, ep, zmtp.DealerOptions{
				Options:      zmtp.Options{Identity: []byte(id)},
				ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
				OnDisconnect: func(error) { disconnects.Add(1) },
			})
			if err := d.Send([]byte("first life")); err != nil {
				t.Fatal(err)
			}
			if got := recvFrom(t, router, id); string(got[0]) != "first life" {
				t.Fatalf("got %s", describe(got))
			}

			if err := router.Close(); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "dealer noticed the ROUTER is gone", func() bool { return d.Conn() == nil && disconnects.Load() == 1 })

			const queued = 500
			msg := func(i int) [][]byte {
				if i%100 == 99 {
					return [][]byte{[]byte(fmt.Sprint(i)), pattern(300_000, byte(i))}
				}
				return [][]byte{[]byte(fmt.Sprint(i)), {}, pattern(i%300, byte(i))}
			}
			for i := range queued {
				if err := d.Send(msg(i)...); err != nil {
					t.Fatalf("send %d while disconnected: %v", i, err)
				}
			}
			if n, _ := d.Outbox().Len(); n != queued {
				t.Fatalf("%d messages queued, want %d", n, queued)
			}

			// The same endpoint again. A tcp port may take a moment to be
			// free to bind again; bound the retries.
			router2 := newZSocket(t, zctx, zmq.ROUTER, func(s *zmq.Socket) error { return s.SetRouterMandatory(1) })
			testutil.Eventually(t, "ROUTER re-bound "+ep, func() bool { return router2.Bind(ep) == nil })
			for i := range queued {
				if got, want := recvFrom(t, router2, id), msg(i); !equalFrames(got, want) {
					t.Fatalf("queued message %d: got %s, want %s", i, describe(got), describe(want))
				}
			}
			zsend(t, router2, []byte(id), []byte("second life"))
			if got := in.waitN(t, 1)[0]; string(got[0]) != "second life" {
				t.Fatalf("Dealer got %s", describe(got))
			}
			if n := disconnects.Load(); n != 1 {
				t.Fatalf("%d disconnects, want 1", n)
			}
		})
	}
}
