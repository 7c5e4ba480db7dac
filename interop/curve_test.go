package interop

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
	"golang.org/x/crypto/nacl/box"
)

// zkeys is a key pair made by libzmq (zmq_curve_keypair), in Z85 and as
// parsed by our zmtp package.
type zkeys struct {
	pub, sec string
	pair     zmtp.CurveKeyPair
}

func newZKeys(t testing.TB) zkeys {
	t.Helper()
	if !zmq.HasCurve() {
		t.Fatal("this libzmq has no CURVE (built without libsodium)")
	}
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		t.Fatal(err)
	}
	k := zkeys{pub: pub, sec: sec}
	if k.pair.Public, err = zmtp.ParseCurveKey(pub); err != nil {
		t.Fatal(err)
	}
	if k.pair.Secret, err = zmtp.ParseCurveKey(sec); err != nil {
		t.Fatal(err)
	}
	if derived, _ := zmtp.CurveKeyPairFromSecret(k.pair.Secret); derived.Public != k.pair.Public {
		t.Fatalf("our public key of libzmq's secret %s differs from libzmq's %s", derived.Public, pub)
	}
	return k
}

// curveClientSocket returns a libzmq DEALER set up as a CURVE client.
func curveClientSocket(t testing.TB, zctx *zmq.Context, own zkeys, serverPub string, more ...func(*zmq.Socket) error) *zmq.Socket {
	return newZSocket(t, zctx, zmq.DEALER, append([]func(*zmq.Socket) error{
		func(s *zmq.Socket) error { return s.SetCurveServerkey(serverPub) },
		func(s *zmq.Socket) error { return s.SetCurvePublickey(own.pub) },
		func(s *zmq.Socket) error { return s.SetCurveSecretkey(own.sec) }}, more...)...)
}

// startCurveServer is startServer (echo) with a CURVE listener.
func startCurveServer(t testing.TB, endpoint string, m *zmtp.CurveServer) *testServer {
	t.Helper()
	ln, err := zmtp.Listen(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, zmtp.ListenerWithMechanism(ln, m), zmtp.Options{}, nil)
}

// libzmq DEALERs as CURVE clients of our server, over tcp and abstract
// ipc: every message shape both ways, and the server learns the proven
// client key.
func TestCurveLibzmqDealerToServer(t *testing.T) {
	srv, cli := newZKeys(t), newZKeys(t)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			m := zmtp.NewCurveServer(srv.pair)
			ts := startCurveServer(t, tr.ours(), m)
			zctx := newZContext(t)
			d := curveClientSocket(t, zctx, cli, srv.pub)
			if err := d.Connect(ts.endpoint); err != nil {
				t.Fatal(err)
			}
			for _, sh := range shapes() {
				zsend(t, d, sh.frames...)
				if got := zrecv(t, d); !equalFrames(got, sh.frames) {
					t.Fatalf("%s: echo %s", sh.name, describe(got))
				}
			}
			if c := ts.onlyConn(t); c.PeerKey() != cli.pair.Public {
				t.Fatalf("server sees client key %s, want %s", c.PeerKey(), cli.pub)
			}
		})
	}
}

// Our Dealer as a CURVE client of a libzmq ROUTER (CURVE server), over
// tcp and abstract ipc, every shape both ways.
func TestCurveDealerToLibzmqRouter(t *testing.T) {
	srv, cli := newZKeys(t), newZKeys(t)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			zctx := newZContext(t)
			router, ep := newRouter(t, zctx, tr.libzmq(),
				func(s *zmq.Socket) error { return s.SetCurveServer(1) },
				func(s *zmq.Socket) error { return s.SetCurveSecretkey(srv.sec) })
			const id = "curve-dealer"
			d, in := newDealer(t, ep, zmtp.DealerOptions{Options: zmtp.Options{Identity: []byte(id),
				Mechanism: &zmtp.CurveClient{Keys: cli.pair, ServerKey: srv.pair.Public}}})
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
					t.Fatalf("%s: Dealer got %s", sh.name, describe(m))
				}
			}
		})
	}
}

