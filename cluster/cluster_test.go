package cluster

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/cluster/natscluster"
	"github.com/zccp-go/zccp/federation"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// natsCluster starts three nats-server nodes in this process, routed to
// each other on 127.0.0.1 (natscluster.Start).
func natsCluster(t testing.TB) []*server.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes, err := natscluster.Start(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { natscluster.Stop(nodes) })
	return nodes
}

// member is one broker of the federation under test.
type member struct {
	b    *broker.Broker
	ep   string
	node *federation.Node
}

func quietLog() *slog.Logger {
	if os.Getenv("ZCCP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startMember runs a broker on tcp 127.0.0.1 (port 0) joined to the
// federation through the NATS node at url. Heartbeats are fast so that
// the test of a dead broker is short, yet not so fast that a loaded
// machine's pause makes a live broker look dead.
func startMember(t testing.TB, url, name string) *member {
	t.Helper()
	return startMemberURLs(t, []string{url}, name)
}

// startMemberURLs is startMember with a list of NATS servers, tried in
// order (the first one first: not shuffled).
func startMemberURLs(t testing.TB, urls []string, name string) *member {
	t.Helper()
	return startMemberWith(t, urls, name, false)
}

// startMemberOpts is startMember without the identity registry when
// noRegistry.
func startMemberOpts(t testing.TB, url, name string, noRegistry bool) *member {
	t.Helper()
	return startMemberWith(t, []string{url}, name, noRegistry)
}

func startMemberWith(t testing.TB, urls []string, name string, noRegistry bool, extra ...nats.Option) *member {
	t.Helper()
	b, err := broker.New(broker.Config{Name: name, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := federation.Start(ctx, b, federation.Options{
		URLs: urls, Name: name, Logger: quietLog(), NATS: append([]nats.Option{nats.DontRandomize()}, extra...),
		Advertise: 200 * time.Millisecond, DeadAfter: 3 * time.Second, Scan: 10 * time.Millisecond,
		RegistryTTL: 30 * time.Second, NoRegistry: noRegistry,
		ResolveWait: 10 * time.Second, // a loaded machine must not leave a live broker out of a group call
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &member{b: b, ep: ep, node: n}
	t.Cleanup(func() { n.Close(); b.Close() })
	return m
}

// peer dials a hand-framed ZMTP peer (not our client library), HELLO.
func peer(t testing.TB, ctx context.Context, ep, id string) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, id); err != nil {
		t.Fatal(err)
	}
	return p
}

// countSubject counts the NATS messages on subject, seen by a plain NATS
// subscriber on the node at url.
func countSubject(t testing.TB, url, subject string) *atomic.Int64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var n atomic.Int64
	if _, err := nc.Subscribe(subject, func(*nats.Msg) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &n
}
