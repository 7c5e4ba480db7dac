package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/soak/daemon"
)

func TestVersionSubcommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out bytes.Buffer
		if code := run(t.Context(), args, &out); code != 0 || out.String() != "zccpd "+broker.Version+"\n" {
			t.Errorf("zccpd %v: exit %d, %q", args, code, out.String())
		}
	}
}

func TestManPageIsGenerated(t *testing.T) {
	var page bytes.Buffer
	if err := writeMan(&page); err != nil {
		t.Fatal(err)
	}
	if committed, err := os.ReadFile(filepath.Join("..", "..", "packaging", "man", "zccpd.8")); err != nil || !bytes.HasPrefix(committed, []byte(".TH ZCCPD 8")) {
		t.Errorf("packaging/man/zccpd.8 missing or not generated (make packaging): %v", err)
	}
	text := strings.ReplaceAll(page.String(), `\-`, "-")
	for _, flag := range []string{"--bind", "--timeout", "--http-addr", "--data-dir", "--config", "--log-level", "--max-clients"} {
		if !strings.Contains(text, ".B "+flag) {
			t.Errorf("zccpd.8 lacks %s", flag)
		}
	}
}

// Precedence: flags > environment > file.
func TestConfigFilePrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zccpd.toml")
	os.WriteFile(path, []byte(`# test
log-level = "debug"  # a comment
name = "from-file"
max_clients = 7
timeout = "9s"
bind = ["tcp://127.0.0.1:0", "ipc://@/x # not a comment"]
`), 0o600)
	t.Setenv("ZCCPD_TIMEOUT", "8s")
	s, err := parse([]string{"--config", path, "--name", "from-flag"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Name != "from-flag" || s.cfg.Timeout != 8*time.Second || s.cfg.MaxClients != 7 || s.logLevel != "debug" {
		t.Fatalf("name %q timeout %v max-clients %d log-level %q", s.cfg.Name, s.cfg.Timeout, s.cfg.MaxClients, s.logLevel)
	}
	if strings.Join(s.binds.vals, " ") != "tcp://127.0.0.1:0 ipc://@/x # not a comment" {
		t.Fatalf("binds %q", s.binds.vals)
	}
	s, err = parse([]string{"--config=" + path, "--bind", "tcp://127.0.0.1:0"}, io.Discard)
	if err != nil || strings.Join(s.binds.vals, " ") != "tcp://127.0.0.1:0" {
		t.Fatalf("a --bind flag replaces the file's list: %v %q", err, s.binds.vals)
	}
	for _, bad := range []string{"nosuch = 1\n", "[section]\n", "name = unquoted\n", "timeout = \"x\"\n", "name = \"a\"\nname = \"b\"\n", "name = [\"a\", \"b\"]\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := parse([]string{"--config", path}, io.Discard); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
	if _, err := parse([]string{"--config", filepath.Join(dir, "missing")}, io.Discard); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestHTTPAddrNeedsTokenOffLoopback(t *testing.T) {
	if _, err := parse([]string{"--http-addr", "0.0.0.0:7879"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--http-token") {
		t.Fatalf("non-loopback without token: %v", err)
	}
	for _, args := range [][]string{{"--http-addr", "0.0.0.0:7879", "--http-token", "s3cret"}, {"--http-addr", "[::1]:0"}, {"--http-addr", "localhost:0"}, {"--http-addr", ":0"}} {
		if _, err := parse(args, io.Discard); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	if a, _ := httpAddr(":7879", ""); a != "127.0.0.1:7879" {
		t.Errorf(":7879 resolved to %q", a)
	}
}

// httpAddrOf returns the address the daemon logged for its HTTP server.
func httpAddrOf(t *testing.T, d *daemon.Daemon) string {
	for _, line := range strings.Split(d.Log(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "http listening" {
			return rec.Addr
		}
	}
	t.Fatalf("no http address logged:\n%s", d.Log())
	return ""
}

func get(t *testing.T, url string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if len(hdr) == 2 {
		req.Header.Set(hdr[0], hdr[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A zccpd subprocess: /healthz and /readyz answer; SIGHUP reloads the log
// level from the file (debug lines appear) and the broker keeps serving;
// a second SIGHUP with a broken file keeps the old level.
func TestSIGHUPReloadsAndHealth(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zccpd.toml")
	os.WriteFile(cfg, []byte("log-level = \"info\"\n"), 0o600)
	d := startDaemon(t, "--config", cfg, "--http-addr", "127.0.0.1:0")
	addr := httpAddrOf(t, d)
	if code, body := get(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	os.WriteFile(cfg, []byte("log-level = \"debug\"\n"), 0o600)
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "log level reloaded", func() bool { return d.Logged("log level reloaded") })
	// Debug lines now appear: a connection is logged at debug level.
	r := dialRaw(t, d.Endpoint("tcp"))
	r.hello("after-hup")
	testutil.Eventually(t, "a debug line", func() bool { return d.Logged("connected") })
	os.WriteFile(cfg, []byte("log-level = \"loud\"\n"), 0o600)
	d.Signal(syscall.SIGHUP)
	testutil.Eventually(t, "bad level refused", func() bool { return d.Logged("cannot reload the log level") })
	r.roundTrip() // still serving
	select {
	case <-d.Exited():
		t.Fatal("zccpd exited on SIGHUP")
	default:
	}
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("/readyz after SIGHUP: %d", code)
	}
}

// /metrics through the Prometheus client library: runtime, process, build
// info, the operator's gauges and the broker's counters, on --http-addr
// and --metrics-addr alike.
func TestPrometheusMetrics(t *testing.T) {
	d := startDaemon(t, "--http-addr", "127.0.0.1:0")
	r := dialRaw(t, d.Endpoint("tcp"))
	r.hello("m1")
	r.send(codec.Message{ID: codec.Publish, Address: "a", Headers: codec.Headers{"zccp-retain": "1"}, Content: [][]byte{[]byte("x")}})
	r.roundTrip()
	code, body := get(t, "http://"+httpAddrOf(t, d)+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{"go_goroutines ", "process_resident_memory_bytes ", `zccpd_build_info{goversion="go`, `version="` + broker.Version + `"} 1`,
		"zccp_published_total 1", `zccpd_drops_total{reason="overflow"} 0`, `zccpd_queue_depth_messages{of="max"}`, "zccpd_last_values 1", "# TYPE zccp_sessions gauge"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
