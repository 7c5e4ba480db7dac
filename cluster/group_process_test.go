package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// zccpCLI builds the zccp command from this tree into a temporary
// directory.
func zccpCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zccp")
	build := exec.Command(goTool(), "build", "-o", bin, "./cmd/zccp")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build zccp: %v\n%s", err, out)
	}
	return bin
}

// The real `zccp call --group` on broker A (in this process) calls
// hand-framed devices on A, on B (in this process) and on C, a zccpd
// process started with --cluster; C is killed (SIGKILL) after its devices
// have read the command. The CLI's summary is exact: the devices on A and
// B answered ok, C's two are not connected (disconnected replies from A,
// once A presumes C dead), and the exit code says so (6).
func TestGroupCallCLIAcrossZccpdKilled(t *testing.T) {
	t.Parallel() // mostly waiting (DeadAfter, a build): overlaps with the other waiting tests
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	bin, cli := zccpd(t), zccpCLI(t)
	nodes := natsCluster(t)
	a := startMember(t, nodes[0].ClientURL(), "A")
	b := startMember(t, nodes[1].ClientURL(), "B")
	ep := fmt.Sprintf("ipc://@/zccp-cluster-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command(bin, "--bind", ep, "--name", "C", "--log-level", "warn",
		"--cluster", nodes[2].ClientURL(), "--cluster-advertise", "200ms", "--cluster-dead-after", "3s")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testutil.Eventually(t, "zccpd C listens", func() bool {
		p, err := rawpeer.Dial(ctx, ep)
		if err == nil {
			p.Close()
		}
		return err == nil
	})
	// zccpd listens before it joins the federation; sessions that start
	// in between are not written to the identity registry (the
	// registry's gap, not this test's subject): wait until C has joined.
	testutil.Eventually(t, "A knows B and C", func() bool { return len(a.b.RemoteInterest()) == 2 })
	devs := map[string]*rawpeer.Peer{
		"a1": device(t, ctx, a.ep, "a1", `^dc1\.pdus$`),
		"b1": device(t, ctx, b.ep, "b1", `^dc1\.pdus$`),
		"c1": device(t, ctx, ep, "c1", `^dc1\.pdus$`),
		"c2": device(t, ctx, ep, "c2", `^dc1\.pdus$`),
	}
	testutil.Eventually(t, "A knows the devices on B and C and their interest", func() bool {
		ri := a.b.RemoteInterest()
		return a.b.RemoteHolder("b1") != "" && a.b.RemoteHolder("c1") != "" && a.b.RemoteHolder("c2") != "" &&
			len(ri) == 2 && ri[a.b.RemoteHolder("b1")] == 1 && ri[a.b.RemoteHolder("c1")] == 1
	})

	var stdout bytes.Buffer
	call := exec.CommandContext(ctx, cli, "--endpoint", a.ep, "call", "--id", "cli-ops", "--json", "--timeout", "30s", "--group", "dc1.pdus", "status")
	call.Stdout, call.Stderr = &stdout, os.Stderr
	if err := call.Start(); err != nil {
		t.Fatal(err)
	}
	reqID := map[string]string{}
	for _, id := range []string{"a1", "b1", "c1", "c2"} {
		m, err := devs[id].NextContext(ctx)
		if err != nil {
			t.Fatalf("device %s: %v (A's group stats %+v)", id, err, a.node.GroupStats())
		}
		if reqID[id] = m.Headers()["zccp-request-id"]; string(m.Sender) != "cli-ops" || reqID[id] == "" {
			t.Fatalf("device %s read %q %v", id, m.Sender, m.Headers())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "B knows where cli-ops is", func() bool { return b.b.RemoteHolder("cli-ops") == a.node.ID() })
	for _, id := range []string{"a1", "b1"} {
		devs[id].Direct("cli-ops", hdr("zccp-reply-to", reqID[id], "zccp-status", "ok"), []byte(id))
	}
	err := call.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 6 {
		t.Fatalf("zccp call: %v, want exit code 6; stdout:\n%s", err, stdout.String())
	}
	outcomes := map[string]string{}
	var sum map[string]int
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var line struct {
			From    string         `json:"from"`
			Outcome string         `json:"outcome"`
			Summary map[string]int `json:"summary"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("zccp call printed %q: %v", sc.Text(), err)
		}
		if line.Summary != nil {
			sum = line.Summary
		} else {
			outcomes[line.From] = line.Outcome
		}
	}
	want := map[string]string{"a1": "ok", "b1": "ok", "c1": "not-connected", "c2": "not-connected"}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) || sum["expected"] != 4 || sum["ok"] != 2 || sum["not_connected"] != 2 {
		t.Fatalf("outcomes %v, summary %v\n%s", outcomes, sum, stdout.String())
	}
}