// A libzmq client with the wrong server key is refused by our server
// (nothing reaches the handler); our client with the wrong server key is
// refused by a libzmq ROUTER.
func TestCurveWrongServerKeyRefused(t *testing.T) {
	srv, cli, other := newZKeys(t), newZKeys(t), newZKeys(t)
	t.Run("libzmq client", func(t *testing.T) {
		ts := startCurveServer(t, "tcp://127.0.0.1:0", zmtp.NewCurveServer(srv.pair))
		zctx := newZContext(t)
		d := curveClientSocket(t, zctx, cli, other.pub)
		if err := d.Connect(ts.endpoint); err != nil {
			t.Fatal(err)
		}
		zsend(t, d, []byte("must not arrive"))
		testutil.Eventually(t, "CURVE failure reported", func() bool { return hasErr(ts.reportedErrors(), zmtp.ErrCurve) })
		if n := ts.accepts(); n != 0 {
			t.Fatalf("%d connections reached the handler", n)
		}
	})
	t.Run("our client", func(t *testing.T) {
		zctx := newZContext(t)
		router, ep := newRouter(t, zctx, "tcp://127.0.0.1:*",
			func(s *zmq.Socket) error { return s.SetCurveServer(1) },
			func(s *zmq.Socket) error { return s.SetCurveSecretkey(srv.sec) })
		dialErrs := make(chan error, 8)
		d, _ := newDealer(t, ep, zmtp.DealerOptions{
			Options: zmtp.Options{Mechanism: &zmtp.CurveClient{Keys: cli.pair, ServerKey: other.pair.Public}},
			OnDialError: func(err error) {
				select {
				case dialErrs <- err:
				default:
				}
			},
		})
		d.Send([]byte("must not arrive"))
		select {
		case err := <-dialErrs:
			if !errors.Is(err, zmtp.ErrCurve) {
				t.Fatalf("dial error %v, want ErrCurve", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("no dial error")
		}
		zrecvNone(t, router, 200*time.Millisecond)
	})
}

func hasErr(errs []error, target error) bool {
	for _, err := range errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// zapHandler answers libzmq's ZAP requests (RFC 27) on zctx: CURVE keys
// in allow get 200, every other gets 400. It stops when the test ends.
func zapHandler(t *testing.T, zctx *zmq.Context, allow ...zmtp.CurveKey) {
	t.Helper()
	rep := newZSocket(t, zctx, zmq.REP, func(s *zmq.Socket) error { return s.SetRcvtimeo(20 * time.Millisecond) })
	if err := rep.Bind("inproc://zeromq.zap.01"); err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, err := rep.RecvMessageBytes(0)
			if err != nil {
				continue // timeout: look at stop again
			}
			status := "400"
			if len(req) >= 7 && string(req[5]) == "CURVE" {
				for _, k := range allow {
					if string(req[6]) == string(k[:]) {
						status = "200"
					}
				}
			}
			rep.SendMessage("1.0", req[1], status, "", "", "")
		}
	}()
	// Registered after the socket's cleanup, so it runs before it.
	t.Cleanup(func() { close(stop); <-done })
}

// An unknown client key is refused both ways: our server's Authorize
// refuses a libzmq client; a libzmq ROUTER's ZAP handler refuses ours
// and our client reports ErrUnauthorized.
func TestCurveUnknownClientKeyRefused(t *testing.T) {
	srv, known, unknown := newZKeys(t), newZKeys(t), newZKeys(t)
	t.Run("our server", func(t *testing.T) {
		m := zmtp.NewCurveServer(srv.pair)
		m.Authorize = func(_ context.Context, p zmtp.CurvePeer) error {
			if p.Key != known.pair.Public {
				return errors.New("unknown key")
			}
			return nil
		}
		ts := startCurveServer(t, "tcp://127.0.0.1:0", m)
		zctx := newZContext(t)
		bad := curveClientSocket(t, zctx, unknown, srv.pub)
		if err := bad.Connect(ts.endpoint); err != nil {
			t.Fatal(err)
		}
		zsend(t, bad, []byte("must not arrive"))
		testutil.Eventually(t, "refusal reported", func() bool { return hasErr(ts.reportedErrors(), zmtp.ErrUnauthorized) })
		good := curveClientSocket(t, zctx, known, srv.pub)
		if err := good.Connect(ts.endpoint); err != nil {
			t.Fatal(err)
		}
		zsend(t, good, []byte("welcome"))
		if got := zrecv(t, good); string(got[0]) != "welcome" {
			t.Fatalf("known client got %s", describe(got))
		}
		if n := ts.accepts(); n != 1 {
			t.Fatalf("%d connections reached the handler, want 1", n)
		}
	})
	t.Run("libzmq server", func(t *testing.T) {
		zctx := newZContext(t)
		zapHandler(t, zctx, known.pair.Public)
		router, ep := newRouter(t, zctx, "tcp://127.0.0.1:*",
			func(s *zmq.Socket) error { return s.SetCurveServer(1) },
			func(s *zmq.Socket) error { return s.SetCurveSecretkey(srv.sec) })
		dialErrs := make(chan error, 8)
		newDealer(t, ep, zmtp.DealerOptions{
			Options: zmtp.Options{Mechanism: &zmtp.CurveClient{Keys: unknown.pair, ServerKey: srv.pair.Public}},
			OnDialError: func(err error) {
				select {
				case dialErrs <- err:
				default:
				}
			},
		})
		select {
		case err := <-dialErrs:
			if !errors.Is(err, zmtp.ErrUnauthorized) {
				t.Fatalf("dial error %v, want ErrUnauthorized", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("no dial error")
		}
		d, in := newDealer(t, ep, zmtp.DealerOptions{Options: zmtp.Options{Identity: []byte("known"),
			Mechanism: &zmtp.CurveClient{Keys: known.pair, ServerKey: srv.pair.Public}}})
		d.Send([]byte("ping"))
		zsend(t, router, append([][]byte{[]byte("known")}, recvFrom(t, router, "known")...)...)
		in.waitN(t, 1)
	})
}

// A libzmq DEALER with CURVE speaks ZCCP to our broker through a CURVE
// endpoint, over abstract ipc and tcp: HELLO, SUBSCRIBE, a PUBLISH from a
// second libzmq client is delivered.
func TestCurveLibzmqClientToBroker(t *testing.T) {
	srv := newZKeys(t)
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ln, err := zmtp.Listen(tr.ours())
			if err != nil {
				t.Fatal(err)
			}
			ep := zmtp.EndpointOf(ln)
			go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(srv.pair)))
			zctx := newZContext(t)
			peer := func(name string) *zccpPeer {
				p := &zccpPeer{t: t, s: curveClientSocket(t, zctx, newZKeys(t), srv.pub)}
				if err := p.s.Connect(ep); err != nil {
					t.Fatal(err)
				}
				p.send(codec.Message{ID: codec.Hello, Identifier: name})
				p.expect(codec.HelloOK)
				return p
			}
			a, d := peer("curve A "+tr.name), peer("curve B "+tr.name)
			a.send(codec.Message{ID: codec.Subscribe, Expression: "secret.*"})
			a.expect(codec.SubscribeOK)
			d.send(codec.Message{ID: codec.Publish, Address: "secret.plans", Content: [][]byte{pattern(300, 1)}})
			m := a.expect(codec.Deliver)
			if m.Sender != "curve B "+tr.name || m.Address != "secret.plans" || !equalFrames(m.Content, [][]byte{pattern(300, 1)}) {
				t.Fatalf("got %+v", m)
			}
		})
	}
}

