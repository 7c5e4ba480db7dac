package interop

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// waitTimeout bounds every libzmq receive and read deadline in this
// package (polling waits use testutil.Eventually, which has its own bound).
const waitTimeout = 10 * time.Second

// holdFor checks that cond stays true for d, polling it; it fails the
// test as soon as cond is false.
func holdFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if !cond() {
			t.Fatalf("%s: stopped holding after %v", what, d-time.Until(end))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !cond() {
		t.Fatalf("%s: stopped holding at the end of %v", what, d)
	}
}

// transport describes how to name a fresh endpoint for both sides.
type transport struct {
	name string
	// ours returns an endpoint for zmtp.Listen (its real address comes
	// from zmtp.EndpointOf).
	ours func() string
	// libzmq returns an endpoint for a libzmq Bind (its real address
	// comes from GetLastEndpoint).
	libzmq func() string
}

// transports are tcp on the loopback interface and Linux abstract ipc.
var transports = []transport{
	{
		name:   "tcp",
		ours:   func() string { return "tcp://127.0.0.1:0" },
		libzmq: func() string { return "tcp://127.0.0.1:*" },
	},
	{
		name:   "ipc",
		ours:   abstractEndpoint,
		libzmq: abstractEndpoint,
	},
}

// abstractEndpoint returns a fresh Linux abstract-namespace ipc endpoint.
func abstractEndpoint() string {
	return fmt.Sprintf("ipc://@/zccp-interop-%x", rand.Uint64())
}

// newZContext returns a libzmq context that is terminated when the test
// ends. Register it before its sockets: cleanups run last-in first-out,
// so the sockets are closed before the context is terminated.
func newZContext(t testing.TB) *zmq.Context {
	t.Helper()
	ctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctx.Term(); err != nil {
			t.Errorf("terminating the libzmq context: %v", err)
		}
	})
	return ctx
}

