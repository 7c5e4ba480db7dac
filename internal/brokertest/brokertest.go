// Package brokertest starts real brokers for tests in other packages: on
// tcp 127.0.0.1 (port 0) and a fresh Linux abstract ipc name, ready when
// Start returns, closed and checked for goroutine leaks when the test
// ends. It also holds the polling helper every test uses instead of
// sleeps.
package brokertest

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
)

// Broker is a running broker and its endpoints.
type Broker struct {
	*broker.Broker
	TCP string // tcp://127.0.0.1:PORT
	IPC string // ipc://@/…
}

// Endpoints returns the broker's endpoints, tcp first.
func (b *Broker) Endpoints() []string { return []string{b.TCP, b.IPC} }

var seq atomic.Uint64

// Start runs a broker with cfg (its logger discards unless cfg has one).
// When the test ends the broker is closed and every goroutine started
// since Start must be gone within a few seconds.
func Start(t testing.TB, cfg broker.Config) *Broker {
	t.Helper()
	before := runtime.NumGoroutine()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tb := &Broker{Broker: b}
	if tb.TCP, err = b.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if tb.IPC, err = b.Listen(fmt.Sprintf("ipc://@/zccp-test-%d-%d", time.Now().UnixNano(), seq.Add(1))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		NoLeaks(t, before)
	})
	return tb
}

// NoLeaks waits up to 5 s for the goroutine count to come back to before
// and fails the test, with every goroutine's stack, if it does not.
func NoLeaks(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// Eventually polls cond every 2 ms until it holds, failing the test after
// 10 s with what.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
