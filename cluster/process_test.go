package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// zccpd builds the daemon from this tree into a temporary directory.
// (When GO is set, as make sets it, that go is used.)
func zccpd(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zccpd")
	build := exec.Command(goTool(), "build", "-o", bin, "./cmd/zccpd")
	build.Dir = ".." // the main module: its go.sum, as shipped
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("go build zccpd: %v\n%s", err, out)
	}
	return bin
}

// A zccpd process started with --cluster serves a subscriber that gets
// the publishes of a broker elsewhere in the federation; when the process
// is killed (SIGKILL: no bye) its device reconnects to another broker (C)
// and a DIRECT from a third (A) reaches it there once the registry has
// converged; presence on A says it joined on C, and reports B's other
// session gone (broker-lost) when A presumes B dead, withdrawing B's
// interest and forwarding nothing more to it.
func TestZccpdProcessJoinsAndDies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	bin := zccpd(t)
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")

	ep := fmt.Sprintf("ipc://@/zccp-cluster-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command(bin, "--bind", ep, "--name", "B", "--log-level", "warn",
		"--cluster", nodes[1].ClientURL()+","+nodes[2].ClientURL(),
		"--cluster-advertise", "200ms", "--cluster-dead-after", "1s")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	var sub *rawpeer.Peer
	testutil.Eventually(t, "zccpd B accepts a session", func() bool {
		p, err := rawpeer.Dial(ctx, ep)
		if err != nil {
			return false
		}
		if err := p.Hello(ctx, "sub-b"); err != nil {
			p.Close()
			return false
		}
		sub = p
		return true
	})
	defer sub.Close()
	if err := sub.Subscribe(ctx, `^rack\.`); err != nil {
		t.Fatal(err)
	}
	var bID string
	testutil.Eventually(t, "A learns B's interest", func() bool {
		for id, k := range a.b.RemoteInterest() {
			if k == 1 {
				bID = id
				return true
			}
		}
		return false
	})
	pub := peer(t, ctx, a.ep, "pub-a")
	if err := pub.Publish("rack.9", nil, []byte("hello B")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextContext(ctx)
	if err != nil || m.ID != rawpeer.Deliver || string(m.Sender) != "pub-a" || string(m.Content[0]) != "hello B" {
		t.Fatalf("B's subscriber read %+v, %v", m, err)
	}

	// A device on B, known to A and C through the registry; a watcher of
	// presence events on A.
	dev, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if err := dev.Hello(ctx, "pdu-k"); err != nil {
		t.Fatal(err)
	}
	c := startMember(t, nodes[2].ClientURL(), "C")
	watcher := peer(t, ctx, a.ep, "watcher")
	if err := watcher.Subscribe(ctx, `^\$zccp\.presence\.`); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "C learns that A has a presence watcher", func() bool { return c.node.Listening(a.node.ID()) })
	testutil.Eventually(t, "A and C learn pdu-k is on B", func() bool {
		return a.b.RemoteHolder("pdu-k") == bID && c.b.RemoteHolder("pdu-k") == bID
	})

	toB := countSubject(t, nodes[0].ClientURL(), "zccp.fed.deliver."+bID)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The device reconnects to C: a DIRECT from A reaches it there once
	// the registry has converged, and A's watcher sees it join on C.
	dev.Close()
	dev = peer(t, ctx, c.ep, "pdu-k")
	testutil.Eventually(t, "A learns pdu-k is on C", func() bool { return a.b.RemoteHolder("pdu-k") == c.node.ID() })
	if err := pub.Direct("pdu-k", nil, []byte("found you")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, dev); string(m.Sender) != "pub-a" || string(m.Content[0]) != "found you" {
		t.Fatalf("pdu-k on C read %+v", m)
	}
	joined, lost := false, map[string]bool{}
	for !joined || !lost["sub-b"] { // B's sessions are reported gone when A presumes it dead
		addr, h := nextEvent(t, ctx, watcher)
		t.Logf("event %s %v", addr, h)
		switch {
		case addr == "$zccp.presence.join" && h["zccp-identifier"] == "pdu-k":
			joined = h["zccp-broker"] == "C"
		case addr == "$zccp.presence.leave" && h["zccp-reason"] == "broker-lost":
			lost[h["zccp-identifier"]] = h["zccp-broker"] == "B"
		}
	}
	if _, ok := lost["pdu-k"]; ok { // it had moved to C before B was presumed dead
		t.Fatalf("pdu-k reported lost with B: %v", lost)
	}
	testutil.Eventually(t, "the killed broker's interest withdrawn", func() bool {
		_, ok := a.b.RemoteInterest()[bID]
		return !ok && a.node.Stats().Withdrawn == 1
	})
	forwarded := a.node.Stats().Forwarded
	if err := pub.Publish("rack.9", nil, []byte("nobody")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Subscribe(ctx, "^sync$"); err != nil { // SUBSCRIBE-OK: the PUBLISH was handled
		t.Fatal(err)
	}
	if st := a.node.Stats(); st.Forwarded != forwarded || toB.Load() != 0 {
		t.Fatalf("forwarded to a dead broker: %+v, %d on its subject", st, toB.Load())
	}
}

func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}
