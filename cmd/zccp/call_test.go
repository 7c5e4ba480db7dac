package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/internal/testutil"
)

// background is a zccp command running in-process until stopped.
type background struct {
	cancel   context.CancelFunc
	done     chan int
	out, err *syncBuffer
}

// startZccp runs zccp ARGS in the background; the test's cleanup stops
// it.
func startZccp(t *testing.T, ep string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel, done: make(chan int, 1), out: &syncBuffer{}, err: &syncBuffer{}}
	e := &env{stdin: strings.NewReader(""), stdout: b.out, stderr: b.err, getenv: func(k string) string {
		if k == "ZCCP_ENDPOINT" {
			return ep
		}
		return ""
	}}
	go func() { b.done <- dispatch(ctx, e, args) }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop cancels the command (as SIGINT would) and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code // later calls see it too
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("command did not stop; stderr:\n%s", b.err.String())
		return -1
	}
}

// startDevice runs "zccp device ARGS" and waits until it serves requests.
func startDevice(t *testing.T, ep string, args ...string) *background {
	t.Helper()
	d := startZccp(t, ep, append([]string{"device"}, args...)...)
	testutil.Eventually(t, "device ready", func() bool {
		select {
		case code := <-d.done:
			t.Fatalf("device exited %d: %s", code, d.err.String())
		default:
		}
		return strings.Contains(d.err.String(), " ready at ")
	})
	return d
}

func TestDeviceCatAndCallEcho(t *testing.T) {
	ep := startBroker(t)
	startDevice(t, ep, "--id", "d1", "--", "cat")
	ctx := context.Background()
	code, out, errs := zccp(ctx, ep, "", "call", "d1", "echo", "hello")
	if code != exitOK || out != "hello\n" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// --raw: exactly the device's bytes; "-" reads stdin; a body that
	// ends in a newline gets no second one.
	if code, out, _ := zccp(ctx, ep, "", "call", "--raw", "d1", "echo", "hello"); code != 0 || out != "hello" {
		t.Fatalf("--raw: exit %d %q", code, out)
	}
	if code, out, _ := zccp(ctx, ep, "two\nlines\n", "call", "d1", "echo", "-"); code != 0 || out != "two\nlines\n" {
		t.Fatalf("stdin body: exit %d %q", code, out)
	}
	// No body: the program reads an empty stdin, the reply is empty.
	if code, out, _ := zccp(ctx, ep, "", "call", "d1", "echo"); code != 0 || out != "" {
		t.Fatalf("empty: exit %d %q", code, out)
	}
	code, out, _ = zccp(ctx, ep, "", "call", "--json", "d1", "echo", "hi")
	var j jsonReply
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j.From != "d1" || j.Outcome != "ok" || len(j.Content) != 1 || j.Content[0] != "hi" {
		t.Fatalf("--json: exit %d %q", code, out)
	}
}

func TestDeviceEnvironment(t *testing.T) {
	ep := startBroker(t)
	startDevice(t, ep, "--id", "d2", "--subscribe", "^grp2$", "--",
		"sh", "-c", `printf '%s|%s|%s|%s|%s|%s|' "$ZCCP_METHOD" "$ZCCP_FROM" "$ZCCP_ADDRESS" "$ZCCP_DEVICE" "$ZCCP_HEADER_UNIT" "$ZCCP_HEADER_X_RACK"; test -n "$ZCCP_REQUEST_ID" && test -n "$ZCCP_DEADLINE" && echo "$ZCCP_ENDPOINT" | grep -q zccp-test && cat`)
	code, out, errs := zccp(context.Background(), ep, "", "call", "--id", "app", "-H", "unit=W", "-H", "x-rack=12", "d2", "outlet.off", "3")
	if want := "outlet.off|app|d2|d2|W|12|3\n"; code != 0 || out != want {
		t.Fatalf("exit %d, stdout %q (want %q), stderr %q", code, out, want, errs)
	}
	// In a group call, the address is the group's.
	code, out, errs = zccp(context.Background(), ep, "", "call", "--id", "app", "--group", "grp2", "status")
	if want := "d2 ok status|app|grp2|d2|||\nsummary: expected 1, ok 1, error 0, timed out 0, not connected 0\n"; code != 0 || out != want {
		t.Fatalf("group: exit %d, stdout %q (want %q), stderr %q", code, out, want, errs)
	}
}

