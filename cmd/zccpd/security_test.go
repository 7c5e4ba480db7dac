package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

func TestBindSecurityChecked(t *testing.T) {
	for _, bad := range [][]string{
		{"--bind", "tcp://0.0.0.0:7878"},
		{"--bind", "tcp://*:7878"},
		{"--bind", "null+tcp://192.0.2.1:7878"},
		{"--bind", "tls+tcp://127.0.0.1:0"},
		{"--bind", "curve+udp://127.0.0.1:0"},
		{"--bind", "127.0.0.1:7878"},
	} {
		if _, err := parse(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parse([]string{"--bind", "tcp://0.0.0.0:7878"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("the refusal does not name --insecure: %v", err)
	}
	for _, good := range [][]string{
		{"--bind", "tcp://0.0.0.0:7878", "--insecure"},
		{"--bind", "curve+tcp://0.0.0.0:7878"},
		{"--bind", "tcp://127.0.0.2:7878", "--bind", "tcp://[::1]:7878", "--bind", "null+tcp://localhost:0"},
		{"--bind", "ipc://@/x", "--ipc-allow-uid", "0,1000", "--ipc-allow-uid", "1001"},
	} {
		if _, err := parse(good, io.Discard); err != nil {
			t.Errorf("%v: %v", good, err)
		}
	}
	if _, err := parse([]string{"--ipc-allow-uid", "root"}, io.Discard); err == nil {
		t.Error("a non-numeric uid was accepted")
	}
}

// curveDial connects to a CURVE endpoint of zccpd with our zmtp client
// and says ZCCP HELLO.
func curveDial(t *testing.T, ep string, keys zmtp.CurveKeyPair, server zmtp.CurveKey) (*rawConn, error) {
	t.Helper()
	nc, err := zmtp.Dial(context.Background(), strings.TrimPrefix(ep, "curve+"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 5 * time.Second,
		Mechanism: &zmtp.CurveClient{Keys: keys, ServerKey: server}})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, nc: nc, c: c}, nil
}

func newKeys(t *testing.T) zmtp.CurveKeyPair {
	t.Helper()
	kp, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// zccpd generates its key pair in --data-dir on first start (mode 0600),
// logs the public key, `zccpd key` prints the same key, and a CURVE
// endpoint serves ZCCP to a client that knows it while refusing NULL
// clients and clients with another server key.
func TestCurveEndpointAndKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, "--data-dir", dir, "--bind", "curve+tcp://127.0.0.1:0", "--bind", uniqueIPC())
	st, err := os.Stat(filepath.Join(dir, "curve.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", st, err)
	}
	out, err := exec.Command(zccpdBin, "key", "--data-dir", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	server, err := zmtp.ParseCurveKey(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("zccpd key printed %q: %v", out, err)
	}
	if !strings.Contains(d.Log(), server.String()) {
		t.Fatalf("the start log does not show the public key %s", server)
	}
	ep := d.Endpoint("curve+tcp")
	if ep == "" {
		t.Fatalf("no curve+tcp endpoint in %v", d.Endpoints)
	}
	c, err := curveDial(t, ep, newKeys(t), server)
	if err != nil {
		t.Fatalf("CURVE client: %v", err)
	}
	c.hello("curve-sub")
	c.subscribe("x.*")
	p, err := curveDial(t, ep, newKeys(t), server)
	if err != nil {
		t.Fatalf("CURVE client: %v", err)
	}
	p.hello("curve-pub")
	p.send(codec.Message{ID: codec.Publish, Address: "x.y", Content: [][]byte{[]byte("secret")}})
	if m := c.expect(codec.Deliver); m.Sender != "curve-pub" || string(m.Content[0]) != "secret" {
		t.Fatalf("got %+v", m)
	}
	if _, err := curveDial(t, ep, newKeys(t), newKeys(t).Public); !errors.Is(err, zmtp.ErrCurve) {
		t.Fatalf("wrong server key: %v, want ErrCurve", err)
	}
	nc, err := zmtp.Dial(context.Background(), strings.TrimPrefix(ep, "curve+"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer}); err == nil {
		t.Fatal("a NULL client was accepted on a CURVE endpoint")
	}
}

// --client-keys admits only the listed keys, and SIGHUP reloads the list.
func TestClientKeysAllowListReloads(t *testing.T) {
	dir := t.TempDir()
	a, b := newKeys(t), newKeys(t)
	list := filepath.Join(dir, "clients")
	os.WriteFile(list, []byte("# lab\n"+a.Public.String()+" device-a\n"), 0o644)
	d := startDaemon(t, "--data-dir", dir, "--client-keys", list, "--bind", "curve+tcp://127.0.0.1:0")
	server, err := zmtp.ReadCurveKeyFile(filepath.Join(dir, "curve.key"))
	if err != nil {
		t.Fatal(err)
	}
	ep := d.Endpoint("curve+tcp")
	if c, err := curveDial(t, ep, a, server.Public); err != nil {
		t.Fatalf("listed key refused: %v", err)
	} else {
		c.hello("a")
	}
	if _, err := curveDial(t, ep, b, server.Public); !errors.Is(err, zmtp.ErrUnauthorized) {
		t.Fatalf("unlisted key: %v, want ErrUnauthorized", err)
	}
	os.WriteFile(list, []byte(a.Public.String()+"\n"+fmt.Sprintf("%x", b.Public[:])+"\n"), 0o644)
	d.Signal(syscall.SIGHUP)
	testutil.Eventually(t, "client keys reloaded", func() bool { return d.Logged("CURVE client keys reloaded") })
	if c, err := curveDial(t, ep, b, server.Public); err != nil {
		t.Fatalf("key added by SIGHUP refused: %v", err)
	} else {
		c.hello("b")
	}
}

// --ipc-allow-uid closes NULL ipc connections from other users at once.
func TestIPCAllowUID(t *testing.T) {
	uid := os.Getuid()
	ipc := uniqueIPC()
	d := startDaemon(t, "--bind", ipc, "--ipc-allow-uid", fmt.Sprint(uid+1))
	nc, err := zmtp.Dial(context.Background(), ipc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 5 * time.Second}); err == nil {
		t.Fatal("a connection from a user not allowed was accepted")
	}
	testutil.Eventually(t, "refusal logged", func() bool {
		return d.Logged("ipc connection refused: user not allowed (--ipc-allow-uid)")
	})
	ipc2 := uniqueIPC()
	startDaemon(t, "--bind", ipc2, "--ipc-allow-uid", fmt.Sprint(uid))
	dialRaw(t, ipc2).hello("same-user")
}

// With --data-dir the binding of an identifier to the CURVE key that
// claimed it survives a restart: another key is refused after it.
func TestIdentityBindingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	owner := newKeys(t)
	d := startDaemon(t, "--data-dir", dir, "--bind", "curve+tcp://127.0.0.1:0")
	server, err := zmtp.ReadCurveKeyFile(filepath.Join(dir, "curve.key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := curveDial(t, d.Endpoint("curve+tcp"), owner, server.Public)
	if err != nil {
		t.Fatal(err)
	}
	c.hello("rack-3-pdu")
	c.c.Close()
	d.Kill()

	d2 := startDaemon(t, "--data-dir", dir, "--bind", "curve+tcp://127.0.0.1:0")
	thief, err := curveDial(t, d2.Endpoint("curve+tcp"), newKeys(t), server.Public)
	if err != nil {
		t.Fatal(err)
	}
	thief.send(codec.Message{ID: codec.Hello, Identifier: "rack-3-pdu"})
	if m := thief.expect(codec.Deliver); m.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized {
		t.Fatalf("got %+v, want notice not-authorized", m.Headers)
	}
	again, err := curveDial(t, d2.Endpoint("curve+tcp"), owner, server.Public)
	if err != nil {
		t.Fatal(err)
	}
	again.hello("rack-3-pdu")
}

func TestEnrolFlagsChecked(t *testing.T) {
	for _, bad := range [][]string{
		{"--enrol", "--client-keys", "/dev/null"},
		{"--auto-accept"},
		{"--admin-keys", "/dev/null"},
	} {
		if _, err := parse(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// zccpd --enrol: an unknown key is refused a session with not-authorized
// (pending); with --auto-accept it is accepted at once.
func TestEnrolProcess(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, "--enrol", "--data-dir", dir, "--bind", "curve+tcp://127.0.0.1:0")
	server, err := zmtp.ReadCurveKeyFile(filepath.Join(dir, "curve.key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := curveDial(t, d.Endpoint("curve+tcp"), newKeys(t), server.Public)
	if err != nil {
		t.Fatal(err)
	}
	c.send(codec.Message{ID: codec.Hello, Identifier: "new-device"})
	if m := c.expect(codec.Deliver); m.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized || !strings.Contains(m.Headers[codec.HdrReason], "pending") {
		t.Fatalf("got %+v", m.Headers)
	}
	d.Kill()
	d2 := startDaemon(t, "--enrol", "--auto-accept", "--data-dir", dir, "--bind", "curve+tcp://127.0.0.1:0")
	c2, err := curveDial(t, d2.Endpoint("curve+tcp"), newKeys(t), server.Public)
	if err != nil {
		t.Fatal(err)
	}
	c2.hello("lab-device")
}
