package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/zmtp"
)

func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "zccp", "curve.key")
	code, out, errs := zccp(context.Background(), "", "", "keygen", "--key-file", path)
	if code != exitOK {
		t.Fatalf("keygen exit %d: %s", code, errs)
	}
	kp, err := zmtp.ReadCurveKeyFile(path)
	if err != nil || strings.TrimSpace(out) != kp.Public.String() {
		t.Fatalf("printed %q, file has %v (%v)", out, kp.Public, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if _, out2, _ := zccp(context.Background(), "", "", "keygen", "--key-file", path); out2 != out {
		t.Fatalf("a second keygen replaced the key: %q then %q", out, out2)
	}
	if _, out3, _ := zccp(context.Background(), "", "", "keygen", "--key-file", path, "--force"); out3 == out {
		t.Fatal("--force kept the key")
	}
}

// zccp pub over a curve+tcp endpoint with --server-key (and with
// ZCCP_SERVER_KEY / ZCCP_KEY_FILE) reaches a CURVE subscriber; a missing
// server key is a usage error, a wrong one makes the broker unreachable.
func TestPubOverCurve(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	server, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(server)))
	ep := "curve+" + zmtp.EndpointOf(ln)

	subKeys, _ := zmtp.NewCurveKeyPair()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := client.Connect(ctx, strings.TrimPrefix(ep, "curve+"), client.WithCurve(subKeys, server.Public))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan string, 4)
	sub.Subscribe(ctx, "x.*", func(d *client.Delivery) { got <- string(d.Content[0]) })

	keyFile := filepath.Join(t.TempDir(), "curve.key")
	if code, _, errs := zccp(ctx, "", "", "keygen", "--key-file", keyFile); code != exitOK {
		t.Fatal(errs)
	}
	if code, _, errs := zccp(ctx, ep, "", "pub", "--server-key", server.Public.String(), "--key-file", keyFile, "x.flag", "by-flag"); code != exitOK {
		t.Fatalf("pub exit %d: %s", code, errs)
	}
	var out, errb syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string {
		return map[string]string{"ZCCP_ENDPOINT": ep, "ZCCP_SERVER_KEY": server.Public.String(), "ZCCP_KEY_FILE": keyFile}[k]
	}}
	if code := dispatch(ctx, e, []string{"pub", "x.env", "by-env"}); code != exitOK {
		t.Fatalf("pub with ZCCP_* exit %d: %s", code, errb.String())
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case s := <-got:
			seen[s] = true
		case <-ctx.Done():
			t.Fatalf("deliveries %v", seen)
		}
	}
	if code, _, errs := zccp(ctx, ep, "", "pub", "x.y", "z"); code != exitUsage || !strings.Contains(errs, "--server-key") {
		t.Fatalf("curve+ without a server key: exit %d: %s", code, errs)
	}
	other, _ := zmtp.NewCurveKeyPair()
	code, _, errs := zccp(ctx, ep, "", "pub", "--connect-timeout", "300ms", "--server-key", other.Public.String(), "--key-file", keyFile, "x.y", "z")
	if code != exitUnreachable || !strings.Contains(errs, "CURVE") {
		t.Fatalf("wrong server key: exit %d: %s", code, errs)
	}
}

// zccp keys over the local ipc endpoint lists a pending key and accepts
// it; the Go client with that key then connects.
func TestKeysCommand(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	if err := b.EnableEnrolment(nil, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.EnableKeyBinding(nil); err != nil {
		t.Fatal(err)
	}
	server, _ := zmtp.NewCurveKeyPair()
	m := zmtp.NewCurveServer(server)
	m.Authorize = b.AuthorizeKey
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	ep := zmtp.EndpointOf(ln)

	dev, _ := zmtp.NewCurveKeyPair()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := client.Connect(ctx, ep, client.WithIdentifier("pdu-4"), client.WithCurve(dev, server.Public)); err == nil {
		t.Fatal("a pending key got a session")
	}
	code, out, errs := zccp(context.Background(), b.IPC, "", "keys", "list", "--state", "pending")
	if code != exitOK || !strings.Contains(out, "pending") || !strings.Contains(out, dev.Public.String()) || !strings.Contains(out, "pdu-4") {
		t.Fatalf("keys list: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := zccp(context.Background(), b.IPC, "", "keys", "accept", "--ident", "pdu-4", "--ident", "rack1.pdu*", "--json", "--", dev.Public.String()); code != exitOK || !strings.Contains(out, `"state":"accepted"`) || !strings.Contains(out, `"owns":["pdu-4","rack1.pdu*"]`) {
		t.Fatalf("keys accept: exit %d\n%s%s", code, out, errs)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	c, err := client.Connect(ctx2, ep, client.WithIdentifier("pdu-4"), client.WithCurve(dev, server.Public))
	if err != nil {
		t.Fatalf("accepted key: %v", err)
	}
	c.Close()
	c, err = client.Connect(ctx2, ep, client.WithIdentifier("rack1.pdu2"), client.WithCurve(dev, server.Public))
	if err != nil {
		t.Fatalf("an identifier the key's pattern covers: %v", err)
	}
	c.Close()
	ctx3, cancel3 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel3()
	if _, err := client.Connect(ctx3, ep, client.WithIdentifier("rack2.pdu2"), client.WithCurve(dev, server.Public)); err == nil {
		t.Fatal("an identifier outside the key's patterns got a session")
	}
	if code, out, errs := zccp(context.Background(), b.IPC, "", "keys", "list"); code != exitOK || !strings.Contains(out, "pdu-4,rack1.pdu*") {
		t.Fatalf("keys list: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := zccp(context.Background(), b.IPC, "", "keys", "show", dev.Public.String(), "--ident", "x"); code != exitUsage {
		t.Fatalf("--ident with show: exit %d", code)
	}
	if code, _, _ := zccp(context.Background(), b.IPC, "", "keys", "accept"); code != exitUsage {
		t.Fatalf("accept without a key: exit %d", code)
	}
}

// A Z85 key may start with '-': zccp keys takes it after its verb
// without "--" (the flag package would read it as a flag).
func TestKeysCommandKeyStartingWithDash(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	if err := b.EnableEnrolment(nil, false, nil); err != nil {
		t.Fatal(err)
	}
	server, _ := zmtp.NewCurveKeyPair()
	m := zmtp.NewCurveServer(server)
	m.Authorize = b.AuthorizeKey
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	var dev zmtp.CurveKeyPair
	for i := 0; i < 10000 && !strings.HasPrefix(dev.Public.String(), "-"); i++ {
		dev, _ = zmtp.NewCurveKeyPair()
	}
	if !strings.HasPrefix(dev.Public.String(), "-") {
		t.Fatal("no key starting with '-' in 10,000 tries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := client.Connect(ctx, zmtp.EndpointOf(ln), client.WithIdentifier("pdu-9"), client.WithCurve(dev, server.Public)); err == nil {
		t.Fatal("a pending key got a session")
	}
	code, out, errs := zccp(context.Background(), b.IPC, "", "keys", "reject", dev.Public.String(), "--json")
	if code != exitOK || !strings.Contains(out, `"state":"rejected"`) {
		t.Fatalf("keys reject -KEY: exit %d\n%s%s", code, out, errs)
	}
}