// curveHello makes a genuine HELLO frame for serverPub by hand with
// nacl/box and returns it with the short-term secret C' it used.
func curveHello(t *testing.T, serverPub zmtp.CurveKey) ([]byte, *[32]byte) {
	t.Helper()
	cpub, csec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var nonce [24]byte
	copy(nonce[:], "CurveZMQHELLO---")
	nonce[23] = 1
	spub := [32]byte(serverPub)
	hello := append([]byte{5, 'H', 'E', 'L', 'L', 'O', 1, 0}, make([]byte, 72)...)
	hello = append(hello, cpub[:]...)
	hello = append(hello, 0, 0, 0, 0, 0, 0, 0, 1)
	hello = box.Seal(hello, make([]byte, 64), &nonce, &spub, csec)
	return append([]byte{0x04, byte(len(hello))}, hello...), csec
}

// rawCurveWelcome dials endpoint, sends a greeting and a genuine HELLO,
// reads the server's greeting and WELCOME, opens it and returns the
// connection and the cookie.
func rawCurveWelcome(t *testing.T, endpoint string, serverPub zmtp.CurveKey) (net.Conn, []byte) {
	t.Helper()
	nc := rawCurveConn(t, endpoint)
	hello, csec := curveHello(t, serverPub)
	if _, err := nc.Write(hello); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64+2+168)
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := io.ReadFull(nc, buf); err != nil {
		t.Fatalf("reading greeting and WELCOME: %v", err)
	}
	w := buf[66:]
	if buf[64] != 0x04 || buf[65] != 168 || string(w[:8]) != "\x07WELCOME" {
		t.Fatalf("expected WELCOME, got % x", buf[64:80])
	}
	var nonce [24]byte
	copy(nonce[:], "WELCOME-")
	copy(nonce[8:], w[8:24])
	spub := [32]byte(serverPub)
	plain, ok := box.Open(nil, w[24:], &nonce, &spub, csec)
	if !ok {
		t.Fatal("WELCOME does not open")
	}
	return nc, plain[32:]
}

