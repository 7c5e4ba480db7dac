package cluster

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// device dials a hand-framed peer that declares itself a member of group
// requests (zccp-serves: 1) with labels, subscribed to expr (if any).
func device(t *testing.T, ctx context.Context, ep, id, expr string, labels ...string) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, id, hdr(append([]string{"zccp-serves", "1"}, labels...)...)...); err != nil {
		t.Fatal(err)
	}
	if expr != "" {
		if err := p.Subscribe(ctx, expr); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// expectReceipt reads the next DELIVER and checks that it is the receipt
// of id; it returns the recipients it lists, sorted.
func expectReceipt(t *testing.T, ctx context.Context, p *rawpeer.Peer, id string, dry bool) []string {
	t.Helper()
	m := nextDeliver(t, ctx, p)
	h := m.Headers()
	if string(m.Address) != "$zccp.receipt" || h["zccp-reply-to"] != id || (h["zccp-dry-run"] == "1") != dry {
		t.Fatalf("want the receipt of %s (dry run %v), got address %q headers %v", id, dry, m.Address, h)
	}
	n, err := strconv.Atoi(h["zccp-recipients"])
	if err != nil || (n > 0 && len(m.Content) != n) {
		t.Fatalf("receipt of %s: zccp-recipients %q, %d frames", id, h["zccp-recipients"], len(m.Content))
	}
	var names []string
	for _, c := range m.Content[:n] {
		names = append(names, string(c))
	}
	slices.Sort(names)
	return names
}

// finals reads replies to id until every name in want has had its final
// reply (progress reports are skipped), failing on a second final reply
// from anyone or a reply from someone not listed. It returns the final
// status (or error code) per recipient.
func finals(t *testing.T, ctx context.Context, p *rawpeer.Peer, id string, want []string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for len(got) < len(want) {
		m := nextDeliver(t, ctx, p)
		h := m.Headers()
		if h["zccp-reply-to"] != id {
			t.Fatalf("want a reply to %s, got %q %v", id, m.Sender, h)
		}
		if h["zccp-status"] == "progress" {
			continue
		}
		who := string(m.Sender)
		if who == "$zccp" {
			who = h["zccp-recipient"]
		}
		if !slices.Contains(want, who) {
			t.Fatalf("reply to %s from %q, who is not in the receipt %v", id, who, want)
		}
		if _, dup := got[who]; dup {
			t.Fatalf("a second final reply to %s from %s", id, who)
		}
		got[who] = h["zccp-status"]
		if code := h["zccp-error"]; code != "" {
			got[who] = code
		}
	}
	return got
}

// threeBrokers starts A, B, C on the three NATS nodes, declared devices
// a1, a2 on A, b1, b2 on B, c1, c2 on C (subscribed to dc1.pdus, kind=pdu)
// and c3 on C (no subscription, rack=9), a plain subscriber on B (never a
// recipient) and the requester ops on A, and waits until the brokers know
// each other's interest and clients.
func threeBrokers(t *testing.T, ctx context.Context) (ms [3]*member, devs map[string]*rawpeer.Peer, ops *rawpeer.Peer) {
	nodes := natsCluster(t)
	for i, name := range []string{"A", "B", "C"} {
		ms[i] = startMember(t, nodes[i].ClientURL(), name)
	}
	devs = map[string]*rawpeer.Peer{}
	for i, prefix := range []string{"a", "b", "c"} {
		for j := 1; j <= 2; j++ {
			id := prefix + strconv.Itoa(j)
			devs[id] = device(t, ctx, ms[i].ep, id, `^dc1\.pdus$`, "kind", "pdu")
		}
	}
	devs["c3"] = device(t, ctx, ms[2].ep, "c3", "", "rack", "9")
	watcher := peer(t, ctx, ms[1].ep, "watcher")
	if err := watcher.Subscribe(ctx, `^dc1\.`); err != nil {
		t.Fatal(err)
	}
	ops = peer(t, ctx, ms[0].ep, "ops")
	a := ms[0].b
	testutil.Eventually(t, "the brokers know each other", func() bool {
		ri := a.RemoteInterest()
		return ri[ms[1].node.ID()] == 2 && ri[ms[2].node.ID()] == 1 && a.RemoteHolder("c3") == ms[2].node.ID() &&
			ms[1].b.RemoteHolder("ops") == ms[0].node.ID() && ms[2].b.RemoteHolder("ops") == ms[0].node.ID()
	})
	return ms, devs, ops
}

// A group request from a hand-framed requester on broker A: a dry run
// lists the recipients on all three brokers and sends nothing; the call's
// receipt lists them all (declared members only, the plain subscriber on
// B left out) before any command leaves; every recipient gets the command
// from the requester and its reply (ok, or an error) comes back once; an
// empty address with a label selection reaches a device on C with no
// subscription.
func TestGroupRequestAcrossBrokers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	ms, devs, ops := threeBrokers(t, ctx)
	all := []string{"a1", "a2", "b1", "b2", "c1", "c2"}

	ops.Publish("dc1.pdus", hdr("zccp-request-id", "g0", "zccp-method", "status", "zccp-dry-run", "1"), []byte("q"))
	if got := expectReceipt(t, ctx, ops, "g0", true); !slices.Equal(got, all) {
		t.Fatalf("dry run lists %v, want %v", got, all)
	}

	ops.Publish("dc1.pdus", hdr("zccp-request-id", "g1", "zccp-method", "status", "zccp-ttl", "10000"), []byte("q"))
	if got := expectReceipt(t, ctx, ops, "g1", false); !slices.Equal(got, all) {
		t.Fatalf("receipt lists %v, want %v", got, all)
	}
	for _, id := range all {
		// The first DELIVER each device reads is g1's command: the dry
		// run sent nothing.
		expectCommand(t, ctx, devs[id], "g1", "ops")
		if id == "c2" {
			devs[id].Direct("ops", hdr("zccp-reply-to", "g1", "zccp-status", "error", "zccp-error", "device-error", "zccp-reason", "fuse"), []byte("fuse"))
			continue
		}
		devs[id].Direct("ops", hdr("zccp-reply-to", "g1", "zccp-status", "progress"), []byte("half"))
		devs[id].Direct("ops", hdr("zccp-reply-to", "g1", "zccp-status", "ok"), []byte(id))
	}
	got := finals(t, ctx, ops, "g1", all)
	for _, id := range all {
		if want := map[bool]string{true: "device-error", false: "ok"}[id == "c2"]; got[id] != want {
			t.Fatalf("final replies %v", got)
		}
	}
	testutil.Eventually(t, "no request tracked anywhere", func() bool {
		return ms[0].b.Stats().Inflight == 0 && ms[1].b.Stats().Inflight == 0 && ms[2].b.Stats().Inflight == 0
	})

	// Label only: every broker is asked; only c3 carries rack=9.
	ops.Publish("", hdr("zccp-request-id", "g2", "zccp-select", "rack=9"), []byte("q"))
	if got := expectReceipt(t, ctx, ops, "g2", false); !slices.Equal(got, []string{"c3"}) {
		t.Fatalf("label-only receipt lists %v", got)
	}
	expectCommand(t, ctx, devs["c3"], "g2", "ops")
	devs["c3"].Direct("ops", hdr("zccp-reply-to", "g2", "zccp-status", "ok"), []byte("c3"))
	if got := finals(t, ctx, ops, "g2", []string{"c3"}); got["c3"] != "ok" {
		t.Fatalf("label-only: %v", got)
	}
	if s := ms[0].node.GroupStats(); s.Missed != 0 || s.Refused != 0 || s.Resolves != 6 {
		t.Fatalf("A's group stats %+v", s)
	}
}

