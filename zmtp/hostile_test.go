package zmtp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// These tests attack a Server with hand-framed bytes on plain TCP
// sockets (not this package's Dealer), and bound what the attack costs
// against a baseline measured in the same test.

// rawGreeting is a ZMTP 3.1 NULL greeting, written out byte by byte.
var rawGreeting = func() []byte {
	g := []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1}
	g = append(g, "NULL"...)
	g = append(g, make([]byte, 16)...) // mechanism padded to 20 octets
	g = append(g, 0)                   // as-server
	return append(g, make([]byte, 31)...)
}()

// rawReady is READY with Socket-Type=DEALER as one short command frame.
var rawReady = []byte{0x04, 28,
	5, 'R', 'E', 'A', 'D', 'Y',
	11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
	0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R'}

// countingListener counts the bytes the server has read from all its
// connections, so a test knows when the server has seen what was sent.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	m, err := c.Conn.Read(p)
	c.n.Add(int64(m))
	return m, err
}

// heapInUse returns the live heap after a full collection.
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// sinkServer serves a Server whose handler reads and discards messages.
func sinkServer(t *testing.T) (*countingListener, string) {
	t.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: tl}
	// A handshake timeout far beyond the tests' waits: a connection
	// closed during the handshake is closed for its content, not its age.
	s := &Server{Options: Options{HandshakeTimeout: time.Hour}, Handler: func(c *Conn, _ RoutingID) {
		for {
			if _, err := c.ReadMessage(); err != nil && !errors.Is(err, ErrTooLarge) {
				return
			}
		}
	}}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln, tl.Addr().String()
}

func rawDial(t *testing.T, addr string, send ...[]byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, b := range send {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestAnnouncedFrameSizeIsNotAllocated: a peer that announces a 4 MiB
// frame and sends 1 KiB of it must cost about 1 KiB, not 4 MiB.
func TestAnnouncedFrameSizeIsNotAllocated(t *testing.T) {
	const n = 16
	ln, addr := sinkServer(t)
	var sent int64
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = rawDial(t, addr, rawGreeting, rawReady)
		sent += int64(len(rawGreeting) + len(rawReady))
	}
	waitLong(t, func() bool { return ln.n.Load() == sent })
	base := heapInUse()

	// A long message frame of 4 MiB (0x400000), then 1 KiB of its body.
	header := []byte{0x02, 0, 0, 0, 0, 0, 0x40, 0, 0}
	body := make([]byte, 1024)
	for _, c := range conns {
		c.Write(header)
		c.Write(body)
		sent += int64(len(header) + len(body))
	}
	waitLong(t, func() bool { return ln.n.Load() == sent })
	grown := heapInUse() - base
	t.Logf("heap: baseline %d KiB, +%d KiB after %d connections announced 4 MiB frames", base>>10, grown>>10, n)
	if limit := int64(n * 64 << 10); grown > limit {
		t.Fatalf("heap grew by %d KiB for %d announced 4 MiB frames holding 1 KiB each (limit %d KiB)", grown>>10, n, limit>>10)
	}
}

// TestHandshakeFrameIsCapped: a 4 MiB command frame announced during the
// handshake is a protocol error at once, not a buffer to fill.
func TestHandshakeFrameIsCapped(t *testing.T) {
	const n = 16
	_, addr := sinkServer(t)
	header := []byte{0x06, 0, 0, 0, 0, 0, 0x3F, 0xFF, 0x9C} // long command, 4 MiB - 100
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = rawDial(t, addr, rawGreeting, header)
	}
	for i, c := range conns {
		// The server sends its greeting and READY, then must close.
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection %d: server still waits for the announced handshake frame", i)
		}
	}
}

// waitLong polls cond for up to a minute: the suite may run on a loaded
// machine, and these tests assert bounds, not speed.
func waitLong(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLargeMessagesThenIdleHoldLittle: peers (hand-framed, over TCP) that
// send bursts of 64 KiB messages and then go quiet leave their server
// connections holding at most maxAutoBuffer each, not the buffer the
// burst grew.
func TestLargeMessagesThenIdleHoldLittle(t *testing.T) {
	const n, burst = 32, 20
	ln, addr := sinkServer(t)
	var sent int64
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = rawDial(t, addr, rawGreeting, rawReady)
		sent += int64(len(rawGreeting) + len(rawReady))
	}
	waitLong(t, func() bool { return ln.n.Load() == sent })
	base := heapInUse()

	sent += sendBurst(t, conns, AppendMessage(nil, [][]byte{make([]byte, 64<<10)}), burst)
	waitLong(t, func() bool { return ln.n.Load() == sent })
	limit := int64(n * (maxAutoBuffer + 32<<10))
	var grown int64
	waitLong(t, func() bool { grown = heapInUse() - base; return grown <= limit })
	t.Logf("heap: baseline %d KiB, +%d KiB after %d connections each received %d × 64 KiB and went quiet", base>>10, grown>>10, n, burst)
}

// sendBurst writes msg burst times, back to back, on every connection and
// returns the bytes written (the burst is garbage when it returns).
func sendBurst(t *testing.T, conns []net.Conn, msg []byte, burst int) (sent int64) {
	t.Helper()
	wire := bytes.Repeat(msg, burst)
	for _, c := range conns {
		if _, err := c.Write(wire); err != nil {
			t.Fatal(err)
		}
		sent += int64(len(wire))
	}
	return sent
}
