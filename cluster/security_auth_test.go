package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/federation"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// nkeySeed makes an NKey user and writes its seed to a file; it returns
// the public key and the file.
func nkeySeed(t *testing.T) (string, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	file := filepath.Join(t.TempDir(), "broker.nk")
	if err := os.WriteFile(file, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return pub, file
}

// Broker-to-broker traffic is authenticated by NATS: on a NATS server
// that admits one NKey user, a zccpd process started with that seed
// (--cluster-nkey) joins and gets the publishes of an in-process broker
// using the same seed; zccpd processes with another seed or none fail to
// join and exit; a plain NATS client without credentials cannot connect,
// so it cannot inject a forged forwarded message. The process's policy
// differs from the in-process broker's: both report it (stats, and
// zccpd_federation_policy_mismatches on the process's /metrics).
func TestBrokerAuthNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	bin := zccpd(t)
	pub, good := nkeySeed(t)
	_, wrong := nkeySeed(t)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	url := ns.ClientURL()

	if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("a NATS client without credentials connected")
	}
	opt, err := nats.NkeyOptionFromSeed(good)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(broker.Config{Name: "A", Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ep, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := federation.Start(ctx, b, federation.Options{URLs: []string{url}, Name: "A", Logger: quietLog(),
		NATS: []nats.Option{opt}, Advertise: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	for _, args := range [][]string{{"--cluster-nkey", wrong}, nil} {
		out, err := runZccpd(ctx, bin, append([]string{"--bind", "tcp://127.0.0.1:0", "--cluster", url}, args...)...).CombinedOutput()
		if err == nil || ctx.Err() != nil || !strings.Contains(string(out), "cannot join the federation") || !strings.Contains(strings.ToLower(string(out)), "authorization") {
			t.Fatalf("zccpd %q on a NATS server that does not know it: %v\n%s", args, err, out)
		}
	}

	ipc := fmt.Sprintf("ipc://@/zccp-fedsec-auth-%d-%d", os.Getpid(), time.Now().UnixNano())
	pol := filepath.Join(t.TempDir(), "zccpd.policy")
	if err := os.WriteFile(pol, []byte("role all\n  publish **\n  deliver **\ndefault all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	metrics := freeAddr(t)
	cmd := runZccpd(ctx, bin, "--bind", ipc, "--name", "B", "--cluster", url, "--cluster-nkey", good, "--cluster-advertise", "200ms",
		"--policy", pol, "--metrics-addr", metrics)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var sub *rawpeer.Peer
	testutil.Eventually(t, "zccpd B accepts a session", func() bool {
		p, err := rawpeer.Dial(ctx, ipc)
		if err == nil && p.Hello(ctx, "sub-b") == nil {
			sub = p
			return true
		}
		if p != nil {
			p.Close()
		}
		return false
	})
	defer sub.Close()
	if err := sub.Subscribe(ctx, `^rack\.`); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "A learns B's expression", func() bool {
		ri := b.RemoteInterest()
		for _, n := range ri {
			if n == 1 {
				return len(ri) == 1
			}
		}
		return false
	})
	pubA := peer(t, ctx, ep, "pub-a")
	if err := pubA.Publish("rack.1", nil, []byte("authenticated")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, sub); string(m.Sender) != "pub-a" || string(m.Content[0]) != "authenticated" {
		t.Fatalf("B's subscriber read %+v", m)
	}

	// B has a policy, A none: each reports the other (A in its stats, the
	// zccpd process on /metrics).
	testutil.Eventually(t, "A reports B's policy", func() bool {
		mm, _ := n.PolicyMismatches()
		return len(mm) == 1 && mm[0].Name == "B"
	})
	testutil.Eventually(t, "zccpd B's /metrics reports one mismatch", func() bool {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), "\nzccpd_federation_policy_mismatches 1\n")
	})
}

// freeAddr returns a 127.0.0.1 address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runZccpd prepares a zccpd process that dies with the test.
func runZccpd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--log-level", "warn"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
