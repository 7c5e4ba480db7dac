package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// A publisher on broker A (a hand-framed peer) reaches subscribers on
// broker B once each and in order, although one of them holds two
// matching expressions and B has two matching sessions: one NATS message
// per publish goes to B, none to C, whose interest does not match.
func TestPublishReachesRemoteSubscribersOnceInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	b := startMember(t, nodes[1].ClientURL(), "B")
	c := startMember(t, nodes[2].ClientURL(), "C")
	toB := countSubject(t, nodes[2].ClientURL(), "zccp.fed.deliver."+b.node.ID())
	toC := countSubject(t, nodes[0].ClientURL(), "zccp.fed.deliver."+c.node.ID())

	s1 := peer(t, ctx, b.ep, "sub-1")
	s2 := peer(t, ctx, b.ep, "sub-2")
	for _, e := range []string{`^rack\.`, `temp$`} {
		if err := s1.Subscribe(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.Subscribe(ctx, `^rack\.`); err != nil {
		t.Fatal(err)
	}
	sc := peer(t, ctx, c.ep, "sub-c")
	if err := sc.Subscribe(ctx, `^power\.`); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "A learns B's two expressions and C's one", func() bool {
		ri := a.b.RemoteInterest()
		return ri[b.node.ID()] == 2 && ri[c.node.ID()] == 1
	})

	const n = 2000
	pub := peer(t, ctx, a.ep, "pub-a")
	if sent, err := pub.PublishBurst(ctx, "rack.7.temp", 1, n, 64, 16<<10); err != nil || sent != n {
		t.Fatalf("published %d: %v", sent, err)
	}
	for _, s := range []*rawpeer.Peer{s1, s2} {
		var tl rawpeer.Tally
		for tl.Received+tl.Missed < n {
			m, err := s.NextContext(ctx)
			if err != nil {
				t.Fatalf("after %d: %v", tl.Received, err)
			}
			if m.ID != rawpeer.Deliver {
				continue
			}
			if string(m.Sender) != "pub-a" || string(m.Address) != "rack.7.temp" {
				t.Fatalf("DELIVER from %q to %q", m.Sender, m.Address)
			}
			if err := tl.Add(m); err != nil { // a duplicate or a reordering fails here
				t.Fatal(err)
			}
		}
		if err := tl.Check(n); err != nil || tl.Missed != 0 {
			t.Fatalf("tally %+v: %v", tl, err)
		}
	}
	// Nothing more for s1: the next thing it reads is a marker sent after
	// the burst, not a second copy of a notification.
	if err := pub.Publish("rack.marker", nil, []byte("end")); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*rawpeer.Peer{s1, s2} {
		m, err := s.NextContext(ctx)
		if err != nil || string(m.Address) != "rack.marker" {
			t.Fatalf("s%d read %+v, %v; want the marker", i+1, m, err)
		}
	}
	testutil.Eventually(t, "B's subject saw n+1 messages", func() bool { return toB.Load() == n+1 })
	if got := toC.Load(); got != 0 {
		t.Fatalf("broker C, with no matching interest, was sent %d messages", got)
	}
	testutil.Eventually(t, "A counts n+1 forwarded", func() bool { return a.node.Stats().Forwarded == n+1 })
	if st := a.node.Stats(); st.Lost != 0 {
		t.Fatalf("A's federation stats %+v", st)
	}
	// The counter is added after the deliveries are queued, so a reader can
	// see the marker a moment before B counts it.
	testutil.Eventually(t, "B counts n+1 received, 2(n+1) injected", func() bool {
		st := b.node.Stats()
		return st.Received == n+1 && st.Injected == 2*(n+1)
	})
	if st := b.node.Stats(); st.Bad != 0 || st.Gaps != 0 {
		t.Fatalf("B's federation stats %+v", st)
	}
}