// Killing broker C mid-call (its federation node aborted without a bye,
// then the broker closed, as a crash would) yields disconnected replies,
// from A, for exactly C's recipients once A presumes C dead; the others'
// replies arrive, and each listed recipient has exactly one final reply.
func TestGroupBrokerDiesMidCall(t *testing.T) {
	t.Parallel() // mostly waiting (DeadAfter, a build): overlaps with the other waiting tests
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	ms, devs, ops := threeBrokers(t, ctx)
	all := []string{"a1", "a2", "b1", "b2", "c1", "c2"}
	ops.Publish("dc1.pdus", hdr("zccp-request-id", "k1", "zccp-method", "status"), []byte("q"))
	if got := expectReceipt(t, ctx, ops, "k1", false); !slices.Equal(got, all) {
		t.Fatalf("receipt lists %v, want %v", got, all)
	}
	for _, id := range all {
		expectCommand(t, ctx, devs[id], "k1", "ops")
	}
	ms[2].node.Abort()
	ms[2].b.Close()
	for _, id := range all[:4] {
		devs[id].Direct("ops", hdr("zccp-reply-to", "k1", "zccp-status", "ok"), []byte(id))
	}
	got := finals(t, ctx, ops, "k1", all)
	for _, id := range all {
		want := "ok"
		if id[0] == 'c' {
			want = "disconnected"
		}
		if got[id] != want {
			t.Fatalf("final replies %v", got)
		}
	}
	if s := ms[0].node.Stats(); s.Withdrawn != 1 {
		t.Fatalf("A's node: %+v (C should have been presumed dead)", s)
	}
	testutil.Eventually(t, "no request tracked on A or B", func() bool {
		return ms[0].b.Stats().Inflight == 0 && ms[1].b.Stats().Inflight == 0
	})
}

