package zmtp

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/zccp-go/zccp/internal/testutil"
)

// sharedServer answers each message with: a plain message, a message whose
// content is seg (queued by reference), another plain one, seg again, so
// that the writer interleaves its own bytes and the segment's.
func sharedServer(t *testing.T, ln net.Listener, opts Options, seg func() *Shared) {
	t.Helper()
	s := &Server{Options: opts}
	s.Handler = func(c *Conn, _ RoutingID) {
		for {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
			sg := seg()
			o := c.Outbox()
			for i := range 4 {
				head := []byte(fmt.Sprintf("m%d", i))
				if i%2 == 0 {
					o.Append(MessageSize([][]byte{head}), Command, func(b []byte) []byte { return AppendMessage(b, [][]byte{head}) })
					continue
				}
				o.AppendShared(FrameHeaderSize(len(head))+len(head), Notification, sg, func(b []byte, _ uint64) []byte {
					return AppendFrame(b, head, true)
				})
			}
			sg.Release()
			o.Flush()
		}
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
}

// TestSharedSegmentsOnTheWire: messages whose content is a shared segment
// reach a peer intact, in order with the messages around them, over plain
// TCP (vectored writes, a segment larger than a progress chunk) and over
// CURVE (each frame sealed on its own); once written, the budget is
// refunded to zero.
func TestSharedSegmentsOnTheWire(t *testing.T) {
	big := make([]byte, 600<<10)
	rand.Read(big)
	content := [][]byte{big, []byte("tail")}
	srvKeys, cliKeys := mustKeyPair(t), mustKeyPair(t)
	for _, curve := range []bool{false, true} {
		t.Run(fmt.Sprintf("curve=%v", curve), func(t *testing.T) {
			bud := NewBudget(64 << 20)
			ln, err := Listen("tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var srvLn net.Listener = ln
			var cli Options
			if curve {
				srvLn = ListenerWithMechanism(ln, NewCurveServer(srvKeys))
				cli.Mechanism = &CurveClient{Keys: cliKeys, ServerKey: srvKeys.Public}
			}
			sharedServer(t, srvLn, Options{Queue: Limits{Budget: bud}}, func() *Shared { return NewShared(bud, content) })
			d, ch := dealer(t, EndpointOf(ln), DealerOptions{Options: cli})
			for round := range 3 {
				if err := d.Send([]byte("go")); err != nil {
					t.Fatal(err)
				}
				for i := range 4 {
					got := recv(t, ch)
					want := [][]byte{[]byte(fmt.Sprintf("m%d", i))}
					if i%2 == 1 {
						want = append(want, content...)
					}
					if len(got) != len(want) {
						t.Fatalf("round %d message %d: %d frames, want %d", round, i, len(got), len(want))
					}
					for j := range want {
						if !bytes.Equal(got[j], want[j]) {
							t.Fatalf("round %d message %d frame %d differs (%d bytes, want %d)", round, i, j, len(got[j]), len(want[j]))
						}
					}
				}
			}
			testutil.Eventually(t, "the budget refunded", func() bool { return bud.Used() == 0 })
		})
	}
}

// TestSharedCountedOnceInBudget: a segment queued by three outboxes is
// charged to their budget once, counted in full by each queue's limits,
// and refunded when the last queue lets go of it (dropped by one, taken
// and written by another, discarded by the third).
func TestSharedCountedOnceInBudget(t *testing.T) {
	bud := NewBudget(1 << 30)
	seg := NewShared(bud, [][]byte{make([]byte, 100_000)})
	var outs [3]*Outbox
	for i := range outs {
		outs[i] = NewOutbox(Limits{Budget: bud, Overflow: OverflowDropOldest, MaxBytes: 150_000})
		if _, err := outs[i].AppendShared(10, Notification, seg, func(b []byte, _ uint64) []byte { return append(b, "0123456789"...) }); err != nil {
			t.Fatal(err)
		}
	}
	seg.Release()
	if used, want := bud.Used(), int64(seg.Len()+30); used != want {
		t.Fatalf("budget %d, want %d (the segment once, plus 3 × 10)", used, want)
	}
	if _, n := outs[0].Len(); n != seg.Len()+10 {
		t.Fatalf("queue counts %d bytes, want %d", n, seg.Len()+10)
	}
	// A second one does not fit beside the first in queue 0 (150 000 bytes): the first is dropped.
	seg2 := NewShared(bud, [][]byte{make([]byte, 100_000)})
	if _, err := outs[0].AppendShared(10, Notification, seg2, func(b []byte, _ uint64) []byte { return append(b, "0123456789"...) }); err != nil {
		t.Fatal(err)
	}
	seg2.Release()
	if outs[0].Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", outs[0].Dropped())
	}
	var stop atomic.Bool
	bt, ok := outs[1].take(&stop)
	if !ok || len(bt.segs) != 1 {
		t.Fatalf("take: %v, %d segments", ok, len(bt.segs))
	}
	outs[1].release(bt)
	if used, want := bud.Used(), int64(seg.Len()+seg2.Len()+20); used != want {
		t.Fatalf("budget %d, want %d: the first segment is still queued by one outbox", used, want)
	}
	outs[2].close(false)
	if used, want := bud.Used(), int64(seg2.Len()+10); used != want {
		t.Fatalf("budget %d, want %d after the last queue let go of the first segment", used, want)
	}
	outs[0].close(false)
	if bud.Used() != 0 {
		t.Fatalf("budget %d after every queue let go", bud.Used())
	}
}

// FuzzOutboxShared drives two outboxes sharing a budget with a random mix
// of copied and shared (one segment queued by both) notifications and
// commands, writer takes, budget reclaims and a final discard, and checks
// after each step that the budget holds exactly the queued bytes plus each
// live segment once, that each queue counts its segments in full, that
// the reports add up to the drops, and that everything is refunded at the
// end.
func FuzzOutboxShared(f *testing.F) {
	f.Add([]byte{0x81, 0xc2, 0x43, 0xff, 0x10, 0xd0, 0xfe, 0xe0, 0x90, 0xfd, 0xff})
	f.Add([]byte{0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xfd, 0xc1, 0xfe, 0xff, 0xc1})
	f.Fuzz(runShared)
}

func runShared(t *testing.T, ops []byte) {
	{
		bud := NewBudget(3000)
		var outs [2]*Outbox
		var written [2]int // reports that reached the writer
		for i := range outs {
			outs[i] = NewOutbox(Limits{MaxBytes: 2000, MaxMessages: 20, Overflow: OverflowDropOldest, Budget: bud})
			bud.join(outs[i])
		}
		live := map[*Shared]bool{}
		var stop atomic.Bool
		for _, op := range ops {
			o := outs[op&1]
			switch {
			case op == 0xff || op == 0xfe: // a writer takes everything and writes it
				if _, n := o.Len(); n > 0 {
					r := reportsIn(o)
					bt, ok := o.take(&stop)
					if ok {
						written[op&1] += r
						o.release(bt)
					}
				}
			case op == 0xfd:
				bud.Reclaim(500)
			case op&0x40 != 0 && op&0x80 != 0: // shared by both
				seg := NewShared(bud, [][]byte{make([]byte, 20+int(op&0x3f)*20)})
				for _, q := range outs {
					q.AppendShared(5, Notification, seg, func(b []byte, missed uint64) []byte { return append(b, "head."...) })
				}
				seg.Release()
				live[seg] = true
			default:
				size := 10 + int(op&0x3f)*10
				body := func(b []byte, _ uint64) []byte { return append(b, make([]byte, size)...) }
				if op&0x80 != 0 {
					o.AppendReport(size, Notification, body)
				} else {
					o.Append(size, Command, func(b []byte) []byte { return body(b, 0) })
				}
			}
			checkShared(t, bud, outs[:], live)
		}
		for i, o := range outs {
			o.mu.Lock()
			owed, dropped := int(o.unreport), int(o.dropped)
			o.mu.Unlock()
			if q := reportsIn(o); written[i]+q+owed != dropped {
				t.Fatalf("outbox %d: reports written %d + queued %d + owed %d != dropped %d", i, written[i], q, owed, dropped)
			}
			o.close(false)
		}
		if bud.Used() != 0 {
			t.Fatalf("budget %d after both queues were discarded", bud.Used())
		}
	}
}

func reportsIn(o *Outbox) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.marks {
		n += int(m.reported)
	}
	return n
}

