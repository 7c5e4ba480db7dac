package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

var (
	zccpOnce sync.Once
	zccpBin  string
	zccpErr  error
)

// buildZCCP builds the zccp command once for the tests that run it.
func buildZCCP(t *testing.T) string {
	t.Helper()
	zccpOnce.Do(func() {
		dir := filepath.Dir(zccpdBin)
		zccpBin = filepath.Join(dir, "zccp")
		out, err := exec.Command("go", "build", "-o", zccpBin, "../zccp").CombinedOutput()
		if err != nil {
			zccpErr = &buildError{err, out}
		}
	})
	if zccpErr != nil {
		t.Fatal(zccpErr)
	}
	return zccpBin
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

// peerOn dials a hand-framed peer that says HELLO as ident.
func peerOn(t *testing.T, ctx context.Context, ep, ident string, hs ...rawpeer.Header) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, ident, hs...); err != nil {
		t.Fatal(err)
	}
	return p
}

// replyTo reads p's messages until the reply to request id (or, id "",
// the next command carrying a request id).
func replyTo(t *testing.T, ctx context.Context, p *rawpeer.Peer, id string) *rawpeer.Message {
	t.Helper()
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", id, err)
		}
		rt, _ := m.Header(codec.HdrReplyTo)
		_, isReq := m.Header(codec.HdrRequestID)
		if m.ID == rawpeer.Deliver && (id != "" && rt == id || id == "" && isReq) {
			return m
		}
	}
}

func requestHeaders(id, method string) []rawpeer.Header {
	return []rawpeer.Header{{Name: codec.HdrRequestID, Value: id}, {Name: codec.HdrMethod, Value: method}}
}

