package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startBroker(t *testing.T) string {
	_, ep := startBrokerB(t)
	return ep
}

func startBrokerB(t *testing.T) (*broker.Broker, string) {
	t.Helper()
	b := brokertest.Start(t, broker.Config{})
	return b.Broker, b.IPC
}

// subscribed waits until the broker holds n subscriptions.
func subscribed(t *testing.T, b *broker.Broker, n int) {
	t.Helper()
	testutil.Eventually(t, fmt.Sprintf("%d subscriptions", n), func() bool { return b.Stats().Subscriptions >= n })
}

// zccp runs the CLI in-process with ZCCP_ENDPOINT set to ep.
func zccp(ctx context.Context, ep string, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb syncBuffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(k string) string {
			if k == "ZCCP_ENDPOINT" {
				return ep
			}
			return ""
		}}
	code = dispatch(ctx, e, args)
	return code, out.String(), errb.String()
}

// startSub runs "zccp sub" in the background until it exits.
func startSub(t *testing.T, ep string, args ...string) (wait func() (int, string, string)) {
	t.Helper()
	var out, errb syncBuffer
	done := make(chan int, 1)
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "ZCCP_ENDPOINT" {
			return ep
		}
		return ""
	}}
	go func() { done <- dispatch(context.Background(), e, append([]string{"sub"}, args...)) }()
	return func() (int, string, string) {
		select {
		case code := <-done:
			return code, out.String(), errb.String()
		case <-time.After(10 * time.Second):
			t.Fatal("zccp sub did not exit")
			return 0, "", ""
		}
	}
}

func TestPubSubLine(t *testing.T) {
	b, ep := startBrokerB(t)
	wait := startSub(t, ep, "power", "--count", "2", "--for", "5s")
	subscribed(t, b, 1)
	ctx := context.Background()
	if code, _, errs := zccp(ctx, ep, "", "pub", "power.rack1", "42", "-H", "unit=W", "--id", "pdu-1"); code != 0 {
		t.Fatalf("pub exit %d: %s", code, errs)
	}
	if code, _, errs := zccp(ctx, ep, "from stdin", "pub", "--id", "pdu-2", "power.rack2", "-", "two words"); code != 0 {
		t.Fatalf("pub exit %d: %s", code, errs)
	}
	code, out, errs := wait()
	if code != 0 {
		t.Fatalf("sub exit %d: %s", code, errs)
	}
	want := "pdu-1 power.rack1 {unit=W} 42\npdu-2 power.rack2 {} \"from stdin\" | \"two words\"\n"
	if out != want {
		t.Fatalf("sub printed\n%q\nwant\n%q", out, want)
	}
}

func TestSubJSON(t *testing.T) {
	b, ep := startBrokerB(t)
	wait := startSub(t, ep, "--json", "^alarm$", "--count", "1", "--for", "5s")
	subscribed(t, b, 1)
	zccp(context.Background(), ep, "", "pub", "alarm", "hot", "--id", "s1", "-H", "level=3")
	code, out, _ := wait()
	var j jsonDelivery
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if j.Sender != "s1" || j.Address != "alarm" || j.Headers["level"] != "3" || len(j.Content) != 1 || j.Content[0] != "hot" || j.Encoding != "utf-8" {
		t.Fatalf("got %+v", j)
	}
}

func TestSendExitCodes(t *testing.T) {
	ep := startBroker(t)
	ctx := context.Background()
	code, _, errs := zccp(ctx, ep, "", "send", "nosuch", "x")
	if code != exitNoSuchPeer || !strings.Contains(errs, `no client "nosuch"`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, _, _ = zccp(ctx, "tcp://127.0.0.1:1", "", "pub", "a", "b", "--connect-timeout", "200ms")
	if code != exitUnreachable {
		t.Fatalf("unreachable broker: exit %d", code)
	}
	if code, _, _ := zccp(ctx, ep, "", "pub"); code != exitUsage {
		t.Fatalf("missing address: exit %d", code)
	}
	if code, _, _ := zccp(ctx, ep, "", "frobnicate"); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
	if code, _, errs := zccp(ctx, ep, "", "sub", "rack[1", "--for", "1s"); code != exitError || !strings.Contains(errs, "bad expression") {
		t.Fatalf("bad expression: exit %d %s", code, errs)
	}
	if code, _, _ := zccp(ctx, ep, "", "sub", "x", "--count", "1", "--for", "100ms"); code != exitTimeout {
		t.Fatalf("sub timeout: exit %d", code)
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, c := range commands() {
		if c.name == "version" || c.name == "completion" || c.name == "keygen" { // no connection
			continue
		}
		code, _, errs := zccp(context.Background(), "", "", c.name, "--help")
		if code != exitOK || !strings.Contains(errs, "Usage: zccp "+c.name) || !strings.Contains(errs, "-endpoint") {
			t.Errorf("%s --help: exit %d\n%s", c.name, code, errs)
		}
	}
}