func TestCallNoSuchClientIsQuick(t *testing.T) {
	ep := startBroker(t)
	start := time.Now()
	code, out, errs := zccp(context.Background(), ep, "", "call", "nosuch", "x")
	took := time.Since(start)
	if code != exitNoSuchPeer || out != "" || errs != "zccp call: no client \"nosuch\" is connected (no-such-client)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if took > time.Second {
		t.Fatalf("took %v", took)
	}
	// --dry-run says the same without sending.
	if code, _, errs := zccp(context.Background(), ep, "", "call", "--dry-run", "nosuch", "x"); code != exitNoSuchPeer || !strings.Contains(errs, "no client") {
		t.Fatalf("dry run: exit %d %s", code, errs)
	}
}

func TestDeviceErrorExitStatus(t *testing.T) {
	ep := startBroker(t)
	startDevice(t, ep, "--id", "pdu", "--", "sh", "-c", `echo partial; echo "outlet 3 is locked" >&2; exit 3`)
	code, out, errs := zccp(context.Background(), ep, "", "call", "pdu", "outlet.off", "3")
	if code != exitDeviceError || out != "partial\n" || errs != "zccp call: pdu: device-error: exit status 3: outlet 3 is locked\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, _ = zccp(context.Background(), ep, "", "call", "--json", "pdu", "outlet.off")
	var j jsonReply
	if code != exitDeviceError || json.Unmarshal([]byte(out), &j) != nil || j.Outcome != "error" || j.Code != "device-error" ||
		j.Headers["exit-status"] != "3" || j.Reason != "exit status 3: outlet 3 is locked" {
		t.Fatalf("--json: exit %d %q", code, out)
	}
}

func TestDeviceMethodsAndLimits(t *testing.T) {
	ep := startBroker(t)
	startDevice(t, ep, "--id", "m", "--method", "status", "--method", "big", "--max-output", "1000", "--",
		"sh", "-c", `if [ "$ZCCP_METHOD" = big ]; then head -c 5000 /dev/zero; else echo fine; fi`)
	ctx := context.Background()
	if code, out, _ := zccp(ctx, ep, "", "call", "m", "status"); code != 0 || out != "fine\n" {
		t.Fatalf("status: exit %d %q", code, out)
	}
	if code, _, errs := zccp(ctx, ep, "", "call", "m", "reboot"); code != exitDeviceError || !strings.Contains(errs, "no-such-method") {
		t.Fatalf("unlisted method: exit %d %s", code, errs)
	}
	if code, out, errs := zccp(ctx, ep, "", "call", "m", "big"); code != exitDeviceError || out != "" || !strings.Contains(errs, "more than 1000 bytes") {
		t.Fatalf("too much output: exit %d %q %s", code, out, errs)
	}
}