// rawCurveConn dials endpoint and sends a ZMTP 3.0 CURVE greeting.
func rawCurveConn(t *testing.T, endpoint string) net.Conn {
	t.Helper()
	nc, err := zmtp.Dial(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	greeting := append([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0}, "CURVE"...)
	if _, err := nc.Write(append(greeting, make([]byte, 64-len(greeting))...)); err != nil {
		t.Fatal(err)
	}
	return nc
}

// expectEOF checks that the peer closes the connection (after reading
// and discarding anything it still sends), within waitTimeout.
func expectEOF(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("libzmq did not close the connection")
	}
}

// Garbage at each handshake step, from a raw peer, makes a libzmq
// ROUTER (CURVE server) close the connection; the same steps against our
// server are in zmtp/curve_hostile_test.go. Nothing reaches the ROUTER.
func TestCurveGarbageToLibzmqRouter(t *testing.T) {
	srv := newZKeys(t)
	zctx := newZContext(t)
	router, ep := newRouter(t, zctx, "tcp://127.0.0.1:*",
		func(s *zmq.Socket) error { return s.SetCurveServer(1) },
		func(s *zmq.Socket) error { return s.SetCurveSecretkey(srv.sec) })
	garbage := pattern(400, 9)
	initiate := func(cookie []byte) []byte {
		body := append([]byte("\x08INITIATE"), cookie...)
		body = append(body, 0, 0, 0, 0, 0, 0, 0, 2)
		body = append(body, garbage[:160]...)
		return append(binary.BigEndian.AppendUint64([]byte{0x06}, uint64(len(body))), body...)
	}
	t.Run("garbage HELLO", func(t *testing.T) {
		nc := rawCurveConn(t, ep)
		nc.Write(append([]byte{0x04, 200, 5, 'H', 'E', 'L', 'L', 'O'}, garbage[:194]...))
		expectEOF(t, nc)
	})
	t.Run("HELLO for another server key", func(t *testing.T) {
		nc := rawCurveConn(t, ep)
		hello, _ := curveHello(t, newZKeys(t).pair.Public)
		nc.Write(hello)
		expectEOF(t, nc)
	})
	t.Run("INITIATE with a forged cookie", func(t *testing.T) {
		nc, _ := rawCurveWelcome(t, ep, srv.pair.Public)
		nc.Write(initiate(garbage[200:296]))
		expectEOF(t, nc)
	})
	t.Run("INITIATE with the real cookie and a garbage box", func(t *testing.T) {
		nc, cookie := rawCurveWelcome(t, ep, srv.pair.Public)
		nc.Write(initiate(cookie))
		expectEOF(t, nc)
	})
	zrecvNone(t, router, 100*time.Millisecond)
}

