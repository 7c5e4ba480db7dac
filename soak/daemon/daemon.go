// Package daemon runs zccpd as a subprocess and watches it from outside:
// its bound endpoints and debug address (parsed from its JSON log), its
// resident memory (/proc/<pid>/status) and its goroutine count and
// counters (/debug/vars, served with --debug-addr). The soak program and
// the process-level tests of cmd/zccpd use it. Linux only (/proc).
package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/broker"
)

// Build compiles the zccpd command into dir and returns the binary's
// path. pkg is the import path or directory of the command (e.g.
// "github.com/zccp-go/zccp/cmd/zccpd" or "."). It uses the go command
// that runs the caller when it can find it.
func Build(dir, pkg string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command on PATH: %w", err)
	}
	out := filepath.Join(dir, "zccpd")
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return out, nil
}

// Daemon is one running zccpd.
type Daemon struct {
	Cmd       *exec.Cmd
	PID       int
	Endpoints []string // as bound (real ports)
	DebugAddr string   // host:port of /debug/vars, if --debug-addr was given

	mu      sync.Mutex
	log     bytes.Buffer    // the last logLimit bytes or so of its log
	seen    map[string]bool // "msg" of every log line so far
	started chan struct{}
	exited  chan struct{}
	exitErr error
	http    *http.Client
}

// Start runs bin with args plus --log-format json and waits (up to 10 s)
// for its "zccpd started" line. Pass --debug-addr 127.0.0.1:0 to be able
// to call Vars.
func Start(bin string, args ...string) (*Daemon, error) {
	d := &Daemon{started: make(chan struct{}), exited: make(chan struct{}), seen: map[string]bool{},
		http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	d.Cmd = exec.Command(bin, append(append([]string{}, args...), "--log-format", "json")...)
	stderr, err := d.Cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	d.Cmd.Stdout = nil
	if err := d.Cmd.Start(); err != nil {
		return nil, err
	}
	d.PID = d.Cmd.Process.Pid
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		startedOnce := sync.Once{}
		for sc.Scan() {
			line := sc.Bytes()
			var rec map[string]any
			d.mu.Lock()
			if d.log.Len() > logLimit {
				keep := d.log.Bytes()[d.log.Len()-logLimit/2:]
				d.log = *bytes.NewBuffer(append([]byte(nil), keep...))
			}
			d.log.Write(line)
			d.log.WriteByte('\n')
			if json.Unmarshal(line, &rec) == nil {
				msg, _ := rec["msg"].(string)
				d.seen[msg] = true
				switch msg {
				case "debug listening":
					d.DebugAddr, _ = rec["addr"].(string)
				case "zccpd started":
					if eps, _ := rec["endpoints"].(string); eps != "" {
						d.Endpoints = strings.Split(eps, ",")
					}
					startedOnce.Do(func() { close(d.started) })
				}
			}
			d.mu.Unlock()
		}
	}()
	go func() {
		<-logDone // the pipe must be drained before Wait
		err := d.Cmd.Wait()
		d.mu.Lock()
		d.exitErr = err
		d.mu.Unlock()
		close(d.exited)
	}()
	select {
	case <-d.started:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("zccpd exited before starting: %v\n%s", d.exitErr, d.Log())
	case <-time.After(10 * time.Second):
		d.Kill()
		return nil, fmt.Errorf("zccpd did not start within 10s\n%s", d.Log())
	}
}

// logLimit bounds the log kept in memory (a long soak logs a lot).
const logLimit = 1 << 20

// Log returns what zccpd logged (the last MiB or so).
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Logged reports whether a log line with this message was seen.
func (d *Daemon) Logged(msg string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[msg]
}

// Endpoint returns the first bound endpoint with the given transport
// ("tcp" or "ipc").
func (d *Daemon) Endpoint(transport string) string {
	for _, e := range d.Endpoints {
		if strings.HasPrefix(e, transport+"://") {
			return e
		}
	}
	return ""
}

// RSS returns the resident set size in bytes (VmRSS) and its peak so far
// (VmHWM).
func (d *Daemon) RSS() (rss, peak int64, err error) {
	return ProcRSS(d.PID)
}

// ProcRSS reads VmRSS and VmHWM of a process from /proc/<pid>/status.
func ProcRSS(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, f := range []struct {
			prefix string
			dst    *int64
		}{{"VmRSS:", &rss}, {"VmHWM:", &peak}} {
			if v, ok := strings.CutPrefix(line, f.prefix); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("%s %q: %v", f.prefix, v, err)
				}
				*f.dst = kb << 10
			}
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, peak, nil
}

// Vars is what zccpd serves at /debug/vars.
type Vars struct {
	Goroutines int          `json:"goroutines"`
	Broker     broker.Stats `json:"broker"`
	Memory     struct {
		HeapAlloc uint64 `json:"heap_alloc"`
		HeapInuse uint64 `json:"heap_inuse"`
		HeapSys   uint64 `json:"heap_sys"`
		Sys       uint64 `json:"sys"`
		NumGC     uint32 `json:"num_gc"`
	} `json:"memory"`
}

// Vars fetches /debug/vars (it needs --debug-addr).
func (d *Daemon) Vars() (Vars, error) {
	var v Vars
	if d.DebugAddr == "" {
		return v, errors.New("zccpd runs without --debug-addr")
	}
	resp, err := d.http.Get("http://" + d.DebugAddr + "/debug/vars")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("/debug/vars: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v, err
}

// Signal sends sig to the process.
func (d *Daemon) Signal(sig syscall.Signal) error { return d.Cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits for the process to be gone.
func (d *Daemon) Kill() {
	d.Cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// Exited is closed when the process has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Wait waits for the process to exit (at most timeout, after which it is
// killed) and returns its exit code, -1 if it was killed by a signal.
func (d *Daemon) Wait(ctx context.Context) (code int, err error) {
	select {
	case <-d.exited:
	case <-ctx.Done():
		d.Kill()
		return -1, fmt.Errorf("zccpd still running: %w", ctx.Err())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.exitErr == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(d.exitErr, &ee) {
		return ee.ExitCode(), nil
	}
	return -1, d.exitErr
}
