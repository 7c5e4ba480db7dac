package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
)

// buildPDU builds examples/pdu, with -race when this test has it (so
// that the build reuses the test's compiled packages).
func buildPDU(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "pdu")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command(gobin, append(args, "../pdu")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ../pdu: %v\n%s", err, out)
	}
	return bin
}

// TestOverloadSwitchesOutletOff runs the example PDU (the real program)
// overloaded, and the consumer: the consumer must switch off the
// highest-drawing outlet, once, and the readings must fall under the
// threshold.
func TestOverloadSwitchesOutletOff(t *testing.T) {
	pdu := buildPDU(t)
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ep, err := b.Listen(fmt.Sprintf("ipc://@/zccp-example-overload-%d", time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	acted := make(chan action, 16)
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	go func() {
		done <- run(ctx, config{Endpoint: ep, ID: "guard", Pattern: `^power\.`, Threshold: 2000,
			Cooldown: 300 * time.Millisecond, Timeout: 5 * time.Second}, logger, func(a action) { acted <- a })
	}()

	// 300+300+1500+300 = 2400 W nominal: over the 2000 W threshold
	// until outlet 3 goes.
	cmd := exec.Command(pdu, "--endpoint", ep, "--rack", "rack7", "--pdu", "pdu2",
		"--loads", "300,300,1500,300", "--interval", "50ms", "--seed", "1")
	pduLog := &lockedBuffer{}
	cmd.Stderr = pduLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	var a action
	select {
	case a = <-acted:
	case <-time.After(10 * time.Second):
		t.Fatalf("no action; pdu log:\n%s", pduLog.String())
	}
	if a.Err != nil || a.PDU != "pdu-rack7-pdu2" || a.Outlet != 3 || a.Reading <= 2000 || !strings.HasPrefix(a.Reply, "outlet 3 off") {
		t.Fatalf("action %+v", a)
	}

	// The effect, seen from outside: outlet 3 is off, the draw is under
	// the threshold, and nothing else was switched off.
	app, err := client.Connect(ctx, ep, client.WithIdentifier("checker"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	readings := make(chan *client.Delivery, 1024)
	if _, err := app.SubscribeChan(ctx, `^power\.rack7\.pdu2$`, readings); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ { // half a second of readings
		select {
		case d := <-readings:
			if w, _ := strconv.ParseFloat(string(d.Body()), 64); w > 2000 {
				t.Fatalf("still drawing %v W", w)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no readings")
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	r, err := app.Request(rctx, "pdu-rack7-pdu2", "status")
	if err != nil {
		t.Fatal(err)
	}
	var s status
	if err := json.Unmarshal(r.Body(), &s); err != nil {
		t.Fatal(err)
	}
	for _, o := range s.Outlets {
		if o.On == (o.Outlet == 3) {
			t.Fatalf("outlets %+v", s.Outlets)
		}
	}
	select {
	case a := <-acted:
		t.Fatalf("a second action: %+v", a)
	default:
	}

	// Both stop cleanly: the PDU on SIGTERM, the consumer on cancel.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pdu exit: %v\n%s", err, pduLog.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, "msg=overload pdu=pdu-rack7-pdu2") || !strings.Contains(l, `msg="load shed" pdu=pdu-rack7-pdu2 outlet=3`) {
		t.Fatalf("log:\n%s", l)
	}
	if !strings.Contains(pduLog.String(), "method=outlet.off from=guard outlet=3") {
		t.Fatalf("pdu log:\n%s", pduLog.String())
	}
}

func TestConfigChecked(t *testing.T) {
	if err := run(context.Background(), config{Endpoint: "ipc://@/x"}, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Fatal("zero threshold accepted")
	}
}

// lockedBuffer is a log destination safe to read while written.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
