package cluster

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// holders counts the live sessions with identifier ident on the brokers.
func holders(ident string, ms ...*member) int {
	n := 0
	for _, m := range ms {
		for _, c := range m.b.Clients("") {
			if c.Identifier == ident {
				n++
			}
		}
	}
	return n
}

// An identifier held on A and claimed on B: the newer session (B) wins,
// as on one broker. B's HELLO-OK says zccp-replaced: 1; A's session is
// told taken-over (naming broker B) and ends, its connection stays (it
// says HELLO again with another identifier); DIRECTs from C then reach
// B's session. Every broker learns the holder from the JetStream
// registry (no identifier adverts), all peers are hand-framed.
func TestTakeoverAcrossBrokers(t *testing.T) {
	t.Parallel() // own NATS cluster and brokers
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	b := startMember(t, nodes[1].ClientURL(), "B")
	c := startMember(t, nodes[2].ClientURL(), "C")
	for _, m := range []*member{a, b, c} {
		if !m.node.Registry().On {
			t.Fatal("identity registry not in use (JetStream)")
		}
	}
	old := peer(t, ctx, a.ep, "pdu-9")
	testutil.Eventually(t, "B and C learn pdu-9 is on A", func() bool {
		return b.b.RemoteHolder("pdu-9") == a.node.ID() && c.b.RemoteHolder("pdu-9") == a.node.ID()
	})

	newer, err := rawpeer.Dial(ctx, b.ep)
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	props, err := newer.HelloProps(ctx, "pdu-9")
	if err != nil || props["zccp-replaced"] != "1" {
		t.Fatalf("HELLO-OK on B: %v %v, want zccp-replaced: 1", props, err)
	}
	if code, reason := nextNotice(t, ctx, old); code != "taken-over" || !strings.Contains(reason, `"B"`) {
		t.Fatalf("old session on A: %q %q", code, reason)
	}
	if err := old.Hello(ctx, "pdu-9-spare"); err != nil { // the connection stays
		t.Fatalf("HELLO again after taken-over: %v", err)
	}
	testutil.Eventually(t, "A and C learn pdu-9 is on B", func() bool {
		return a.b.RemoteHolder("pdu-9") == b.node.ID() && c.b.RemoteHolder("pdu-9") == b.node.ID()
	})
	if n := holders("pdu-9", a, b, c); n != 1 {
		t.Fatalf("%d sessions hold pdu-9", n)
	}
	caller := peer(t, ctx, c.ep, "ops")
	if err := caller.Direct("pdu-9", nil, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, newer); string(m.Sender) != "ops" || string(m.Content[0]) != "hi" {
		t.Fatalf("B's pdu-9 read %+v", m)
	}
	if st := a.node.Registry(); st.Takeovers != 1 {
		t.Fatalf("A's registry: %+v", st)
	}
}

// Two HELLOs with one identifier on two brokers at the same moment: the
// registry orders them, and exactly one session is left in the cluster
// (the other is told taken-over); every broker agrees on where it is.
func TestSimultaneousClaimsLeaveOneSession(t *testing.T) {
	t.Parallel() // own NATS cluster and brokers
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	b := startMember(t, nodes[1].ClientURL(), "B")
	c := startMember(t, nodes[2].ClientURL(), "C")
	for round := range 5 {
		ident := "race-" + string(rune('a'+round))
		pa, err := rawpeer.Dial(ctx, a.ep)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := rawpeer.Dial(ctx, c.ep)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, p := range []*rawpeer.Peer{pa, pc} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.Hello(ctx, ident); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		testutil.Eventually(t, "one session of "+ident+" left", func() bool { return holders(ident, a, b, c) == 1 })
		testutil.Eventually(t, "B knows where "+ident+" is", func() bool {
			h := b.b.RemoteHolder(ident)
			return h != "" && (h == a.node.ID()) == (holders(ident, a) == 1)
		})
		pa.Close()
		pc.Close()
	}
}

// Without the registry (NoRegistry, as when JetStream is unavailable)
// identifiers are advertised: DIRECTs across brokers still work.
func TestDirectWithoutRegistry(t *testing.T) {
	t.Parallel() // own NATS cluster and brokers
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startMemberOpts(t, nodes[0].ClientURL(), "A", true)
	c := startMemberOpts(t, nodes[2].ClientURL(), "C", true)
	if a.node.Registry().On {
		t.Fatal("registry in use with NoRegistry")
	}
	dev := peer(t, ctx, c.ep, "pdu-1")
	caller := peer(t, ctx, a.ep, "ops")
	testutil.Eventually(t, "A learns pdu-1 is on C (advert)", func() bool { return a.b.RemoteHolder("pdu-1") == c.node.ID() })
	if err := caller.Direct("pdu-1", nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, dev); string(m.Content[0]) != "x" {
		t.Fatalf("device read %+v", m)
	}
}

// Brokers that start at the same moment on a fresh NATS cluster all get
// the registry (creating one bucket from two clients at once once hung
// both until their deadline: see federation.createBucket).
func TestRegistryConcurrentStart(t *testing.T) {
	t.Parallel() // own NATS cluster and brokers
	nodes := natsCluster(t)
	ms := make([]*member, 3)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms[i] = startMember(t, nodes[i].ClientURL(), string(rune('A'+i)))
		}()
	}
	wg.Wait()
	for _, m := range ms {
		if m == nil || !m.node.Registry().On {
			t.Fatal("a broker started without the registry")
		}
	}
}

// A NATS server without JetStream: the brokers start anyway, without the
// registry (logged), and advertise identifiers: DIRECTs cross, no
// takeover across brokers (both sessions stay).
func TestNoJetStreamFallsBack(t *testing.T) {
	t.Parallel() // own NATS cluster and brokers
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	a := startMember(t, s.ClientURL(), "A")
	c := startMember(t, s.ClientURL(), "C")
	if a.node.Registry().On || c.node.Registry().On {
		t.Fatal("registry in use without JetStream")
	}
	dev := peer(t, ctx, c.ep, "pdu-1")
	caller := peer(t, ctx, a.ep, "ops")
	testutil.Eventually(t, "A learns pdu-1 is on C (advert)", func() bool { return a.b.RemoteHolder("pdu-1") == c.node.ID() })
	if err := caller.Direct("pdu-1", nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, dev); string(m.Content[0]) != "x" {
		t.Fatalf("device read %+v", m)
	}
	twin := peer(t, ctx, a.ep, "pdu-1") // no takeover across brokers without the registry
	if err := twin.Subscribe(ctx, "^sync$"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "C hears A's advert of pdu-1", func() bool { return c.b.RemoteHolder("pdu-1") == a.node.ID() })
	if n := holders("pdu-1", a, c); n != 2 {
		t.Fatalf("%d sessions of pdu-1, want both kept", n)
	}
}
