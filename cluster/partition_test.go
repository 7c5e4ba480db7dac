package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/cluster/natscluster"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// A partition: broker A reaches NATS only through node 0, B only through
// node 1; node 0 stops, which cuts A off from the rest of the federation.
// A keeps serving its own clients; B presumes A dead (interest and
// identifiers withdrawn, A's device reported gone, a DIRECT to it is
// no-such-client at once; a device that says HELLO on A meanwhile cannot
// be written to the registry). Node 0 comes back: A reconnects, B learns
// its interest and both devices again (the one claimed during the
// partition by A's next refresh), notifications and DIRECTs cross again.
// Hand-framed peers throughout.
func TestPartitionAndRecovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	// Only the node given: not the others the NATS servers tell of.
	a := startMemberWith(t, []string{nodes[0].ClientURL()}, "A", false, nats.IgnoreDiscoveredServers())
	b := startMemberWith(t, []string{nodes[1].ClientURL()}, "B", false, nats.IgnoreDiscoveredServers())
	subA := peer(t, ctx, a.ep, "sub-a")
	subB := peer(t, ctx, b.ep, "sub-b")
	for _, p := range []*rawpeer.Peer{subA, subB} {
		if err := p.Subscribe(ctx, `^rack\.`); err != nil {
			t.Fatal(err)
		}
	}
	watcher := peer(t, ctx, b.ep, "watcher")
	if err := watcher.Subscribe(ctx, `^\$zccp\.presence\.leave$`); err != nil {
		t.Fatal(err)
	}
	dev := peer(t, ctx, a.ep, "pdu-a")
	pub := peer(t, ctx, a.ep, "pub-a")
	caller := peer(t, ctx, b.ep, "ops")
	testutil.Eventually(t, "A and B know each other", func() bool {
		return a.b.RemoteInterest()[b.node.ID()] == 1 && b.b.RemoteHolder("pdu-a") == a.node.ID()
	})

	t0 := time.Now()
	natscluster.Shutdown(nodes[0]) // the partition
	t.Logf("node 0 stopped in %v", time.Since(t0))
	if err := pub.Publish("rack.1", nil, []byte("during")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, subA); string(m.Content[0]) != "during" { // A's own clients: served
		t.Fatalf("A's subscriber read %q", m.Content[0])
	}
	if addr, h := nextEvent(t, ctx, watcher); addr != "$zccp.presence.leave" || h["zccp-identifier"] != "pdu-a" || h["zccp-reason"] != "broker-lost" {
		t.Fatalf("B's watcher: %s %v", addr, h)
	}
	late := peer(t, ctx, a.ep, "pdu-late") // claimed while A cannot write to the registry
	if _, ok := b.b.RemoteInterest()[a.node.ID()]; ok || b.b.RemoteHolder("pdu-a") != "" {
		t.Fatalf("A still known on B: %v %q", b.b.RemoteInterest(), b.b.RemoteHolder("pdu-a"))
	}
	if err := caller.Direct("pdu-a", nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if code, _ := nextNotice(t, ctx, caller); code != "no-such-client" {
		t.Fatalf("DIRECT to a device behind the partition: %q", code)
	}

	t.Logf("B presumed A dead after %v", time.Since(t0))
	t0 = time.Now()
	n0, err := natscluster.Restart(nodes[0]) // the partition heals
	t.Logf("node 0 restarted in %v", time.Since(t0))
	if err != nil {
		t.Fatal(err)
	}
	nodes[0] = n0 // stopped by natsCluster's cleanup, after the brokers
	testutil.Eventually(t, "B learns A's interest and device again", func() bool {
		return b.b.RemoteInterest()[a.node.ID()] == 1 && b.b.RemoteHolder("pdu-a") == a.node.ID()
	})
	t.Logf("B knows A again after %v", time.Since(t0))
	if err := caller.Direct("pdu-a", nil, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, dev); string(m.Content[0]) != "after" {
		t.Fatalf("device read %q", m.Content[0])
	}
	// The claim made during the partition is written by A's next refresh.
	testutil.Eventually(t, "B learns the device that came during the partition", func() bool { return b.b.RemoteHolder("pdu-late") == a.node.ID() })
	if err := caller.Direct("pdu-late", nil, []byte("welcome")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, late); string(m.Content[0]) != "welcome" {
		t.Fatalf("late device read %q", m.Content[0])
	}
	if err := pub.Publish("rack.2", nil, []byte("healed")); err != nil {
		t.Fatal(err)
	}
	for {
		m := nextDeliver(t, ctx, subB) // "during" may or may not have crossed (buffered by A's NATS client)
		if string(m.Content[0]) == "healed" {
			break
		}
	}
}
