package broker

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
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

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestEndedSessionsAreNotKeptByMatchCache: waves of subscribers, each
// with its own literal address and megabytes queued it never reads, then
// gone. The match result cache remembers every address they were
// delivered to; it must not keep the ended sessions (and their queues)
// reachable: the heap returns near its baseline.
func TestEndedSessionsAreNotKeptByMatchCache(t *testing.T) {
	const waves, perWave, msgs, size = 3, 6, 3, 1 << 20
	b, eps := startBroker(t, Config{PingInterval: time.Minute, Timeout: 2 * time.Minute})
	ctx := ctx5s(t)
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
		eventually(t, "every DELIVER queued", func() bool { return b.Stats().Deliveries == deliveries })
		if w == 0 {
			held := heapAfterGC() - base
			t.Logf("one wave holds %d MiB while its subscribers are connected", held>>20)
		}
		for _, s := range subs {
			s.Close()
		}
		eventually(t, "the subscribers gone", func() bool { st := b.Stats(); return st.Sessions == 1 && st.Connections == 1 })
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
		ctx := ctx5s(t)
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
	p.Conn().SetReadDeadline(time.Now().Add(10 * time.Second))
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
