package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// Interest follows subscriptions: a cancelled expression and a closed
// session are withdrawn, a broker that joins later learns everything
// already held, a broker that leaves says so, and a broker that dies
// without a word is withdrawn after DeadAfter; after that nothing is
// forwarded to it.
func TestInterestFollowsSubscriptionsAndBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	b := startMember(t, nodes[1].ClientURL(), "B")
	c := startMember(t, nodes[2].ClientURL(), "C")

	sb := peer(t, ctx, b.ep, "sub-b")
	for _, e := range []string{`^rack\.`, `temp$`} {
		if err := sb.Subscribe(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// 50 sessions on C with one identical expression: one entry.
	var onC []*rawpeer.Peer
	for i := range 50 {
		p := peer(t, ctx, c.ep, "dev-"+string(rune('A'+i%26))+string(rune('a'+i/26)))
		if err := p.Subscribe(ctx, `^cmd\.all$`); err != nil {
			t.Fatal(err)
		}
		onC = append(onC, p)
	}
	testutil.Eventually(t, "A learns B's 2 expressions and C's 1", func() bool {
		ri := a.b.RemoteInterest()
		return ri[b.node.ID()] == 2 && ri[c.node.ID()] == 1
	})

	if err := sb.Subscribe(ctx, `temp$`, rawpeer.Header{Name: "zccp-cancel", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the cancelled expression withdrawn", func() bool { return a.b.RemoteInterest()[b.node.ID()] == 1 })
	for _, p := range onC[1:] {
		p.Close()
	}
	testutil.Eventually(t, "49 sessions on C ended", func() bool { return c.b.Stats().Sessions == 1 })
	adverts := c.node.Stats().Adverts
	testutil.Eventually(t, "C advertised twice more (both sets)", func() bool { return c.node.Stats().Adverts >= adverts+4 })
	if a.b.RemoteInterest()[c.node.ID()] != 1 {
		t.Fatal("C's expression withdrawn while one session still holds it")
	}
	onC[0].Close()
	testutil.Eventually(t, "C's expression withdrawn when its last session ended", func() bool { return a.b.RemoteInterest()[c.node.ID()] == 0 })

	d := startMember(t, nodes[2].ClientURL(), "D")
	testutil.Eventually(t, "a broker that joins later learns B's interest", func() bool { return d.b.RemoteInterest()[b.node.ID()] == 1 })

	d.node.Close() // says bye
	testutil.Eventually(t, "a broker that left is withdrawn", func() bool {
		_, ok := a.b.RemoteInterest()[d.node.ID()]
		return !ok
	})
	if w := a.node.Stats().Withdrawn; w != 0 {
		t.Fatalf("a broker that said bye counted as dead (%d)", w)
	}

	toB := countSubject(t, nodes[0].ClientURL(), "zccp.fed.deliver."+b.node.ID())
	b.node.Abort() // dies without a word
	testutil.Eventually(t, "a dead broker's interest withdrawn", func() bool {
		_, ok := a.b.RemoteInterest()[b.node.ID()]
		return !ok && a.node.Stats().Withdrawn == 1
	})
	pub := peer(t, ctx, a.ep, "pub-a")
	if err := pub.Publish("rack.1", nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Subscribe(ctx, "^sync$"); err != nil { // SUBSCRIBE-OK: the PUBLISH was handled
		t.Fatal(err)
	}
	if st := a.node.Stats(); st.Forwarded != 0 {
		t.Fatalf("forwarded %d after B was withdrawn", st.Forwarded)
	}
	if n := toB.Load(); n != 0 {
		t.Fatalf("%d messages sent to the dead broker", n)
	}
}
