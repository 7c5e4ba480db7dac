package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClusterFlags(t *testing.T) {
	s, err := parse([]string{"--cluster", "nats://127.0.0.1:4222, nats://127.0.0.1:4223", "--cluster-advertise", "1s", "--cluster-dead-after", "5s", "--cluster-resolve-wait", "250ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.cluster.options("b1", nil)
	if err != nil || o == nil || len(o.URLs) != 2 || o.URLs[1] != "nats://127.0.0.1:4223" || o.Advertise != time.Second || o.DeadAfter != 5*time.Second || o.Prefix != "zccp" || o.ResolveWait != 250*time.Millisecond {
		t.Fatalf("options %+v, %v", o, err)
	}
	s, _ = parse(nil, io.Discard)
	if o, err := s.cluster.options("b1", nil); o != nil || err != nil {
		t.Fatalf("no --cluster: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"--cluster", "nats://x:1", "--cluster-dead-after", "1s", "--cluster-advertise", "2s"},
		{"--cluster", "nats://x:1", "--cluster-advertise", "0s"},
		{"--cluster", "nats://x:1", "--cluster-resolve-wait", "0s"},
		{"--cluster", "nats://x:1", "--cluster-cert", "c.pem"},
		{"--cluster", "nats://x:1", "--cluster-nkey", "/nonexistent/seed"},
	} {
		s, err := parse(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.cluster.options("b1", nil); err == nil || !strings.Contains(err.Error(), "--cluster") {
			t.Errorf("%q accepted (%v)", args, err)
		}
	}
}

// With --cluster naming a NATS server that is not there, zccpd says why
// and exits 1 instead of serving standalone.
func TestClusterUnreachableExits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()           // nothing listens there now
	var out lockedBuffer // the listener's goroutine may still log after run returns
	args := []string{"--bind", fmt.Sprintf("ipc://@/zccpd-cluster-test-%d", time.Now().UnixNano()), "--cluster", "nats://" + addr}
	if code := run(t.Context(), args, &out); code != 1 || !strings.Contains(out.String(), "cannot join the federation") {
		t.Fatalf("exit %d, log:\n%s", code, out.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent Write and String.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
