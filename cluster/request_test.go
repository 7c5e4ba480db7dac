package cluster

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/federation"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/policy"
)

// startMemberConfig is startMember with a broker configuration (limits),
// a ResolveWait (0: 10 s) and, when ipc is set, an ipc endpoint too
// (returned as the second endpoint): ipc's small socket buffers let a
// test stall a device's writer.
func startMemberConfig(t *testing.T, url, name string, cfg broker.Config, wait time.Duration, ipc bool) (*member, string) {
	t.Helper()
	cfg.Name, cfg.Logger = name, quietLog()
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ipcEP string
	if ipc {
		if ipcEP, err = b.Listen(fmt.Sprintf("ipc://@zccp-cluster-test-%s-%d", name, time.Now().UnixNano())); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := federation.Start(ctx, b, federation.Options{
		URLs: []string{url}, Name: name, Logger: quietLog(), NATS: []nats.Option{nats.DontRandomize()},
		Advertise: 200 * time.Millisecond, DeadAfter: 3 * time.Second, Scan: 10 * time.Millisecond,
		RegistryTTL: 30 * time.Second, ResolveWait: cmp.Or(wait, 10*time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); b.Close() })
	return &member{b: b, ep: ep, node: n}, ipcEP
}

// hdr builds a header list from name, value pairs.
func hdr(kv ...string) []rawpeer.Header {
	var hs []rawpeer.Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, rawpeer.Header{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

// expectReply reads the next DELIVER and checks that it is a reply to id
// from sender with status (and, for a broker's reply, the error code and
// zccp-recipient).
func expectReply(t *testing.T, ctx context.Context, p *rawpeer.Peer, id, sender, status, code, recipient string) *rawpeer.Message {
	t.Helper()
	m := nextDeliver(t, ctx, p)
	h := m.Headers()
	if string(m.Sender) != sender || h["zccp-reply-to"] != id || h["zccp-status"] != status || h["zccp-error"] != code {
		t.Fatalf("want reply to %s from %s %s %s, got sender %q address %q headers %v", id, sender, status, code, m.Sender, m.Address, h)
	}
	if recipient != "" && h["zccp-recipient"] != recipient {
		t.Fatalf("reply to %s: zccp-recipient %q, want %q", id, h["zccp-recipient"], recipient)
	}
	return m
}

// expectCommand reads the next DELIVER at a device and checks that it is
// request id from sender; it returns its headers.
func expectCommand(t *testing.T, ctx context.Context, dev *rawpeer.Peer, id, sender string) map[string]string {
	t.Helper()
	m := nextDeliver(t, ctx, dev)
	h := m.Headers()
	if string(m.Sender) != sender || h["zccp-request-id"] != id {
		t.Fatalf("device: want request %s from %s, got sender %q headers %v", id, sender, m.Sender, h)
	}
	return h
}

// inflight waits until brokers a and c each track n requests.
func inflight(t *testing.T, a, c *member, n int) {
	t.Helper()
	testutil.Eventually(t, "requests tracked = "+strconv.Itoa(n)+" on both brokers", func() bool {
		return a.b.Stats().Inflight == n && c.b.Stats().Inflight == n
	})
}

// A hand-framed requester on broker A reaches hand-framed devices on
// broker C by identifier: progress and ok, an error reply, no-such-client
// at once for an identifier held nowhere, a cancel that travels and ends
// the request on both brokers, a retry that replaces the request on both
// (the device sees the same requester and id again), the device's session
// ending (disconnected from C, through A), and the requester's limit
// enforced by A itself.
func TestRequestAcrossBrokers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a, _ := startMemberConfig(t, nodes[0].ClientURL(), "A", broker.Config{MaxInflightPerRequester: 3}, 0, false)
	c := startMember(t, nodes[2].ClientURL(), "C")
	dev := peer(t, ctx, c.ep, "pdu-7")
	dev8 := peer(t, ctx, c.ep, "pdu-8")
	caller := peer(t, ctx, a.ep, "ops")
	testutil.Eventually(t, "A and C know each other's clients", func() bool {
		return a.b.RemoteHolder("pdu-7") == c.node.ID() && a.b.RemoteHolder("pdu-8") == c.node.ID() && c.b.RemoteHolder("ops") == a.node.ID()
	})

	// Progress, then ok; the TTL left travels and is re-encoded at C.
	if err := caller.Direct("pdu-7", hdr("zccp-request-id", "r1", "zccp-method", "status", "zccp-ttl", "5000"), []byte("q")); err != nil {
		t.Fatal(err)
	}
	h := expectCommand(t, ctx, dev, "r1", "ops")
	if ttl, err := strconv.Atoi(h["zccp-ttl"]); err != nil || len(h["zccp-ttl"]) != 10 || ttl <= 0 || ttl > 5000 || h["zccp-method"] != "status" {
		t.Fatalf("command headers %v", h)
	}
	inflight(t, a, c, 1)
	dev.Direct("ops", hdr("zccp-reply-to", "r1", "zccp-status", "progress"), []byte("half"))
	dev.Direct("ops", hdr("zccp-reply-to", "r1", "zccp-status", "ok"), []byte("fine"))
	expectReply(t, ctx, caller, "r1", "pdu-7", "progress", "", "")
	if m := expectReply(t, ctx, caller, "r1", "pdu-7", "ok", "", ""); string(m.Content[0]) != "fine" {
		t.Fatalf("ok reply content %q", m.Content)
	}
	inflight(t, a, c, 0)

	// An error reply from the device.
	caller.Direct("pdu-7", hdr("zccp-request-id", "r2"), []byte("q"))
	expectCommand(t, ctx, dev, "r2", "ops")
	dev.Direct("ops", hdr("zccp-reply-to", "r2", "zccp-status", "error", "zccp-error", "device-error", "zccp-reason", "fuse"), []byte("fuse"))
	expectReply(t, ctx, caller, "r2", "pdu-7", "error", "device-error", "")
	inflight(t, a, c, 0)

	// Nobody in the cluster holds the identifier: at once, from A.
	caller.Direct("nobody", hdr("zccp-request-id", "r3"), []byte("q"))
	expectReply(t, ctx, caller, "r3", "$zccp", "error", "no-such-client", "nobody")

	// Cancel travels and ends the request on both brokers.
	caller.Direct("pdu-7", hdr("zccp-request-id", "r4"), []byte("q"))
	expectCommand(t, ctx, dev, "r4", "ops")
	inflight(t, a, c, 1)
	caller.Direct("pdu-7", hdr("zccp-cancel-request", "r4"))
	if m := nextDeliver(t, ctx, dev); m.Headers()["zccp-cancel-request"] != "r4" || string(m.Sender) != "ops" {
		t.Fatalf("device: want the cancel of r4, got %v", m.Headers())
	}
	inflight(t, a, c, 0)

	// A retry with the same id replaces the request on both brokers; the
	// device, seeing the same (requester, id), answers once.
	caller.Direct("pdu-7", hdr("zccp-request-id", "r5"), []byte("q"))
	caller.Direct("pdu-7", hdr("zccp-request-id", "r5"), []byte("q"))
	expectCommand(t, ctx, dev, "r5", "ops")
	expectCommand(t, ctx, dev, "r5", "ops")
	inflight(t, a, c, 1)
	dev.Direct("ops", hdr("zccp-reply-to", "r5", "zccp-status", "ok"), []byte("once"))
	expectReply(t, ctx, caller, "r5", "pdu-7", "ok", "", "")
	inflight(t, a, c, 0)

	// The device's session ends with the request outstanding: C tells A,
	// A tells the requester.
	caller.Direct("pdu-8", hdr("zccp-request-id", "r6"), []byte("q"))
	expectCommand(t, ctx, dev8, "r6", "ops")
	dev8.Close()
	expectReply(t, ctx, caller, "r6", "$zccp", "error", "disconnected", "pdu-8")
	inflight(t, a, c, 0)

	// The requester's limit at one device (3 here) is A's: the fourth
	// request is refused by A and never reaches C.
	for i := range 4 {
		caller.Direct("pdu-7", hdr("zccp-request-id", "L"+strconv.Itoa(i)), []byte("q"))
	}
	expectReply(t, ctx, caller, "L3", "$zccp", "error", "too-many-requests", "pdu-7")
	for i := range 3 {
		expectCommand(t, ctx, dev, "L"+strconv.Itoa(i), "ops")
	}
	inflight(t, a, c, 3)
	for i := range 3 {
		dev.Direct("ops", hdr("zccp-reply-to", "L"+strconv.Itoa(i), "zccp-status", "ok"), []byte("ok"))
		expectReply(t, ctx, caller, "L"+strconv.Itoa(i), "pdu-7", "ok", "", "")
	}
	inflight(t, a, c, 0)
}

// A command whose TTL runs out while it waits in the queue of a device on
// broker C (a hand-framed device on ipc that never reads, its socket
// filled by a publisher on C) is dropped there and the requester on A is
// told expired, with the device as zccp-recipient.
func TestRequestExpiresAtRemoteDevice(t *testing.T) {
	t.Parallel() // mostly waiting (DeadAfter, a build): overlaps with the other waiting tests
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	c, ipc := startMemberConfig(t, nodes[2].ClientURL(), "C", broker.Config{}, 0, true)
	stalled := peer(t, ctx, ipc, "stalled")
	if err := stalled.Subscribe(ctx, "fill"); err != nil {
		t.Fatal(err)
	}
	caller := peer(t, ctx, a.ep, "ops")
	testutil.Eventually(t, "A and C know each other's clients", func() bool {
		return a.b.RemoteHolder("stalled") == c.node.ID() && c.b.RemoteHolder("ops") == a.node.ID()
	})
	filler := peer(t, ctx, c.ep, "filler")
	big := make([]byte, 256<<10)
	for range 64 {
		if err := filler.Publish("fill", nil, big); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "C routed the filler", func() bool { return c.b.Stats().Published == 64 })
	if err := caller.Direct("stalled", hdr("zccp-request-id", "x1", "zccp-ttl", "200"), []byte("q")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, ctx, caller, "x1", "$zccp", "error", "expired", "stalled")
	inflight(t, a, c, 0)
	if s := c.b.Stats(); s.ExpiredCmds != 1 {
		t.Fatalf("C's stats: %+v", s)
	}
}

// A device whose policy on broker C allows it no DIRECT may still answer
// a request from a requester on broker A (the reply concerns a request
// outstanding between the two, as on one broker); a plain DIRECT from it
// to the same requester is refused by C.
func TestReplyAcrossBrokersUnderPolicy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	c := startMember(t, nodes[2].ClientURL(), "C")
	pol, err := policy.Parse("test.policy", []byte("role dev\n  deliver **\nassign dev ident=pdu-*\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.b.SetPolicy(pol)
	dev := peer(t, ctx, c.ep, "pdu-7")
	caller := peer(t, ctx, a.ep, "ops")
	testutil.Eventually(t, "A and C know each other's clients", func() bool {
		return a.b.RemoteHolder("pdu-7") == c.node.ID() && c.b.RemoteHolder("ops") == a.node.ID()
	})
	dev.Direct("ops", nil, []byte("unasked"))
	if m := nextDeliver(t, ctx, dev); m.Headers()["zccp-error"] != "not-authorized" {
		t.Fatalf("a plain DIRECT from the device: %v", m.Headers())
	}
	caller.Direct("pdu-7", hdr("zccp-request-id", "p1"), []byte("q"))
	expectCommand(t, ctx, dev, "p1", "ops")
	dev.Direct("ops", hdr("zccp-reply-to", "p1", "zccp-status", "ok"), []byte("fine"))
	expectReply(t, ctx, caller, "p1", "pdu-7", "ok", "", "")
	inflight(t, a, c, 0)
}

// A retry (same requester, same id) across brokers reaches the device
// again and the device answers it from its record of answers: the Go
// client's handler on broker C runs once, the hand-framed requester on A
// gets an ok for each attempt.
func TestRetryAcrossBrokersRunsOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	c := startMember(t, nodes[2].ClientURL(), "C")
	var runs atomic.Int32
	dev, err := client.Connect(ctx, c.ep, client.WithIdentifier("pdu-9"),
		client.WithHandler("outlet.off", func(context.Context, *client.Request) (*client.Reply, error) {
			runs.Add(1)
			return &client.Reply{Content: [][]byte{[]byte("off")}}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	caller := peer(t, ctx, a.ep, "ops")
	testutil.Eventually(t, "A and C know each other's clients", func() bool {
		return a.b.RemoteHolder("pdu-9") == c.node.ID() && c.b.RemoteHolder("ops") == a.node.ID()
	})
	for range 2 {
		caller.Direct("pdu-9", hdr("zccp-request-id", "once-1", "zccp-method", "outlet.off"), []byte("q"))
		if m := expectReply(t, ctx, caller, "once-1", "pdu-9", "ok", "", ""); string(m.Content[0]) != "off" {
			t.Fatalf("reply content %q", m.Content)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the handler ran %d times", n)
	}
	inflight(t, a, c, 0)
}