func TestCallTimeoutKillsTheProgram(t *testing.T) {
	ep := startBroker(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	startDevice(t, ep, "--id", "slow", "--", "sh", "-c", `echo $$ > `+pidfile+`; exec sleep 30`)
	start := time.Now()
	code, _, errs := zccp(context.Background(), ep, "", "call", "--timeout", "300ms", "slow", "work")
	// Either the requester's deadline fires first, or the device's (the
	// same instant, carried as the TTL) and it says so.
	if code != exitTimeout || !strings.HasPrefix(errs, `zccp call: no reply from "slow" within 300ms (timeout)`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %v", took)
	}
	// The deadline travelled with the request: the device ended the run.
	var pid int
	testutil.Eventually(t, "pid file", func() bool {
		b, _ := os.ReadFile(pidfile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	testutil.Eventually(t, "program killed", func() bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) })
}

func TestDeviceShutdownAnswersRunningRequests(t *testing.T) {
	ep := startBroker(t)
	started := filepath.Join(t.TempDir(), "started")
	d := startDevice(t, ep, "--id", "busy", "--grace", "100ms", "--", "sh", "-c", `touch `+started+`; exec sleep 30`)
	res := make(chan [3]any, 1)
	go func() {
		code, out, errs := zccp(context.Background(), ep, "", "call", "--timeout", "10s", "busy", "work")
		res <- [3]any{code, out, errs}
	}()
	testutil.Eventually(t, "program started", func() bool { _, err := os.Stat(started); return err == nil })
	if code := d.stop(t); code != exitOK {
		t.Fatalf("device exit %d: %s", code, d.err.String())
	}
	r := <-res
	if r[0] != exitDeviceError || !strings.Contains(r[2].(string), "the device is shutting down") {
		t.Fatalf("call: exit %v, stderr %v", r[0], r[2])
	}
}

func TestGroupCallHundredDevices(t *testing.T) {
	b, ep := startBrokerB(t)
	const n = 100
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("pdu-%03d", i)
		script := `printf '%s ok' "$ZCCP_DEVICE"`
		if id == "pdu-007" {
			script = `echo sensor fault >&2; exit 3`
		}
		startZccp(t, ep, "device", "--id", id, "--label", "kind=pdu", "--label", "rack="+strconv.Itoa(i%4),
			"--subscribe", `^pdus$`, "--", "sh", "-c", script)
	}
	testutil.Eventually(t, "100 devices subscribed", func() bool { return b.Stats().Subscriptions == n })
	ctx := context.Background()
	code, out, errs := zccp(ctx, ep, "", "call", "--timeout", "10s", "--group", "pdus", "status")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != exitDeviceError || len(lines) != n+1 {
		t.Fatalf("exit %d, %d lines, stderr %q\n%s", code, len(lines), errs, out)
	}
	if want := "summary: expected 100, ok 99, error 1, timed out 0, not connected 0"; lines[n] != want {
		t.Fatalf("summary %q, want %q", lines[n], want)
	}
	seen := map[string]bool{}
	for _, l := range lines[:n] {
		f := strings.Fields(l)
		seen[f[0]] = true
		if f[0] == "pdu-007" {
			if l != `pdu-007 error device-error "exit status 3: sensor fault"` {
				t.Fatalf("line %q", l)
			}
		} else if l != f[0]+" ok "+f[0]+" ok" {
			t.Fatalf("line %q", l)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct devices answered", len(seen))
	}
	// A dry run with a label: who would receive it, nothing sent.
	before := b.Stats().Requests + b.Stats().Directs
	code, out, errs = zccp(ctx, ep, "", "call", "--group", "pdus", "--label", "rack=2", "--dry-run", "status")
	ids := strings.Fields(out)
	slices.Sort(ids)
	if code != 0 || len(ids) != n/4 || ids[0] != "pdu-002" || !strings.Contains(errs, "25 device(s) would receive status") {
		t.Fatalf("dry run: exit %d %q %s", code, out, errs)
	}
	if after := b.Stats().Requests + b.Stats().Directs; after != before {
		t.Fatalf("dry run delivered something")
	}
	// Labels alone (no address), as JSON.
	code, out, _ = zccp(ctx, ep, "", "call", "--json", "--group", "", "--label", "rack=3", "status")
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var sum struct{ Summary tally }
	if code != exitDeviceError || len(lines) != n/4+1 || json.Unmarshal([]byte(lines[n/4]), &sum) != nil ||
		sum.Summary != (tally{Expected: 25, OK: 24, Error: 1}) {
		t.Fatalf("labels only: exit %d\n%s", code, out)
	}
	// Nobody in the group.
	code, out, errs = zccp(ctx, ep, "", "call", "--group", "nobody", "status")
	if code != exitNoSuchPeer || out != "summary: expected 0, ok 0, error 0, timed out 0, not connected 0\n" || !strings.Contains(errs, "no device") {
		t.Fatalf("empty group: exit %d %q %s", code, out, errs)
	}
}

func TestGroupCallTimedOutAndNotConnected(t *testing.T) {
	b, ep := startBrokerB(t)
	ctx := context.Background()
	startZccp(t, ep, "device", "--id", "fast", "--subscribe", "^g$", "--", "cat")
	startZccp(t, ep, "device", "--id", "mute", "--subscribe", "^g$", "--", "sleep", "30")
	// A device that leaves while the request is outstanding.
	var leaver *client.Client
	leaver, err := client.Connect(ctx, ep, client.WithIdentifier("leaver"),
		client.WithHandler("ping", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
			// Leave without waiting for this handler (a Close bounded by a
			// context that is already over does not drain running handlers).
			gone, cancel := context.WithCancel(context.Background())
			cancel()
			go leaver.CloseContext(gone)
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaver.Subscribe(ctx, "^g$", func(*client.Delivery) {}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "3 devices subscribed", func() bool { return b.Stats().Subscriptions == 3 })
	code, out, errs := zccp(ctx, ep, "", "call", "--timeout", "700ms", "--group", "g", "ping", "x")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	slices.Sort(lines[:3])
	want := []string{
		"fast ok x",
		`leaver not-connected disconnected`, // followed by the broker's reason
		"mute timed-out",                    // maybe followed by the device's "expired" reply (its TTL ended at the same instant)
		"summary: expected 3, ok 1, error 0, timed out 1, not connected 1",
	}
	if code != exitTimeout || len(lines) != 4 || lines[0] != want[0] || !strings.HasPrefix(lines[1], want[1]) || !strings.HasPrefix(lines[2], want[2]) || lines[3] != want[3] {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
}

func TestClientsList(t *testing.T) {
	_, ep := startBrokerB(t)
	startDevice(t, ep, "--id", "pdu-1", "--label", "kind=pdu", "--label", "rack=12", "--", "cat")
	startDevice(t, ep, "--id", "sw-1", "--label", "kind=switch", "--", "cat")
	ctx := context.Background()
	code, out, errs := zccp(ctx, ep, "", "clients", "--label", "kind=pdu")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "IDENTIFIER LABELS SINCE REMOTE PUBLISHED DELIVERED DROPPED" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
	if f := strings.Fields(lines[1]); f[0] != "pdu-1" || f[1] != "kind=pdu,rack=12" || f[4] != "0" || f[6] != "0" {
		t.Fatalf("row %q", lines[1])
	}
	// Everyone but ourselves, as JSON.
	code, out, _ = zccp(ctx, ep, "", "clients", "--json")
	var ids []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var ci client.ClientInfo
		if err := json.Unmarshal([]byte(l), &ci); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ids = append(ids, ci.Identifier)
	}
	if code != 0 || !slices.Equal(ids, []string{"pdu-1", "sw-1"}) {
		t.Fatalf("exit %d: %v", code, ids)
	}
	if code, out, _ := zccp(ctx, ep, "", "clients", "--label", "kind=router"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("no match: exit %d %q", code, out)
	}
}

func TestCallDeviceUsage(t *testing.T) {
	ep := startBroker(t)
	ctx := context.Background()
	for _, args := range [][]string{
		{"call", "onlyid"},
		{"call", "--label", "a=b", "d1", "x"},
		{"call", "--group", "", "x"},
		{"call", "--group", "g"},
		{"call", "-H", "zccp-ttl=5", "d1", "x"},
		{"device", "--", "cat"},
		{"device", "--id", "d"},
		{"device", "--id", "$zccp", "--", "cat"},
		{"clients", "extra"},
	} {
		if code, _, _ := zccp(ctx, ep, "", args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errs := zccp(ctx, ep, "", "device", "--id", "d", "--", "no-such-program-zccp"); code != exitError || !strings.Contains(errs, "not found") {
		t.Errorf("missing program: exit %d %s", code, errs)
	}
	if code, _, _ := zccp(ctx, "tcp://127.0.0.1:1", "", "call", "--connect-timeout", "200ms", "d1", "x"); code != exitUnreachable {
		t.Errorf("unreachable: exit %d", code)
	}
}

// TestDeviceTakenOver: a second device with the same identifier takes
// over; the first stops with exit 1.
func TestDeviceTakenOver(t *testing.T) {
	ep := startBroker(t)
	first := startDevice(t, ep, "--id", "twin", "--", "cat")
	startDevice(t, ep, "--id", "twin", "--", "cat")
	select {
	case code := <-first.done:
		first.done <- code
		if code != exitError || !strings.Contains(first.err.String(), "taken-over") {
			t.Fatalf("exit %d: %s", code, first.err.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first device still running")
	}
	if code, out, _ := zccp(context.Background(), ep, "", "call", "twin", "echo", "hi"); code != 0 || out != "hi\n" {
		t.Fatalf("exit %d %q", code, out)
	}
}
