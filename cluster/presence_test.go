package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// nextEvent reads up to the next presence event and returns its address
// and headers.
func nextEvent(t *testing.T, ctx context.Context, p *rawpeer.Peer) (string, map[string]string) {
	t.Helper()
	m := nextDeliver(t, ctx, p)
	return string(m.Address), m.Headers()
}

// Presence is cluster-wide: a watcher on B subscribed to broker events
// sees the join and leave of a device on A (with zccp-broker: A); when
// A dies without a word (its federation link aborted, its broker
// closed), B reports A's devices gone (leave, reason broker-lost) once it
// presumes A dead, and the device's reconnection to C is a join on C.
// Every peer is hand-framed.
func TestPresenceAcrossBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	b := startMember(t, nodes[1].ClientURL(), "B")
	c := startMember(t, nodes[2].ClientURL(), "C")
	watcher := peer(t, ctx, b.ep, "watcher")
	if err := watcher.Subscribe(ctx, `^\$zccp\.presence\.`); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "A and C learn that B listens to broker events", func() bool {
		return a.node.Listening(b.node.ID()) && c.node.Listening(b.node.ID())
	})

	dev := peer(t, ctx, a.ep, "pdu-1")
	if addr, h := nextEvent(t, ctx, watcher); addr != "$zccp.presence.join" || h["zccp-identifier"] != "pdu-1" || h["zccp-broker"] != "A" {
		t.Fatalf("join: %s %v", addr, h)
	}
	if err := dev.Goodbye(ctx); err != nil {
		t.Fatal(err)
	}
	if addr, h := nextEvent(t, ctx, watcher); addr != "$zccp.presence.leave" || h["zccp-identifier"] != "pdu-1" || h["zccp-reason"] != "goodbye" || h["zccp-broker"] != "A" {
		t.Fatalf("leave: %s %v", addr, h)
	}

	// A device on A, then A dies.
	dev2 := peer(t, ctx, a.ep, "pdu-2")
	if addr, h := nextEvent(t, ctx, watcher); addr != "$zccp.presence.join" || h["zccp-identifier"] != "pdu-2" {
		t.Fatalf("join: %s %v", addr, h)
	}
	testutil.Eventually(t, "B learns that pdu-2 is on A", func() bool { return b.b.RemoteHolder("pdu-2") == a.node.ID() })
	a.node.Abort()
	a.b.Close()
	dev2.Close()
	if addr, h := nextEvent(t, ctx, watcher); addr != "$zccp.presence.leave" || h["zccp-identifier"] != "pdu-2" || h["zccp-reason"] != "broker-lost" || h["zccp-broker"] != "A" {
		t.Fatalf("leave of a lost broker's device: %s %v", addr, h)
	}
	// It reappears on C.
	peer(t, ctx, c.ep, "pdu-2")
	if addr, h := nextEvent(t, ctx, watcher); addr != "$zccp.presence.join" || h["zccp-identifier"] != "pdu-2" || h["zccp-broker"] != "C" {
		t.Fatalf("join on C: %s %v", addr, h)
	}
	testutil.Eventually(t, "B learns that pdu-2 is on C", func() bool { return b.b.RemoteHolder("pdu-2") == c.node.ID() })
}
