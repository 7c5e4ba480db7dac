package broker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// TestBigFanoutShared is issue 11's third attack: 60 subscribers that
// never read and four 4 MiB PUBLISHes from a hand-framed peer. The content
// is queued once for all its recipients (a shared segment), so the queues
// hold about the 16 MiB published, not 60 copies of it (the issue saw
// ~1 GB held), the heap grows by a small multiple of that over a baseline
// measured in the same test, two subscribers that read get every byte
// (checksums), and everything is let go once the stuck ones leave.
func TestBigFanoutShared(t *testing.T) {
	const stuckN, msgs, size = 60, 4, 4 << 20
	b := brokertest.Start(t, broker.Config{MaxMessageSize: size + 4096, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stuck := make([]*rawpeer.Peer, stuckN)
	for i := range stuck {
		// abstract ipc: small socket buffers, so the bytes stay in the broker
		stuck[i] = flowPeer(t, ctx, b.IPC, fmt.Sprintf("stuck%d", i))
		if err := stuck[i].Subscribe(ctx, "^big$"); err != nil {
			t.Fatal(err)
		}
	}
	var sums [msgs][sha256.Size]byte
	got := make(chan error, 2)
	for i := range 2 {
		r := flowPeer(t, ctx, b.TCP, fmt.Sprintf("reader%d", i))
		if err := r.Subscribe(ctx, "^big$"); err != nil {
			t.Fatal(err)
		}
		go func() { got <- readSums(ctx, r, sums[:]) }()
	}
	pub := flowPeer(t, ctx, b.TCP, "pub")
	base := heapInUse()
	for i := range msgs {
		content := make([]byte, size)
		rand.Read(content)
		sums[i] = sha256.Sum256(content)
		if err := pub.Publish("big", nil, content); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Subscribe(ctx, "^sync$"); err != nil { // the broker has handled every PUBLISH
		t.Fatal(err)
	}
	queued := b.Stats().QueuedBytes
	grown := heapInUse() - base
	t.Logf("%d × %d MiB to %d stuck + 2 readers: queued %d MiB, heap %d → +%d MiB", msgs, size>>20, stuckN, queued>>20, base>>20, grown>>20)
	// Copies would hold up to the 256 MiB budget (each stuck queue up to
	// its 8 MiB limit plus the batch its writer holds).
	if queued > msgs*size+stuckN*4096 {
		t.Fatalf("queues hold %d MiB for %d MiB published", queued>>20, msgs*size>>20)
	}
	if grown > 3*msgs*size {
		t.Fatalf("heap grew by %d MiB for %d MiB published to %d subscribers", grown>>20, msgs*size>>20, stuckN)
	}
	for _, p := range stuck {
		p.Close()
	}
	testutil.Eventually(t, "queues let go once the stuck subscribers left", func() bool { return b.Stats().QueuedBytes == 0 })
}

// readSums reads len(sums) DELIVERs and checks each one's content against
// the checksum at its place.
func readSums(ctx context.Context, p *rawpeer.Peer, sums [][sha256.Size]byte) error {
	for i := 0; i < len(sums); {
		m, err := p.NextContext(ctx)
		if err != nil {
			return fmt.Errorf("after %d DELIVERs: %w", i, err)
		}
		if m.ID != rawpeer.Deliver {
			continue
		}
		if len(m.Content) != 1 {
			return fmt.Errorf("DELIVER %d has %d content frames", i, len(m.Content))
		}
		if h := sha256.Sum256(m.Content[0]); h != sums[i] {
			return fmt.Errorf("DELIVER %d: %d bytes, checksum differs from what was published", i, len(m.Content[0]))
		}
		if m.Missed() != 0 {
			return fmt.Errorf("DELIVER %d reports %d missed", i, m.Missed())
		}
		i++
	}
	return nil
}

// TestBudgetCutsSlowestExactMissed: two subscribers that do not read, each
// with a queue limit far above the broker's budget, are offered 1.5 times
// the budget of shared 32 KiB notifications. The budget cuts the slowest
// queues (their oldest notifications), and once they read, every
// notification is either received or counted in zccp-missed, exactly.
func TestBudgetCutsSlowestExactMissed(t *testing.T) {
	const budget, n, size = 8 << 20, 384, 32 << 10
	b := brokertest.Start(t, broker.Config{MaxQueuedTotal: budget, Queue: zmtp.Limits{MaxBytes: 64 << 20}, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var subs [2]*rawpeer.Peer
	for i := range subs {
		subs[i] = flowPeer(t, ctx, b.IPC, fmt.Sprintf("slow%d", i))
		if err := subs[i].Subscribe(ctx, "^n$"); err != nil {
			t.Fatal(err)
		}
	}
	pub := flowPeer(t, ctx, b.TCP, "pub")
	if _, err := pub.PublishBurst(ctx, "n", 1, n, size, 1<<20); err != nil {
		t.Fatal(err)
	}
	// A last small one (copied, not shared) carries the count of the
	// drops after the last shared one that was kept.
	if _, err := pub.PublishBurst(ctx, "n", n+1, 1, 64, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := pub.Subscribe(ctx, "^sync$"); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.BudgetCuts == 0 {
		t.Fatalf("the budget cut no queue (dropped %d, refused %d)", st.Dropped, st.Refused)
	}
	var missed uint64
	for i, s := range subs {
		var tl rawpeer.Tally
		if err := readUntil(ctx, s, &tl, n+1); err != nil {
			t.Fatalf("slow%d: %v", i, err)
		}
		if err := tl.Check(n + 1); err != nil {
			t.Fatalf("slow%d: %v", i, err)
		}
		missed += tl.Missed
	}
	t.Logf("budget cuts %d, dropped %d, missed reported %d", st.BudgetCuts, st.Dropped, missed)
	if missed == 0 {
		t.Fatal("nothing reported missed: the budget was not reached")
	}
	testutil.Eventually(t, "queues drained", func() bool { return b.Stats().QueuedBytes == 0 })
}

// TestBudgetRefusesLargePublish: when the budget is held by batches that
// writers are writing to peers that do not read (nothing left to cut), a
// large PUBLISH is refused with a queue-full notice to its publisher and
// counted, instead of growing the broker's memory.
func TestBudgetRefusesLargePublish(t *testing.T) {
	const size = 4 << 20
	b := brokertest.Start(t, broker.Config{MaxQueuedTotal: 10 << 20, MaxMessageSize: size + 4096, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, name := range []string{"a", "b"} {
		s := flowPeer(t, ctx, b.IPC, "stuck-"+name)
		if err := s.Subscribe(ctx, "^"+name+"$"); err != nil {
			t.Fatal(err)
		}
	}
	pub := flowPeer(t, ctx, b.TCP, "pub")
	content := bytes.Repeat([]byte{'x'}, size)
	for _, name := range []string{"a", "b"} {
		if err := pub.Publish(name, nil, content); err != nil {
			t.Fatal(err)
		}
	}
	// Each stuck writer holds its first 4 MiB in a write that cannot
	// finish; further ones to "a" queue behind it (and are cut for the
	// next) until the writers have taken theirs: then nothing can be cut.
	var notice *rawpeer.Message
	for i := 0; i < 20 && notice == nil; i++ {
		if err := pub.Publish("a", nil, content); err != nil {
			t.Fatal(err)
		}
		notice = pingNotice(t, ctx, pub)
	}
	if notice == nil {
		t.Fatal("no notice after 20 large PUBLISHes over a full budget")
	}
	if code, _ := notice.Header(codec.HdrError); code != codec.ErrCodeQueueFull {
		t.Fatalf("notice %q, want %q", code, codec.ErrCodeQueueFull)
	}
	st := b.Stats()
	if st.BudgetRefused == 0 || st.QueuedBytes > 10<<20 {
		t.Fatalf("refused %d, queued %d bytes (budget %d)", st.BudgetRefused, st.QueuedBytes, 10<<20)
	}
	// A large PUBLISH that matches nobody but its publisher needs no room
	// in the budget: it is not refused.
	if err := pub.Subscribe(ctx, "^self$"); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("self", nil, content); err != nil {
		t.Fatal(err)
	}
	if n := pingNotice(t, ctx, pub); n != nil {
		code, _ := n.Header(codec.HdrError)
		t.Fatalf("a PUBLISH reaching nobody was refused: %q", code)
	}
	if got := b.Stats().BudgetRefused; got != st.BudgetRefused {
		t.Fatalf("refused %d, then %d for a PUBLISH reaching nobody", st.BudgetRefused, got)
	}
}

// pingNotice sends a ZCCP PING and reads up to PING-OK, returning the
// first error notice before it (nil: none).
func pingNotice(t *testing.T, ctx context.Context, p *rawpeer.Peer) *rawpeer.Message {
	t.Helper()
	if err := p.Send(rawpeer.Frame1(rawpeer.Ping, nil, false, nil)); err != nil {
		t.Fatal(err)
	}
	var notice *rawpeer.Message
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case m.ID == rawpeer.PingOK:
			return notice
		case m.ID == rawpeer.Deliver && string(m.Address) == codec.AddrError && notice == nil:
			notice = m
		}
	}
}
