package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

var ipcSeq atomic.Uint64

// startBroker runs a broker bound to tcp 127.0.0.1 (port 0) and to a fresh
// abstract ipc name, and returns it with both endpoints. It is closed, and
// its goroutines checked for leaks, at the end of the test.
func startBroker(t *testing.T, cfg Config) (*Broker, []string) {
	t.Helper()
	leaks := testutil.Snapshot()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ipc, err := b.Listen(fmt.Sprintf("ipc://@/zccp-test-%d-%d", time.Now().UnixNano(), ipcSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		// Every goroutine the broker and its clients started must be gone.
		testutil.CheckLeaks(t, leaks)
	})
	return b, []string{tcp, ipc}
}

// rawClient speaks ZCCP/1 frame by frame over a real ZMTP connection, as an
// original client would; it lets tests check exactly what is on the wire.
type rawClient struct {
	t    *testing.T
	conn *zmtp.Conn
	in   chan *codec.Message
}

func dialRaw(t *testing.T, endpoint string) *rawClient {
	t.Helper()
	return dialRawOpts(t, endpoint, zmtp.Options{Type: zmtp.TypeDealer})
}

// dialRawOpts is dialRaw with the ZMTP options (e.g. a CURVE mechanism).
func dialRawOpts(t *testing.T, endpoint string, opts zmtp.Options) *rawClient {
	t.Helper()
	nc, err := zmtp.Dial(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := zmtp.Handshake(nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{t: t, conn: c, in: make(chan *codec.Message, 4096)}
	go func() {
		defer close(rc.in)
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				return
			}
			m, err := codec.Decode(frames)
			if err != nil {
				t.Errorf("broker sent an undecodable message: %v", err)
				return
			}
			rc.in <- m
		}
	}()
	t.Cleanup(func() { c.Close() })
	return rc
}

func (c *rawClient) send(m codec.Message) {
	c.t.Helper()
	frames, err := m.Frames()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.Send(frames...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) sendFrames(frames ...[]byte) {
	c.t.Helper()
	if err := c.conn.Send(frames...); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next message, skipping broker PINGs.
func (c *rawClient) recv() *codec.Message {
	c.t.Helper()
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.t.Fatal("connection closed while waiting for a message")
			}
			if m.ID == codec.Ping {
				continue
			}
			return m
		case <-time.After(5 * time.Second):
			c.t.Fatal("timed out waiting for a message")
			return nil
		}
	}
}

// expect receives the next message and checks its command.
func (c *rawClient) expect(id codec.ID) *codec.Message {
	c.t.Helper()
	m := c.recv()
	if m.ID != id {
		c.t.Fatalf("got %s %+v, want %s", m.ID, m, id)
	}
	return m
}

// expectNotice receives a broker notice with the given error code.
func (c *rawClient) expectNotice(code string) *codec.Message {
	c.t.Helper()
	m := c.expect(codec.Deliver)
	if m.Sender != codec.NoticeSender || m.Address != codec.AddrError || m.Headers[codec.HdrError] != code {
		c.t.Fatalf("got %+v, want notice %q", m, code)
	}
	if m.Headers[codec.HdrReason] == "" {
		c.t.Fatalf("notice %q without a reason", code)
	}
	return m
}

// quiet checks that nothing but PINGs arrives for d.
func (c *rawClient) quiet(d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-c.in:
			if ok && m.ID == codec.Ping {
				continue
			}
			if ok {
				c.t.Fatalf("unexpected %s %+v", m.ID, m)
			}
			return
		case <-deadline:
			return
		}
	}
}

func (c *rawClient) hello(ident string) *codec.Message {
	c.t.Helper()
	c.send(codec.Message{ID: codec.Hello, Identifier: ident})
	return c.expect(codec.HelloOK)
}

func (c *rawClient) subscribe(expr string) {
	c.t.Helper()
	c.send(codec.Message{ID: codec.Subscribe, Expression: expr})
	c.expect(codec.SubscribeOK)
}

func (c *rawClient) publish(address string, content ...string) {
	c.t.Helper()
	m := codec.Message{ID: codec.Publish, Address: address}
	for _, s := range content {
		m.Content = append(m.Content, []byte(s))
	}
	c.send(m)
}

func contentString(m *codec.Message) string {
	parts := make([]string, len(m.Content))
	for i, c := range m.Content {
		parts[i] = string(c)
	}
	return strings.Join(parts, "|")
}

var _ = bytes.Equal