// checkShared checks the budget against what the outboxes hold: their own
// bytes, and each segment they refer to once.
func checkShared(t *testing.T, bud *Budget, outs []*Outbox, live map[*Shared]bool) {
	t.Helper()
	want := 0
	held := map[*Shared]bool{}
	for i, o := range outs {
		o.mu.Lock()
		segBytes, nsegs := 0, 0
		for _, m := range o.marks {
			if m.seg != nil {
				segBytes += m.seg.Len()
				nsegs++
				held[m.seg] = true
			}
		}
		if segBytes != o.segBytes || nsegs != o.nsegs {
			t.Fatalf("outbox %d counts %d bytes in %d segments, holds %d in %d", i, o.segBytes, o.nsegs, segBytes, nsegs)
		}
		if o.bytesLocked() > o.limits.MaxBytes && len(o.marks) > 1 {
			t.Fatalf("outbox %d holds %d bytes, limit %d", i, o.bytesLocked(), o.limits.MaxBytes)
		}
		want += len(o.pending)
		o.mu.Unlock()
	}
	for s := range live {
		if r := s.refs.Load(); r < 0 || (r > 0) != held[s] {
			t.Fatalf("segment with %d references, held by a queue: %v", r, held[s])
		}
		if held[s] {
			want += s.Len()
		} else {
			delete(live, s)
		}
	}
	if int64(want) != bud.Used() {
		t.Fatalf("budget %d, queues hold %d", bud.Used(), want)
	}
}