// Over CURVE an identifier belongs to the key that first claimed it: a
// libzmq client with another key gets not-authorized for the identifier a
// Go client holds, and cannot take it over; a libzmq client with the Go
// client's own key can.
func TestCurveLibzmqIdentityBoundToKey(t *testing.T) {
	srv, owner := newZKeys(t), newZKeys(t)
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnableKeyBinding(nil); err != nil {
		t.Fatal(err)
	}
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := zmtp.EndpointOf(ln)
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(srv.pair)))

	g, err := client.Connect(t.Context(), ep, client.WithIdentifier("device-1"), client.WithCurve(owner.pair, srv.pair.Public))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	zctx := newZContext(t)
	thief := &zccpPeer{t: t, s: curveClientSocket(t, zctx, newZKeys(t), srv.pub)}
	if err := thief.s.Connect(ep); err != nil {
		t.Fatal(err)
	}
	thief.send(codec.Message{ID: codec.Hello, Identifier: "device-1"})
	if n := thief.expect(codec.Deliver); n.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized {
		t.Fatalf("thief got %+v, want notice not-authorized", n)
	}
	if g.State() != client.Connected {
		t.Fatalf("the owner's session is %v", g.State())
	}
	same := &zccpPeer{t: t, s: curveClientSocket(t, zctx, owner, srv.pub)}
	if err := same.s.Connect(ep); err != nil {
		t.Fatal(err)
	}
	same.send(codec.Message{ID: codec.Hello, Identifier: "device-1"})
	if m := same.expect(codec.HelloOK); m.Headers[codec.HdrReplaced] != "1" {
		t.Fatalf("same key: %+v", m.Headers)
	}
}

