package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
)

const guestOnly = "role guest\n  deliver **\ndefault guest\n"
const publisherGuest = "role guest\n  deliver **\n  publish rack1.**\ndefault guest\n"

// publishRefused publishes to address and wants a not-authorized notice.
func publishRefused(t *testing.T, r *rawConn, address string) {
	t.Helper()
	r.send(codec.Message{ID: codec.Publish, Address: address, Content: [][]byte{[]byte("x")}})
	m := r.expect(codec.Deliver)
	if m.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized || m.Headers[codec.HdrAddress] != address {
		t.Fatalf("publish %s: got %v, want a not-authorized notice", address, m.Headers)
	}
}

// A zccpd process with --policy: a publish outside it is refused; SIGHUP
// with a good file applies it to the live sessions; SIGHUP with a bad
// file logs each error with its line and keeps the policy in force.
func TestPolicySIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zccpd.policy")
	os.WriteFile(path, []byte(guestOnly), 0o644)
	d := startDaemon(t, "--policy", path)
	pub := dialRaw(t, d.Endpoint("tcp"))
	pub.hello("pub")
	sub := dialRaw(t, d.Endpoint("tcp"))
	sub.hello("sub")
	sub.subscribe(".*")
	publishRefused(t, pub, "rack1.t")

	os.WriteFile(path, []byte(publisherGuest), 0o644)
	d.Signal(syscall.SIGHUP)
	testutil.Eventually(t, "policy reloaded", func() bool {
		return strings.Count(d.Log(), "permission policy in force") == 2
	})
	pub.send(codec.Message{ID: codec.Publish, Address: "rack1.t", Content: [][]byte{[]byte("21")}})
	if m := sub.expect(codec.Deliver); m.Address != "rack1.t" || m.Sender != "pub" {
		t.Fatalf("subscriber got %s from %s", m.Address, m.Sender)
	}
	publishRefused(t, pub, "rack2.t")

	os.WriteFile(path, []byte("role guest\n  publish a.**b\ndefault nobody\n"), 0o644)
	d.Signal(syscall.SIGHUP)
	testutil.Eventually(t, "bad policy refused", func() bool { return strings.Contains(d.Log(), "the previous policy stays in force") })
	for _, want := range []string{path + ":2: pattern", path + ":3: default: no role"} {
		if !strings.Contains(d.Log(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	pub.send(codec.Message{ID: codec.Publish, Address: "rack1.t", Content: [][]byte{[]byte("22")}})
	if m := sub.expect(codec.Deliver); string(m.Content[0]) != "22" {
		t.Fatalf("after a bad reload: %q", m.Content)
	}
}

// A bad policy stops zccpd before it binds, with every error as
// file:line; zccpd policy check says the same, or ok.
func TestPolicyFileChecked(t *testing.T) {
	if zccpdBin == "" {
		t.Skip("process tests need Linux")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.policy")
	os.WriteFile(bad, []byte("role ops\n  publish **\n  frobnicate x\nassign ops key=short\n"), 0o644)
	var stderr bytes.Buffer
	cmd := exec.Command(zccpdBin, "--policy", bad, "--bind", uniqueIPC())
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("zccpd with a bad policy: %v, want exit 2\n%s", err, stderr.String())
	}
	for _, want := range []string{bad + ":3: unknown statement \"frobnicate\"", bad + ":4: key=short"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	out, err := exec.Command(zccpdBin, "policy", "check", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), ":3: unknown statement") {
		t.Fatalf("policy check of a bad file: %v %s", err, out)
	}
	good := filepath.Join(dir, "good.policy")
	os.WriteFile(good, []byte(publisherGuest), 0o644)
	out, err = exec.Command(zccpdBin, "policy", "check", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok: 1 roles") {
		t.Fatalf("policy check of a good file: %v %s", err, out)
	}
}

// A CURVE endpoint without a policy is stated in the start log.
func TestCurveWithoutPolicyWarns(t *testing.T) {
	d := startDaemon(t, "--data-dir", t.TempDir(), "--bind", "curve+tcp://127.0.0.1:0")
	testutil.Eventually(t, "started", func() bool { return d.Logged("zccpd started") })
	if !strings.Contains(d.Log(), "no permission policy (--policy)") {
		t.Fatal("no warning for CURVE without a policy")
	}
}
