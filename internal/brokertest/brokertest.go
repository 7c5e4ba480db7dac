// Package brokertest starts real brokers for tests in other packages: on
// tcp 127.0.0.1 (port 0) and a fresh Linux abstract ipc name, ready when
// Start returns, closed and checked for goroutine leaks (goleak, through
// internal/testutil) when the test ends.
package brokertest

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/testutil"
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
	snapshot := testutil.Snapshot()
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
		testutil.CheckLeaks(t, snapshot)
	})
	return tb
}