// Enrolment with libzmq peers on both sides: a libzmq CURVE client's key
// is pending (notice not-authorized); a libzmq NULL client over ipc, the
// local operator, accepts it through the broker API; the CURVE client
// then gets a session; revoking ends it and refuses it from then on.
func TestCurveLibzmqEnrolment(t *testing.T) {
	srv, dev := newZKeys(t), newZKeys(t)
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnableEnrolment(nil, false, nil); err != nil {
		t.Fatal(err)
	}
	m := zmtp.NewCurveServer(srv.pair)
	m.Authorize = b.AuthorizeKey
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	ipc, err := b.Listen(abstractEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	zctx := newZContext(t)
	d := &zccpPeer{t: t, s: curveClientSocket(t, zctx, dev, srv.pub, func(s *zmq.Socket) error { return s.SetReconnectIvl(20 * time.Millisecond) })}
	if err := d.s.Connect(zmtp.EndpointOf(ln)); err != nil {
		t.Fatal(err)
	}
	d.send(codec.Message{ID: codec.Hello, Identifier: "pdu-libzmq"})
	if n := d.expect(codec.Deliver); n.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized {
		t.Fatalf("pending key got %+v", n.Headers)
	}
	op := newZccpPeer(t, zctx, ipc)
	op.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	op.expect(codec.HelloOK)
	keysCall := func(method string) {
		op.send(codec.Message{ID: codec.Direct, Address: codec.NoticeSender, Headers: codec.Headers{
			codec.HdrRequestID: method, codec.HdrMethod: method, codec.HdrSelect: "key=" + dev.pub}})
		if r := op.expect(codec.Deliver); r.Headers[codec.HdrStatus] != codec.StatusOK {
			t.Fatalf("%s: %+v", method, r.Headers)
		}
	}
	keysCall("keys.accept")
	// The broker closed the pending connection; libzmq reconnects by
	// itself and the client says HELLO again.
	if err := d.s.SetRcvtimeo(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		d.send(codec.Message{ID: codec.Hello, Identifier: "pdu-libzmq"})
		msg, err := d.s.RecvMessageBytes(0)
		if err == nil {
			if m, _ := codec.Decode(msg); m != nil && m.ID == codec.HelloOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("accepted key got no session")
		}
	}
	// Drop answers to HELLOs sent while it reconnected (e.g. INVALID for
	// a second HELLO), so that the next message is the revoke notice.
	for {
		if _, err := d.s.RecvMessageBytes(0); err != nil {
			break
		}
	}
	keysCall("keys.revoke")
	if err := d.s.SetRcvtimeo(waitTimeout); err != nil {
		t.Fatal(err)
	}
	if n := d.expect(codec.Deliver); n.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized || !strings.Contains(n.Headers[codec.HdrReason], "revoked") {
		t.Fatalf("revoke notice %+v", n.Headers)
	}
	// Closed, and refused in the handshake from now on: nothing answers.
	d.send(codec.Message{ID: codec.Hello, Identifier: "pdu-libzmq"})
	zrecvNone(t, d.s, 300*time.Millisecond)
}

// Identifier patterns with libzmq peers only: the local operator (a
// libzmq NULL client over ipc) accepts a key with --ident 'rack1.pdu*'
// before it ever connects; a libzmq CURVE client with that key gets a
// session as rack1.pdu5 and is refused not-authorized as rack2.pdu5.
func TestCurveLibzmqIdentifierPattern(t *testing.T) {
	srv, dev := newZKeys(t), newZKeys(t)
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnableEnrolment(nil, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.EnableKeyBinding(nil); err != nil {
		t.Fatal(err)
	}
	m := zmtp.NewCurveServer(srv.pair)
	m.Authorize = b.AuthorizeKey
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	ipc, err := b.Listen(abstractEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	zctx := newZContext(t)
	op := newZccpPeer(t, zctx, ipc)
	op.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	op.expect(codec.HelloOK)
	op.send(codec.Message{ID: codec.Direct, Address: codec.NoticeSender, Headers: codec.Headers{
		codec.HdrRequestID: "1", codec.HdrMethod: "keys.accept", codec.HdrSelect: "key=" + dev.pub + ",ident=rack1.pdu*"}})
	if r := op.expect(codec.Deliver); r.Headers[codec.HdrStatus] != codec.StatusOK || !strings.Contains(string(r.Content[0]), `"owns":["rack1.pdu*"]`) {
		t.Fatalf("accept: %+v %q", r.Headers, r.Content)
	}
	for ident, allowed := range map[string]bool{"rack1.pdu5": true, "rack2.pdu5": false} {
		d := &zccpPeer{t: t, s: curveClientSocket(t, zctx, dev, srv.pub)}
		if err := d.s.Connect(zmtp.EndpointOf(ln)); err != nil {
			t.Fatal(err)
		}
		d.send(codec.Message{ID: codec.Hello, Identifier: ident})
		if allowed {
			d.expect(codec.HelloOK)
		} else if n := d.expect(codec.Deliver); n.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized || !strings.Contains(n.Headers[codec.HdrReason], "not among") {
			t.Fatalf("%s: %+v", ident, n.Headers)
		}
	}
}