// newZSocket returns a libzmq socket with linger 0 and bounded send and
// receive timeouts, closed when the test ends. setup, if given, sets
// further options before it is used.
func newZSocket(t testing.TB, ctx *zmq.Context, typ zmq.Type, setup ...func(*zmq.Socket) error) *zmq.Socket {
	t.Helper()
	s, err := ctx.NewSocket(typ)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	opts := []func(*zmq.Socket) error{
		func(s *zmq.Socket) error { return s.SetLinger(0) },
		func(s *zmq.Socket) error { return s.SetRcvtimeo(waitTimeout) },
		func(s *zmq.Socket) error { return s.SetSndtimeo(waitTimeout) },
	}
	for _, set := range append(opts, setup...) {
		if err := set(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// bindZ binds a libzmq socket and returns the endpoint it got.
func bindZ(t testing.TB, s *zmq.Socket, endpoint string) string {
	t.Helper()
	if err := s.Bind(endpoint); err != nil {
		t.Fatalf("libzmq bind %s: %v", endpoint, err)
	}
	ep, err := s.GetLastEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// zsend sends one multipart message on a libzmq socket.
func zsend(t testing.TB, s *zmq.Socket, frames ...[]byte) {
	t.Helper()
	for i, f := range frames {
		flag := zmq.SNDMORE
		if i == len(frames)-1 {
			flag = 0
		}
		if _, err := s.SendBytes(f, flag); err != nil {
			t.Fatalf("libzmq send frame %d/%d: %v", i+1, len(frames), err)
		}
	}
}

// zrecv receives one multipart message on a libzmq socket (bounded by
// the socket's receive timeout).
func zrecv(t testing.TB, s *zmq.Socket) [][]byte {
	t.Helper()
	msg, err := s.RecvMessageBytes(0)
	if err != nil {
		t.Fatalf("libzmq receive: %v", err)
	}
	return msg
}

// zrecvNone checks that nothing arrives on a libzmq socket for d.
func zrecvNone(t testing.TB, s *zmq.Socket, d time.Duration) {
	t.Helper()
	if err := s.SetRcvtimeo(d); err != nil {
		t.Fatal(err)
	}
	defer s.SetRcvtimeo(waitTimeout)
	msg, err := s.RecvMessageBytes(0)
	if err == nil {
		t.Fatalf("unexpected message %s", describe(msg))
	}
	if zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN) {
		t.Fatalf("libzmq receive: %v", err)
	}
}

// pattern returns n bytes that differ with seed and position, so that a
// frame cut or shifted at the wrong place does not compare equal.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

// shape is one message used in the round-trip tests.
type shape struct {
	name   string
	frames [][]byte
}

// shapes returns the message shapes every interop test exchanges:
// single, multipart, empty frames, the 255/256-byte boundary between the
// short and the LONG size field, and 1 MiB.
func shapes() []shape {
	return []shape{
		{"single", [][]byte{[]byte("hello")}},
		{"multipart", [][]byte{[]byte("a"), []byte("bb"), pattern(40, 3)}},
		{"empty-frames", [][]byte{{}, []byte("middle"), {}}},
		{"one-empty-frame", [][]byte{{}}},
		{"255-bytes-short", [][]byte{pattern(255, 1)}},
		{"256-bytes-long", [][]byte{pattern(256, 2)}},
		{"255-then-256", [][]byte{pattern(255, 4), pattern(256, 5), pattern(254, 6), pattern(257, 7)}},
		{"1MiB", [][]byte{pattern(1<<20, 8)}},
		{"1MiB-multipart", [][]byte{[]byte("head"), pattern(1<<20, 9), {}}},
	}
}

// burstMessage returns message i of a burst: a sequence number and a
// payload whose size walks across the 255/256 boundary.
func burstMessage(i int) [][]byte {
	return [][]byte{[]byte(fmt.Sprintf("%08d", i)), pattern(200+i%112, byte(i))}
}

// burstSize is the number of messages in the burst tests.
const burstSize = 10_000

// equalFrames compares two multipart messages.
func equalFrames(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// describe summarises a message for failure output.
func describe(frames [][]byte) string {
	parts := make([]string, len(frames))
	for i, f := range frames {
		if len(f) <= 16 {
			parts[i] = fmt.Sprintf("%q", f)
		} else {
			parts[i] = fmt.Sprintf("<%d bytes>", len(f))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// cloneFrames copies frames that are only valid during a callback.
func cloneFrames(frames [][]byte) [][]byte {
	cp := make([][]byte, len(frames))
	for i, f := range frames {
		cp[i] = bytes.Clone(f)
	}
	return cp
}

// testServer is a zmtp.Server with bookkeeping for the tests.
type testServer struct {
	*zmtp.Server
	endpoint string

	mu       sync.Mutex
	accepted int // connections that reached the handler
	conns    map[zmtp.RoutingID]*zmtp.Conn
	readErrs []error // errors ReadMessage returned (ErrTooLarge included)
	errs     []error // errors reported through OnError
}

// errNoPeer is testServer.send's answer for a routing id whose connection
// is unknown or closed.
var errNoPeer = errors.New("no such peer")

// send queues frames to the connection the server accepted as id, through
// that connection (the zmtp.Server has no send-by-id of its own).
func (s *testServer) send(id zmtp.RoutingID, frames ...[]byte) error {
	s.mu.Lock()
	c := s.conns[id]
	s.mu.Unlock()
	if c == nil {
		return errNoPeer
	}
	select {
	case <-c.Done():
		return errNoPeer
	default:
	}
	return c.Send(frames...)
}

// live returns how many accepted connections are still open.
func (s *testServer) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.conns {
		select {
		case <-c.Done():
		default:
			n++
		}
	}
	return n
}

// startServer starts a Server on endpoint. Its handler records the
// connection and passes every message to handle (nil: echo it back to the
// sender through testServer.send). The server is closed when the test ends.
func startServer(t testing.TB, endpoint string, opts zmtp.Options, handle func(s *testServer, c *zmtp.Conn, id zmtp.RoutingID, frames [][]byte)) *testServer {
	t.Helper()
	ln, err := zmtp.Listen(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, opts, handle)
}

// serveOn is startServer on a listener the caller made (e.g. one with
// its own security mechanism).
func serveOn(t testing.TB, ln net.Listener, opts zmtp.Options, handle func(s *testServer, c *zmtp.Conn, id zmtp.RoutingID, frames [][]byte)) *testServer {
	t.Helper()
	ts := &testServer{Server: &zmtp.Server{Options: opts}, endpoint: zmtp.EndpointOf(ln), conns: map[zmtp.RoutingID]*zmtp.Conn{}}
	if handle == nil {
		handle = func(s *testServer, _ *zmtp.Conn, id zmtp.RoutingID, frames [][]byte) {
			if err := s.send(id, cloneFrames(frames)...); err != nil {
				t.Errorf("send: %v", err)
			}
		}
	}
	ts.OnError = func(_ net.Addr, err error) {
		ts.mu.Lock()
		ts.errs = append(ts.errs, err)
		ts.mu.Unlock()
	}
	ts.Handler = func(c *zmtp.Conn, id zmtp.RoutingID) {
		ts.mu.Lock()
		ts.accepted++
		ts.conns[id] = c
		ts.mu.Unlock()
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				ts.mu.Lock()
				ts.readErrs = append(ts.readErrs, err)
				ts.mu.Unlock()
				if errors.Is(err, zmtp.ErrTooLarge) {
					continue
				}
				return
			}
			handle(ts, c, id, frames)
		}
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		ts.Serve(ln)
	}()
	t.Cleanup(func() {
		ts.Close()
		<-served
	})
	return ts
}

// accepts returns how many connections reached the handler.
func (s *testServer) accepts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// onlyConn returns the single connection the server accepted.
func (s *testServer) onlyConn(t testing.TB) *zmtp.Conn {
	t.Helper()
	testutil.Eventually(t, "one connection accepted", func() bool { return s.accepts() == 1 })
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		return c
	}
	return nil
}

// reportedErrors returns the errors reported through OnError so far.
func (s *testServer) reportedErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// readErrors returns the errors ReadMessage returned so far.
func (s *testServer) readErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.readErrs...)
}

// inbox collects the messages a zmtp.Dealer receives.
type inbox struct {
	mu   sync.Mutex
	msgs [][][]byte
}

// onMessage is a DealerOptions.OnMessage that keeps a copy.
func (in *inbox) onMessage(frames [][]byte) {
	cp := cloneFrames(frames)
	in.mu.Lock()
	in.msgs = append(in.msgs, cp)
	in.mu.Unlock()
}

// len returns how many messages arrived.
func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

// waitN waits until n messages arrived and returns them.
func (in *inbox) waitN(t testing.TB, n int) [][][]byte {
	t.Helper()
	testutil.Eventually(t, fmt.Sprintf("%d messages received", n), func() bool { return in.len() >= n })
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([][][]byte(nil), in.msgs[:n]...)
}

// newDealer starts a zmtp.Dealer whose messages land in the returned inbox;
// it is closed when the test ends.
func newDealer(t testing.TB, endpoint string, opts zmtp.DealerOptions) (*zmtp.Dealer, *inbox) {
	t.Helper()
	in := &inbox{}
	if opts.OnMessage == nil {
		opts.OnMessage = in.onMessage
	}
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin = 20 * time.Millisecond
		opts.ReconnectMax = 200 * time.Millisecond
	}
	d, err := zmtp.NewDealer(endpoint, opts)
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() { d.Close(time.Second) })
	return d, in
}
