package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/zmtp"
)

// Hostile-load tests: each attack is made by hand-framed peers
// (internal/rawpeer) on real sockets, and its cost is bounded against a
// baseline measured in the same test.

// heapAfterGC returns the live heap after full collections.
func heapAfterGC() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// totalAlloc returns the bytes allocated by the process so far.
func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// dialPeer connects a raw peer to a tcp endpoint; a positive rcvbuf
// shrinks its socket receive buffer first, so that what the peer does not
// read stays queued in the broker rather than in the kernel.
func dialPeer(t *testing.T, endpoint string, rcvbuf int) *rawpeer.Peer {
	t.Helper()
	p := dialOwned(t, endpoint, rcvbuf)
	t.Cleanup(func() { p.Close() })
	return p
}

// dialOwned is dialPeer for a peer the caller closes (the broker's Close
// closes it otherwise): no cleanup keeps it reachable.
func dialOwned(t *testing.T, endpoint string, rcvbuf int) *rawpeer.Peer {
	t.Helper()
	ctx := testCtx(t)
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	nc, err := d.DialContext(ctx, "tcp", endpoint[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	p, err := rawpeer.New(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testCtx bounds a test's exchanges: generous, because the machine that
// runs the whole suite may be loaded; a wait that does not end is a
// failure, not a hang.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// within polls cond every few milliseconds for up to a minute.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within a minute: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEndedSessionsAreNotKeptByMatchCache: waves of subscribers, each
// with its own literal address and megabytes queued it never reads, then
// gone. The match result cache remembers every address they were
// delivered to; it must not keep the ended sessions (and their queues)
// reachable: the heap returns near its baseline.
func TestEndedSessionsAreNotKeptByMatchCache(t *testing.T) {
	const waves, perWave, msgs, size = 3, 6, 3, 1 << 20
	b, eps := startBroker(t, Config{PingInterval: time.Minute, Timeout: 2 * time.Minute})
	ctx := testCtx(t)
	pub := dialPeer(t, eps[0], 0)
	if err := pub.Hello(ctx, "publisher"); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, size)
	base := heapAfterGC()
	var deliveries uint64
	for w := range waves {
		subs := make([]*rawpeer.Peer, perWave)
		for i := range subs {
			subs[i] = dialOwned(t, eps[0], 4096)
			if err := subs[i].Hello(ctx, fmt.Sprintf("leak-%d-%d", w, i)); err != nil {
				t.Fatal(err)
			}
			if err := subs[i].Subscribe(ctx, fmt.Sprintf("^leak\\.%d\\.%d$", w, i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range subs {
			for range msgs {
				if err := pub.Publish(fmt.Sprintf("leak.%d.%d", w, i), nil, body); err != nil {
					t.Fatal(err)
				}
			}
		}
		deliveries += perWave * msgs
		within(t, "every DELIVER queued", func() bool { return b.Stats().Deliveries == deliveries })
		if w == 0 {
			held := heapAfterGC() - base
			t.Logf("one wave holds %d MiB while its subscribers are connected", held>>20)
		}
		for _, s := range subs {
			s.Close()
		}
		within(t, "the subscribers gone", func() bool { st := b.Stats(); return st.Sessions == 1 && st.Connections == 1 })
	}
	grown := heapAfterGC() - base
	t.Logf("heap after %d waves of %d subscribers with %d MiB queued each, all gone: %+d KiB over baseline %d KiB",
		waves, perWave, msgs*size>>20, grown>>10, base>>10)
	if limit := int64(perWave * msgs * size / 8); grown > limit {
		t.Fatalf("heap stays %d MiB above baseline after every subscriber left (limit %d MiB): ended sessions are still reachable",
			grown>>20, limit>>20)
	}
}

// TestRefusedSubscribeDoesNotCopyAll: a SUBSCRIBE refused at the limit
// costs the same whether the session holds 10 expressions or 5,000
// (before, each refusal copied and sorted all of them).
func TestRefusedSubscribeDoesNotCopyAll(t *testing.T) {
	const refusals = 300
	perRefusal := func(limit int) float64 {
		_, eps := startBroker(t, Config{MaxSubscriptions: limit, PingInterval: time.Minute, Timeout: 2 * time.Minute})
		ctx := testCtx(t)
		p := dialPeer(t, eps[0], 0)
		if err := p.Hello(ctx, "greedy"); err != nil {
			t.Fatal(err)
		}
		subscribeN(t, p, 0, limit, 0)
		before := totalAlloc()
		subscribeN(t, p, limit, refusals, refusals)
		return float64(totalAlloc()-before) / refusals
	}
	small := perRefusal(10)
	large := perRefusal(5000)
	t.Logf("bytes allocated per refused SUBSCRIBE: %.0f at 10 subscriptions, %.0f at 5000", small, large)
	if large > 2*small+4096 {
		t.Fatalf("a refusal at 5000 subscriptions allocates %.0f bytes, at 10: %.0f: it grows with the subscriptions held", large, small)
	}
}

// subscribeN pipelines n SUBSCRIBEs of distinct expressions numbered
// from first, then reads the n SUBSCRIBE-OKs and expects exactly
// notices of them to come with a notice (a refusal).
func subscribeN(t *testing.T, p *rawpeer.Peer, first, n, notices int) {
	t.Helper()
	var buf []byte
	for i := range n {
		buf = rawpeer.AppendMessage(buf, rawpeer.Frame1(rawpeer.Subscribe, []string{fmt.Sprintf("^a\\.%d$", first+i)}, true, nil))
	}
	if err := p.Write(buf); err != nil {
		t.Fatal(err)
	}
	p.Conn().SetReadDeadline(time.Now().Add(time.Minute))
	defer p.Conn().SetReadDeadline(time.Time{})
	oks, got := 0, 0
	for oks < n {
		m, err := p.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch m.ID {
		case rawpeer.SubscribeOK:
			oks++
		case rawpeer.Deliver:
			got++
		}
	}
	if got != notices {
		t.Fatalf("%d notices for %d SUBSCRIBEs, want %d", got, n, notices)
	}
}

// lineCounter is a log destination that counts the lines containing each
// of a few phrases.
type lineCounter struct {
	mu    sync.Mutex
	lines []string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	return len(p), nil
}

func (c *lineCounter) count(phrase string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if strings.Contains(l, phrase) {
			n++
		}
	}
	return n
}

func (c *lineCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func countingLogger() (*slog.Logger, *lineCounter) {
	lc := &lineCounter{}
	return slog.New(slog.NewTextHandler(lc, &slog.HandlerOptions{Level: slog.LevelInfo})), lc
}

// TestHandshakeChurnLogIsBounded: 300 connections that send a broken
// greeting and go write a bounded number of lines, not one each.
func TestHandshakeChurnLogIsBounded(t *testing.T) {
	const churn = 300
	log, lc := countingLogger()
	b, eps := startBroker(t, Config{Logger: log})
	garbage := make([]byte, 64) // first byte 0x00: not a ZMTP signature
	for range churn {
		c, err := net.Dial("tcp", eps[0][len("tcp://"):])
		if err != nil {
			t.Fatal(err)
		}
		c.Write(garbage)
		c.SetReadDeadline(time.Now().Add(time.Minute))
		io.Copy(io.Discard, c) // until the broker closes it
		c.Close()
	}
	within(t, "every refusal noted", func() bool { return b.refusals.seen.Load() == churn })
	n := lc.count("connection refused")
	t.Logf("%d failed handshakes: %d log lines (%d in all)", churn, n, lc.total())
	if n > int(refusalKinds) {
		t.Fatalf("%d failed handshakes wrote %d lines; want at most one per kind (%d)", churn, n, refusalKinds)
	}
}

// TestCutConnectionLogsOnce: a client whose queue overflows with
// undroppable replies is cut off; the commands it had already sent must
// not each log "reply not queued".
func TestCutConnectionLogsOnce(t *testing.T) {
	log, lc := countingLogger()
	_, eps := startBroker(t, Config{Logger: log, Queue: zmtp.Limits{MaxBytes: 64 << 10, MaxMessages: 1000}})
	ctx := testCtx(t)
	p := dialPeer(t, eps[0], 4096)
	if err := p.Hello(ctx, "self"); err != nil {
		t.Fatal(err)
	}
	// DIRECTs to itself, never read: the queue fills with undroppable
	// commands, then every DIRECT is refused with a notice that cannot be
	// queued either.
	body := make([]byte, 8<<10)
	var burst []byte
	for range 2000 { // 16 MiB: more than the kernel's socket buffers can absorb
		burst = rawpeer.AppendDirect(burst, "self", nil, body)
	}
	go p.Write(burst) // may block and fail once the broker cuts it
	p.Conn().SetReadDeadline(time.Now().Add(time.Minute))
	within(t, "the connection cut", func() bool { return lc.count("reply not queued") > 0 })
	io.Copy(io.Discard, p.Conn())
	if n := lc.count("reply not queued"); n != 1 {
		t.Fatalf("%d lines \"reply not queued\" for one cut connection, want 1", n)
	}
}

// TestPerHostLimits: one remote address (127.0.0.2) cannot hold more
// than its share of sessions and connections, while a client from
// another address (127.0.0.1) still connects; each kind of refusal is
// logged once however often it happens.
func TestPerHostLimits(t *testing.T) {
	const conns, sessions = 8, 4
	log, lc := countingLogger()
	b, eps := startBroker(t, Config{Logger: log, MaxConnsPerHost: conns, MaxSessionsPerHost: sessions})
	addr := eps[0][len("tcp://"):]
	attacker := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Minute}
	ctx := testCtx(t)

	// Sessions: the fifth and sixth HELLO from 127.0.0.2 are refused.
	var peers []*rawpeer.Peer
	for i := range sessions + 2 {
		nc, err := attacker.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		p, err := rawpeer.New(ctx, nc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		peers = append(peers, p)
		p.Send(rawpeer.Frame1(rawpeer.Hello, []string{fmt.Sprintf("a%d", i)}, true, nil))
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := m.Header("zccp-error")
		switch {
		case i < sessions && m.ID != rawpeer.HelloOK:
			t.Fatalf("HELLO %d from 127.0.0.2: command %d (%s), want HELLO-OK", i, m.ID, code)
		case i >= sessions && code != "too-many-clients":
			t.Fatalf("HELLO %d from 127.0.0.2: command %d error %q, want notice too-many-clients", i, m.ID, code)
		}
	}
	// Connections: 6 held, so two more are admitted and the rest closed
	// before any handshake.
	refused := 0
	for range 6 {
		nc, err := attacker.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetReadDeadline(time.Now().Add(time.Minute))
		var one [1]byte
		if _, err := nc.Read(one[:]); errors.Is(err, io.EOF) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused != 6-(conns-len(peers)) {
		t.Fatalf("%d of 6 extra connections refused, want %d", refused, 6-(conns-len(peers)))
	}
	// A client from another address is not affected.
	legit := dialPeer(t, eps[0], 0)
	if err := legit.Hello(ctx, "legit"); err != nil {
		t.Fatalf("legitimate client from 127.0.0.1: %v", err)
	}
	within(t, "refusals noted", func() bool { return b.refusals.seen.Load() == 2+uint64(refused) })
	if n, m := lc.count("too many connections"), lc.count("too many sessions"); n != 1 || m != 1 {
		t.Fatalf("log lines: %d for %d refused connections, %d for 2 refused sessions; want 1 each", n, refused, m)
	}
}

// TestLabelsBoundedAndClientsReplyCapped: HELLO labels over the limit are
// refused with a notice; a clients reply never exceeds the broker's
// message size, and says how many records it left out.
func TestLabelsBoundedAndClientsReplyCapped(t *testing.T) {
	const labelBytes, maxMsg = 4096, 64 << 10
	_, eps := startBroker(t, Config{MaxLabelBytes: labelBytes, MaxMessageSize: maxMsg})
	ctx := testCtx(t)
	big := dialPeer(t, eps[0], 0)
	big.Send(rawpeer.Frame1(rawpeer.Hello, []string{"big"}, true, []rawpeer.Header{{Name: "blob", Value: strings.Repeat("\x00", labelBytes)}}))
	m, err := big.NextContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := m.Header("zccp-error"); code != "too-large" {
		t.Fatalf("HELLO with %d bytes of labels: command %d error %q, want notice too-large", labelBytes, m.ID, code)
	}
	// Labels just under the limit, all NULs (6 bytes each in JSON): 40
	// sessions list as ~40 x 20 KiB, well over the 64 KiB cap.
	const n = 40
	label := []rawpeer.Header{{Name: "blob", Value: strings.Repeat("\x00", labelBytes-64)}}
	for i := range n {
		p := dialPeer(t, eps[0], 0)
		if err := p.Hello(ctx, fmt.Sprintf("s%02d", i), label...); err != nil {
			t.Fatal(err)
		}
	}
	asker := dialPeer(t, eps[0], 0)
	if err := asker.Hello(ctx, "asker"); err != nil {
		t.Fatal(err)
	}
	asker.Direct("$zccp", []rawpeer.Header{{Name: "zccp-request-id", Value: "1"}, {Name: "zccp-method", Value: "clients"}})
	for {
		m, err := asker.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := m.Header("zccp-reply-to"); id != "1" {
			continue
		}
		size := 0
		for _, c := range m.Content {
			size += len(c)
		}
		left, _ := m.Header("zccp-truncated")
		t.Logf("clients reply: %d records, %d bytes, zccp-truncated %q", len(m.Content), size, left)
		if size > maxMsg || left == "" || len(m.Content)+atoi(left) != n+1 {
			t.Fatalf("clients reply of %d bytes (cap %d), %d records, zccp-truncated %q; want the %d sessions split between records and the count left out",
				size, maxMsg, len(m.Content), left, n+1)
		}
		return
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
