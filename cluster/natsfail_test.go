package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// The NATS node broker A is connected to dies: A's own clients keep
// working, A reconnects to another node, cross-broker traffic resumes,
// and every published number is either received on the other broker,
// once and in order, or counted: refused at A (Lost) or missing at B
// (Gaps, from the per-destination sequence numbers), and the subscriber
// on B is told what it missed (zccp-missed on its next delivery).
func TestNATSNodeKilledTrafficResumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMemberURLs(t, []string{nodes[0].ClientURL(), nodes[1].ClientURL(), nodes[2].ClientURL()}, "A")
	b := startMember(t, nodes[1].ClientURL(), "B")

	remote := peer(t, ctx, b.ep, "sub-b")
	if err := remote.Subscribe(ctx, `^rack\.`); err != nil {
		t.Fatal(err)
	}
	local := peer(t, ctx, a.ep, "sub-a")
	if err := local.Subscribe(ctx, `^rack\.`); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "A learns B's interest", func() bool { return a.b.RemoteInterest()[b.node.ID()] == 1 })
	pub := peer(t, ctx, a.ep, "pub-a")

	seq := uint64(1)
	publish := func(k int) {
		t.Helper()
		if _, err := pub.PublishBurst(ctx, "rack.1", seq, k, 16, 4096); err != nil {
			t.Fatal(err)
		}
		seq += uint64(k)
	}
	publish(100)
	nodes[0].Shutdown() // A's NATS node
	publish(100)        // while A has no NATS connection
	// The local subscriber gets all 200 at once: the broker does not wait on NATS.
	var tl rawpeer.Tally
	for tl.Received < 200 {
		m, err := local.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	// Cross-broker traffic resumes after A reconnects elsewhere.
	var rt rawpeer.Tally
	deadline := time.Now().Add(30 * time.Second)
	for rt.Last <= 200 || rt.Last < seq-1 { // one published after the kill crossed, and nothing is pending

		if time.Now().After(deadline) {
			t.Fatalf("cross-broker traffic did not resume: %+v, A %+v", rt, a.node.Stats())
		}
		publish(1)
		rctx, rcancel := context.WithTimeout(ctx, 50*time.Millisecond)
		for {
			m, err := remote.NextContext(rctx)
			if err != nil {
				break
			}
			if err := rt.Add(m); err != nil { // never twice, never out of order
				rcancel()
				t.Fatal(err)
			}
		}
		rcancel()
	}
	st, sb := a.node.Stats(), b.node.Stats()
	sent := seq - 1
	// Every number either arrived, or was refused at A (Lost), or was
	// accepted by NATS and never arrived (core NATS is at most once: the
	// messages in flight to the dead node), which B counts from the
	// sequence numbers (Gaps).
	if rt.Received+st.Lost+sb.Gaps != sent || st.Forwarded != rt.Received+sb.Gaps || sb.Bad != 0 {
		t.Fatalf("sent %d, received on B %d (%+v); A %+v; B %+v", sent, rt.Received, rt, st, sb)
	}
	// And the subscriber on B was told: what never arrived came back as
	// zccp-missed on a later delivery, exactly the numbers it skipped, so
	// every number is received or reported missed.
	if err := rt.Check(sent); err != nil || rt.Missed != sb.Gaps {
		t.Fatalf("subscriber on B: %+v (%v); B counted %d gaps", rt, err, sb.Gaps)
	}
	t.Logf("sent %d: crossed %d, refused at A %d, missing at B %d (told to the subscriber: %d)", sent, rt.Received, st.Lost, sb.Gaps, rt.Missed)
}
