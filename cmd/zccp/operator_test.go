package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

func TestVersionBothWays(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, errs := zccp(context.Background(), "", "", args...)
		if code != exitOK || out != "zccp "+broker.Version+"\n" {
			t.Errorf("zccp %v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}

// A raw ZMTP peer (not our client library) subscribes; zccp publishes
// with --endpoint given before the command, which must win over
// ZCCP_ENDPOINT (set to a dead address here).
func TestGlobalEndpointBeforeCommand(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := rawpeer.Dial(ctx, b.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Hello(ctx, "raw-sub"); err != nil {
		t.Fatal(err)
	}
	if err := p.Subscribe(ctx, `^rack1\.power$`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--endpoint", b.IPC, "pub", "rack1.power", "first"},
		{"--endpoint=" + b.IPC, "pub", "rack1.power", "second"},
		{"pub", "rack1.power", "third", "--endpoint", b.IPC},
	} {
		if code, _, errs := zccp(ctx, "tcp://127.0.0.1:1", "", args...); code != exitOK {
			t.Fatalf("zccp %v: exit %d: %s", args, code, errs)
		}
	}
	for _, want := range []string{"first", "second", "third"} {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != rawpeer.Deliver || string(m.Address) != "rack1.power" || len(m.Content) != 1 || string(m.Content[0]) != want {
			t.Fatalf("raw subscriber got id %d %q %q, want %q", m.ID, m.Address, m.Content, want)
		}
	}
}

func TestMistakesGetShortUsage(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{}, {"frobnicate"}, {"pub", "--bogus", "x"}, {"call", "--timeout", "nonsense", "a", "b"}, {"--bogus", "pub"}, {"--endpoint"}, {"sub"}} {
		code, _, errs := zccp(ctx, "", "", args...)
		if code != exitUsage {
			t.Errorf("zccp %v: exit %d, want %d", args, code, exitUsage)
		}
		if n := strings.Count(errs, "\n"); n > 4 || !strings.Contains(errs, "--help") {
			t.Errorf("zccp %v: %d lines of usage (want at most 4, pointing at --help):\n%s", args, n, errs)
		}
	}
	// Asked for, the help is whole.
	code, _, errs := zccp(ctx, "", "", "call", "--help")
	if code != exitOK || !strings.Contains(errs, "-timeout") || strings.Count(errs, "\n") < 10 {
		t.Errorf("call --help: exit %d:\n%s", code, errs)
	}
}

// A raw ZMTP peer sends DIRECTs; zccp recv prints them.
func TestRecvPrintsDirects(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	var out, errb syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- dispatch(context.Background(), e, []string{"recv", "--endpoint", b.IPC, "--id", "console-7", "--count", "2", "--for", "10s"})
	}()
	testutil.Eventually(t, "recv connected", func() bool { return len(b.Clients("")) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := rawpeer.Dial(ctx, b.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Hello(ctx, "raw-sender"); err != nil {
		t.Fatal(err)
	}
	p.Direct("console-7", []rawpeer.Header{{Name: "k", Value: "v"}}, []byte("hello"))
	p.Direct("console-7", nil, []byte("two words"))
	select {
	case code := <-done:
		want := "raw-sender console-7 {k=v} hello\nraw-sender console-7 {} \"two words\"\n"
		if code != exitOK || out.String() != want {
			t.Fatalf("recv exit %d, printed %q want %q; stderr %s", code, out.String(), want, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("recv did not exit")
	}
}

// zccp sub says on stderr when the broker goes away and when it is back.
func TestSubReportsLostAndRestored(t *testing.T) {
	ep := fmt.Sprintf("ipc://@/zccp-cli-restart-%d-%d", os.Getpid(), time.Now().UnixNano())
	start := func() *broker.Broker {
		b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Listen(ep); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start()
	var out, errb syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, e, []string{"sub", "--endpoint", ep, "x"}) }()
	testutil.Eventually(t, "sub subscribed", func() bool { return b.Stats().Subscriptions == 1 })
	b.Close()
	testutil.Eventually(t, "lost reported", func() bool { return strings.Contains(errb.String(), "connection to the broker lost") })
	b = start()
	defer b.Close()
	testutil.Eventually(t, "restored reported", func() bool { return strings.Contains(errb.String(), "connection to the broker restored") })
	cancel()
	<-done
}

// The man page and completions are generated from the commands' own
// definitions and name every command and flag.
func TestPackagingIsGenerated(t *testing.T) {
	for file, args := range map[string][]string{
		"zccp.1": {"gen-man"}, "zccp.bash": {"completion", "bash"}, "_zccp": {"completion", "zsh"},
	} {
		code, out, errs := zccp(context.Background(), "", "", args...)
		if code != exitOK {
			t.Fatalf("zccp %v: exit %d %s", args, code, errs)
		}
		dir := "completion"
		if strings.HasSuffix(file, ".1") {
			dir = "man"
		}
		// The committed copy is regenerated by make build / make packaging;
		// it is only read here to see that it is a page of the same kind.
		if committed, err := os.ReadFile(filepath.Join("..", "..", "packaging", dir, file)); err != nil || len(committed) == 0 || committed[0] != out[0] {
			t.Errorf("packaging/%s/%s missing or not generated by zccp: %v", dir, file, err)
		}
		out = strings.ReplaceAll(out, `\-`, "-") // roff's escaped dashes
		for _, c := range describe() {
			if !strings.Contains(out, c.name) {
				t.Errorf("%s lacks command %s", file, c.name)
			}
			for _, f := range c.flags {
				if !strings.Contains(out, f.Name) {
					t.Errorf("%s lacks %s's flag %s", file, c.name, f.Name)
				}
			}
		}
	}
	if c := describe(); len(c) < 8 || len(c[0].flags) < 3 {
		t.Fatalf("describe found too little: %d commands", len(c))
	}
}

func TestDashSetWarning(t *testing.T) {
	for expr, want := range map[string]string{
		`rack[0-9]`: "[0-9]", `^a\.[^a-c]x`: "[^a-c]", `[-a]`: "", `[a-]`: "", `\[a-b\]`: "", `[]a-b]`: "[]a-b]", `plain`: "", `[ab`: "",
	} {
		got, ok := dashSet(expr)
		if got != want || ok != (want != "") {
			t.Errorf("dashSet(%q) = %q %v, want %q", expr, got, ok, want)
		}
	}
	b := brokertest.Start(t, broker.Config{})
	code, _, errs := zccp(context.Background(), b.IPC, "", "sub", "rack[1-3]", "--for", "50ms")
	if code != exitOK || !strings.Contains(errs, "warning: [1-3]") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// A raw ZMTP peer acts as the device; zccp call -v prints its body raw
// and the round-trip time.
func TestCallVerboseRTTRawBody(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := rawpeer.Dial(ctx, b.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Hello(ctx, "raw-dev"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			m, err := p.NextContext(ctx)
			if err != nil {
				return
			}
			if id, ok := m.Header("zccp-request-id"); ok && m.ID == rawpeer.Deliver {
				p.Direct(string(m.Sender), []rawpeer.Header{{Name: "zccp-reply-to", Value: id}, {Name: "zccp-status", Value: "ok"}}, []byte("22.5 C, fan 40%\n"))
			}
		}
	}()
	code, out, errs := zccp(ctx, b.IPC, "", "call", "-v", "raw-dev", "temp")
	if code != exitOK || out != "22.5 C, fan 40%\n" || !strings.Contains(errs, "round trip ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestRetainCLI(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	ctx := context.Background()
	for _, args := range [][]string{
		{"pub", "--retain", "--id", "pdu-1", "power.rack1", "410 W"},
		{"pub", "--retain", "--id", "pdu-2", "power.rack2", "380"},
		{"pub", "--id", "pdu-3", "power.rack3", "not kept"},
		{"pub", "--retain", "--id", "pdu-2", "power.rack2"}, // clears
	} {
		if code, _, errs := zccp(ctx, b.IPC, "", args...); code != exitOK {
			t.Fatalf("%v: exit %d %s", args, code, errs)
		}
	}
	code, out, errs := zccp(ctx, b.IPC, "", "last", `^power\.`)
	if code != exitOK || !strings.HasPrefix(out, `pdu-1 power.rack1 {zccp-age=`) || !strings.HasSuffix(out, `} "410 W"`+"\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("last: exit %d %q %s", code, out, errs)
	}
	code, out, _ = zccp(ctx, b.IPC, "", "sub", "--last", `^power\.`, "--count", "1", "--for", "5s")
	if code != exitOK || !strings.Contains(out, "zccp-retained=1") || !strings.Contains(out, "power.rack1") {
		t.Fatalf("sub --last: exit %d %q", code, out)
	}
	if code, out, _ := zccp(ctx, b.IPC, "", "last", `^nothing`); code != exitOK || out != "" {
		t.Fatalf("last of nothing: %d %q", code, out)
	}
}

// zccp demo fills a broker; zccp top --once shows its clients, rates and
// busiest addresses.
func TestDemoAndTop(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	var derr syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &derr, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, e, []string{"demo", "--endpoint", b.IPC, "--racks", "2", "--hypervisors", "1", "--interval", "50ms", "--seed", "3"})
	}()
	testutil.Eventually(t, "demo connected", func() bool { return strings.Contains(derr.String(), "6 devices in 2 racks") })
	code, out, errs := zccp(context.Background(), b.IPC, "", "top", "--once", "--interval", "500ms")
	if code != exitOK {
		t.Fatalf("top: exit %d %s", code, errs)
	}
	for _, want := range []string{"zccp top", "sessions 7", "pdu-r1-1", "kind=pdu,pdu=pdu1,rack=r1", "hv-r2-1", "power.r2.pdu1", "temp.r1", "CLIENT", "PUB/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("top lacks %q:\n%s", want, out)
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("demo exit %d: %s", code, derr.String())
	}
	if code, _, _ := zccp(context.Background(), b.IPC, "", "demo", "--racks", "0"); code != exitUsage {
		t.Fatalf("demo --racks 0: exit %d", code)
	}
}