// zccpd with --data-dir keeps an audit log that survives kill -9 (a torn
// last line included) and a restart, and the zccp CLI reads it over the
// broker API; zccpd audit reads the files offline. Peers: hand-framed
// requester and device, the zccp binary.
func TestAuditSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	ipc := uniqueIPC()
	d := startDaemon(t, "--data-dir", dir, "--bind", "tcp://127.0.0.1:0", "--bind", ipc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dev := peerOn(t, ctx, d.Endpoint("tcp"), "pdu-1", rawpeer.Header{Name: codec.HdrServes, Value: "1"})
	ctl := peerOn(t, ctx, ipc, "ctl")
	ctl.Direct("pdu-1", requestHeaders("before-kill", "outlet.off"))
	replyTo(t, ctx, dev, "")
	dev.Direct("ctl", []rawpeer.Header{{Name: codec.HdrReplyTo, Value: "before-kill"}, {Name: codec.HdrStatus, Value: codec.StatusOK}})
	replyTo(t, ctx, ctl, "before-kill")
	logDir := filepath.Join(dir, "audit")
	testutil.Eventually(t, "the record on disk", func() bool {
		res, _ := audit.Query(logDir, audit.Filter{Kind: audit.KindRequest}, 0, 0)
		return len(res.Lines) == 1
	})
	d.Kill()
	// What a crash in mid-write leaves: a line without its end.
	f, err := os.OpenFile(filepath.Join(logDir, audit.FileName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-12-02T10:00:00Z","kind":"requ`)
	f.Close()

	d = startDaemon(t, "--data-dir", dir, "--bind", "tcp://127.0.0.1:0", "--bind", ipc)
	ctl = peerOn(t, ctx, ipc, "ctl")
	ctl.Direct("ghost", requestHeaders("after-restart", "outlet.on"))
	replyTo(t, ctx, ctl, "after-restart")

	zccp := buildZCCP(t)
	var out []byte
	testutil.Eventually(t, "zccp audit shows both records", func() bool {
		out, err = exec.Command(zccp, "--endpoint", ipc, "audit", "--json", "--kind", "request").Output()
		return err == nil && bytes.Count(out, []byte("\n")) == 2
	})
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	first, _ := audit.ParseLine(lines[0])
	second, _ := audit.ParseLine(lines[1])
	if first.RequestID != "before-kill" || first.Outcome != "ok" || first.Target != "pdu-1" || first.By.Identifier != "ctl" ||
		second.RequestID != "after-restart" || second.Outcome != "no_recipient" {
		t.Fatalf("records %+v\n%+v", first, second)
	}
	text, err := exec.Command(zccp, "--endpoint", ipc, "audit", "--target", "pdu-1", "--since", "1h").Output()
	if err != nil || !strings.Contains(string(text), "before-kill") || strings.Contains(string(text), "after-restart") {
		t.Fatalf("zccp audit --target pdu-1: %v\n%s", err, text)
	}
	// Offline, from the files (the broker still running).
	off, err := exec.Command(zccpdBin, "audit", "--data-dir", dir, "--method", "outlet.on").CombinedOutput()
	if err != nil || !strings.Contains(string(off), "after-restart") || strings.Contains(string(off), "before-kill") ||
		!strings.Contains(string(off), "1 lines were not records") {
		t.Fatalf("zccpd audit: %v\n%s", err, off)
	}
}

// --audit-max-bytes and --audit-keep bound the files: under a stream of
// requests the directory holds at most keep+1 files, none past the size.
func TestAuditRotationBound(t *testing.T) {
	dir := t.TempDir()
	ipc := uniqueIPC()
	const maxBytes, keep = 4096, 2
	startDaemon(t, "--data-dir", dir, "--audit-max-bytes", strconv.Itoa(maxBytes), "--audit-keep", strconv.Itoa(keep),
		"--bind", "tcp://127.0.0.1:0", "--bind", ipc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctl := peerOn(t, ctx, ipc, "ctl")
	const n = 200 // ~250 bytes each: 50 KB, twelve files' worth
	for i := range n {
		ctl.Direct("ghost", requestHeaders("r"+strconv.Itoa(i), "m"))
		replyTo(t, ctx, ctl, "r"+strconv.Itoa(i))
	}
	logDir := filepath.Join(dir, "audit")
	testutil.Eventually(t, "the last record on disk", func() bool {
		res, _ := audit.Query(logDir, audit.Filter{}, 1, 0)
		return len(res.Lines) == 1 && bytes.Contains(res.Lines[0], []byte(`"r`+strconv.Itoa(n-1)+`"`))
	})
	files, _ := audit.Files(logDir)
	if len(files) != keep+1 {
		t.Fatalf("%d files, want %d: %v", len(files), keep+1, files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() > maxBytes {
			t.Fatalf("%s: %d bytes (max %d), %v", f, st.Size(), maxBytes, err)
		}
	}
}

// --audit values are checked before anything starts.
func TestAuditFlags(t *testing.T) {
	for _, args := range [][]string{{"--audit", "maybe"}, {"--audit-max-bytes", "0"}, {"--audit-keep", "0"}} {
		if _, err := parse(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	s, err := parse([]string{"--bind", "tcp://127.0.0.1:7878"}, &bytes.Buffer{})
	if err != nil || s.audit.enabled(s) {
		t.Fatalf("auto without data dir or CURVE: on (%v)", err)
	}
	s, _ = parse([]string{"--bind", "curve+tcp://127.0.0.1:7878"}, &bytes.Buffer{})
	if !s.audit.enabled(s) {
		t.Fatal("auto with a CURVE endpoint: off")
	}
	s, _ = parse([]string{"--data-dir", t.TempDir(), "--audit", "off"}, &bytes.Buffer{})
	if s.audit.enabled(s) {
		t.Fatal("--audit off: on")
	}
}

// zccpd audit (a subprocess) prints every record of a log far larger than
// any --limit, oldest first, and with --limit N only the newest N, oldest
// first (audit.Tail's tests check the memory bound itself).
func TestAuditOfflineWholeLog(t *testing.T) {
	const n = 3000
	dir := t.TempDir()
	logDir := filepath.Join(dir, "audit")
	if err := os.Mkdir(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	at := time.Now().UTC().Add(-time.Hour)
	for i := range n {
		line, _ := json.Marshal(audit.Record{Time: at, Kind: audit.KindRequest, By: audit.Actor{Identifier: "ctl"},
			Target: "pdu-1", Method: "m", RequestID: "r" + strconv.Itoa(i), Outcome: "ok"})
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(logDir, audit.FileName), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args        []string
		first, last int
	}{{nil, 0, n - 1}, {[]string{"--limit", "2"}, n - 2, n - 1}} {
		out, err := exec.Command(zccpdBin, append([]string{"audit", "--json", "--data-dir", dir}, c.args...)...).Output()
		lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if err != nil || len(lines) != c.last-c.first+1 ||
			!strings.Contains(lines[0], `"r`+strconv.Itoa(c.first)+`"`) || !strings.Contains(lines[len(lines)-1], `"r`+strconv.Itoa(c.last)+`"`) {
			t.Fatalf("zccpd audit %v: %d lines, err %v", c.args, len(lines), err)
		}
	}
}
