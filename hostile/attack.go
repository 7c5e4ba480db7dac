package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/soak/daemon"
)

// attack is one adversarial load. run performs it for about dur, then
// closes everything it opened; note summarises what it saw.
type attack struct {
	name, what string
	args       []string // extra zccpd flags
	run        func(ctx context.Context, e *env) (note string, err error)
}

// env is what an attack gets: the broker and how to reach it.
type env struct {
	d    *daemon.Daemon
	addr string // tcp host:port
	dur  time.Duration
}

func runAttack(ctx context.Context, bin string, a attack, dur time.Duration) (r result, err error) {
	r.name = a.name
	args := append([]string{"--bind", "tcp://127.0.0.1:0", "--debug-addr", "127.0.0.1:0"}, a.args...)
	d, err := daemon.Start(bin, args...)
	if err != nil {
		return r, err
	}
	defer func() {
		d.Signal(syscall.SIGTERM)
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Wait(wctx)
	}()
	e := &env{d: d, addr: strings.TrimPrefix(d.Endpoint("tcp"), "tcp://"), dur: dur}
	p, err := startPair(ctx, d.Endpoint("tcp"))
	if err != nil {
		return r, err
	}
	if r.base, err = take(d); err != nil {
		return r, err
	}
	cpu0 := cpuTime(d.PID)
	w := watch(d)
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, dur+30*time.Second)
	r.note, err = a.run(actx, e)
	cancel()
	r.elapsed = time.Since(start)
	r.peak = w.end()
	r.cpu = cpuTime(d.PID) - cpu0
	r.final, _ = settle(ctx, d, 2)
	r.heap = heapAfterGC(d)
	r.sent, r.got = p.stop()
	if err != nil {
		err = fmt.Errorf("%w\n%s", err, tail(d.Log(), 5))
	}
	return r, err
}

// cpuTime returns the user+system CPU time the process has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// heapAfterGC asks zccpd for a heap profile with a collection first
// (/debug/pprof/heap?gc=1) and then reads its live heap.
func heapAfterGC(d *daemon.Daemon) int64 {
	resp, err := http.Get("http://" + d.DebugAddr + "/debug/pprof/heap?gc=1")
	if err == nil {
		resp.Body.Close()
	}
	v, err := d.Vars()
	if err != nil {
		return -1
	}
	return int64(v.Memory.HeapAlloc)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// dial connects from the given local IP (empty: any) with an optional
// small receive buffer (so that what the peer does not read stays queued
// in the broker, not in the kernel).
func dial(ctx context.Context, addr, from string, rcvbuf int) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	return d.DialContext(ctx, "tcp", addr)
}

// session dials and says HELLO as a hand-framed peer.
func session(ctx context.Context, addr, from string, rcvbuf int, ident string, labels ...rawpeer.Header) (*rawpeer.Peer, error) {
	nc, err := dial(ctx, addr, from, rcvbuf)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := rawpeer.New(hctx, nc)
	if err != nil {
		return nil, err
	}
	if err := p.Hello(hctx, ident, labels...); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func closeAll[T interface{ Close() error }](xs []T) {
	for _, x := range xs {
		x.Close()
	}
}

// hold waits for the attack's duration (or ctx).
func hold(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