// A broker that does not answer resolve within ResolveWait is left out of
// the call: here a hand-written NATS client posing as a broker (hello and
// a full advert matching the address, a subscription to its resolve
// subject that never answers). The receipt lists the local device only,
// after the bounded wait; A counts the miss; the silent broker is never
// sent a commit.
func TestGroupLeavesOutSilentBroker(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a, _ := startMemberConfig(t, nodes[0].ClientURL(), "A", broker.Config{}, 300*time.Millisecond, false)
	nc, err := nats.Connect(nodes[1].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const fake = "00000000000000f1"
	resolves := countSubject(t, nodes[1].ClientURL(), "zccp.fed.resolve."+fake)
	commits := countSubject(t, nodes[1].ClientURL(), "zccp.fed.commit."+fake)
	if _, err := nc.Subscribe("zccp.fed.resolve."+fake, func(*nats.Msg) {}); err != nil { // hears, never answers
		t.Fatal(err)
	}
	nc.Publish("zccp.fed.interest", []byte(`{"v":1,"id":"`+fake+`","name":"silent","kind":"hello","seq":1}`))
	nc.Publish("zccp.fed.interest", []byte(`{"v":1,"id":"`+fake+`","name":"silent","kind":"full","seq":2,"part":0,"parts":1,"add":["^dc1\\.pdus$"]}`))
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "A learns the silent broker's interest", func() bool { return a.b.RemoteInterest()[fake] == 1 })
	a1 := device(t, ctx, a.ep, "a1", `^dc1\.pdus$`)
	ops := peer(t, ctx, a.ep, "ops")
	start := time.Now()
	ops.Publish("dc1.pdus", hdr("zccp-request-id", "s1"), []byte("q"))
	if got := expectReceipt(t, ctx, ops, "s1", false); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("receipt lists %v", got)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("receipt after %v: the resolve wait was not honoured", waited)
	}
	expectCommand(t, ctx, a1, "s1", "ops")
	a1.Direct("ops", hdr("zccp-reply-to", "s1", "zccp-status", "ok"), []byte("a1"))
	if got := finals(t, ctx, ops, "s1", []string{"a1"}); got["a1"] != "ok" {
		t.Fatalf("finals %v", got)
	}
	if s := a.node.GroupStats(); s.Resolves != 1 || s.Missed != 1 || s.Commits != 0 {
		t.Fatalf("A's group stats %+v", s)
	}
	testutil.Eventually(t, "the silent broker's subject saw the resolve", func() bool { return resolves.Load() == 1 })
	if commits.Load() != 0 {
		t.Fatalf("the silent broker was sent %d commits", commits.Load())
	}
}
