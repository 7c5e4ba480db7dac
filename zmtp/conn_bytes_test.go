package zmtp

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// countedConn counts what a raw peer writes and reads on its socket.
type countedConn struct {
	net.Conn
	in, out *atomic.Uint64
}

func (c countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(uint64(n))
	return n, err
}

func (c countedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(uint64(n))
	return n, err
}

// BytesReceived and BytesSent equal, to the byte, what a hand-framed ZMTP
// peer on a plain net.Conn wrote and read: greeting, READY and messages.
func TestConnCountsBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   *Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			accepted <- result{nil, err}
			return
		}
		c, err := Handshake(nc, Options{Type: TypeRouter, accepted: true})
		accepted <- result{c, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var in, out atomic.Uint64
	p, err := rawpeer.New(ctx, countedConn{nc, &in, &out})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r := <-accepted
	if r.err != nil {
		t.Fatal(r.err)
	}
	c := r.c
	defer c.Close()
	if err := p.Send([]byte("hello"), bytes.Repeat([]byte("x"), 300)); err != nil {
		t.Fatal(err)
	}
	if frames, err := c.ReadMessage(); err != nil || len(frames) != 2 || string(frames[0]) != "hello" {
		t.Fatalf("server read %q, %v", frames, err)
	}
	if err := c.Send([]byte("reply"), bytes.Repeat([]byte("y"), 1000)); err != nil {
		t.Fatal(err)
	}
	if frames, err := p.ReadMessage(); err != nil || len(frames) != 2 || string(frames[0]) != "reply" {
		t.Fatalf("peer read %q, %v", frames, err)
	}
	// The writer counts after its write returns, so the peer may have read
	// the reply a moment before: poll, bounded.
	testutil.Eventually(t, "the writer counted the reply", func() bool { return c.BytesSent() >= in.Load() })
	if got, want := c.BytesReceived(), out.Load(); got != want {
		t.Errorf("BytesReceived %d, the peer wrote %d", got, want)
	}
	if got, want := c.BytesSent(), in.Load(); got != want {
		t.Errorf("BytesSent %d, the peer read %d", got, want)
	}
	if out.Load() < 64+300 || in.Load() < 64+1000 {
		t.Errorf("implausible totals: peer wrote %d, read %d", out.Load(), in.Load())
	}
}
