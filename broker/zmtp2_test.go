package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// zmtp2Client is an original-style ZCCP client over a hand-built ZMTP 2.0
// connection (what JeroMQ 0.3 speaks): RFC 15 greeting, frames with only
// MORE and LONG flags, no commands.
type zmtp2Client struct {
	t  *testing.T
	nc net.Conn
}

func dialZMTP2(t *testing.T, endpoint, identity string) *zmtp2Client {
	t.Helper()
	nc, err := zmtp.Dial(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &zmtp2Client{t: t, nc: nc}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	c.write([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F})
	c.read(10)
	c.write([]byte{0x01})
	if b := c.read(1); b[0] != zmtp.VersionMajor {
		t.Fatalf("broker's version octet %d", b[0])
	}
	c.write([]byte{0x05}) // DEALER
	if b := c.read(1); b[0] != 0x06 {
		t.Fatalf("broker's socket type %d, want ROUTER (6)", b[0])
	}
	c.write(append([]byte{0, byte(len(identity))}, identity...))
	if b := c.read(2); !bytes.Equal(b, []byte{0, 0}) {
		t.Fatalf("broker's identity frame % x", b)
	}
	nc.SetDeadline(time.Time{})
	return c
}

func (c *zmtp2Client) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *zmtp2Client) read(n int) []byte {
	c.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c.nc, b); err != nil {
		c.t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func (c *zmtp2Client) send(m codec.Message) {
	c.t.Helper()
	frames, err := m.Frames()
	if err != nil {
		c.t.Fatal(err)
	}
	c.write(zmtp.AppendMessage(nil, frames))
}

// next reads one message; a frame flag outside 2.0's MORE and LONG fails
// the test.
func (c *zmtp2Client) next(timeout time.Duration) *codec.Message {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	var frames [][]byte
	for {
		hdr := c.read(2)
		if hdr[0]&^(zmtp.FlagMore|zmtp.FlagLong) != 0 {
			c.t.Fatalf("frame flags 0x%02x on a ZMTP 2.0 connection", hdr[0])
		}
		size := uint64(hdr[1])
		if hdr[0]&zmtp.FlagLong != 0 {
			size = binary.BigEndian.Uint64(append(hdr[1:], c.read(7)...))
		}
		frames = append(frames, c.read(int(size)))
		if hdr[0]&zmtp.FlagMore == 0 {
			break
		}
	}
	m, err := codec.Decode(frames)
	if err != nil {
		c.t.Fatalf("undecodable message: %v", err)
	}
	return m
}

// expect returns the next message that is not a PING (answering PINGs).
func (c *zmtp2Client) expect(id codec.ID) *codec.Message {
	c.t.Helper()
	for {
		m := c.next(5 * time.Second)
		if m.ID == codec.Ping {
			c.send(codec.Message{ID: codec.PingOK})
			continue
		}
		if m.ID != id {
			c.t.Fatalf("got %s %+v, want %s", m.ID, m, id)
		}
		return m
	}
}

// TestZMTP2ClientSessionDeliveryAndLiveness: a ZMTP 2.0 peer gets a
// session, a delivery with headers and several frames, and stays alive
// past the broker's timeout by answering the broker's ZCCP PINGs (there
// are no ZMTP heartbeats in 2.0).
func TestZMTP2ClientSessionDeliveryAndLiveness(t *testing.T) {
	// PINGs every 100 ms; the timeout leaves room for a loaded machine
	// (400 ms timed out once under the full -race suite).
	const timeout = 750 * time.Millisecond
	b, eps := startBroker(t, Config{PingInterval: 100 * time.Millisecond, Timeout: timeout})
	for i, ep := range eps {
		old := dialZMTP2(t, ep, "")
		old.send(codec.Message{ID: codec.Hello, Identifier: "old-" + string(rune('a'+i))})
		old.expect(codec.HelloOK)
		old.send(codec.Message{ID: codec.Subscribe, Expression: "^news"})
		old.expect(codec.SubscribeOK)

		pub := dialRaw(t, ep)
		pub.hello("pub-" + string(rune('a'+i)))
		pub.send(codec.Message{ID: codec.Publish, Address: "news.1", Headers: codec.Headers{"k": "v"},
			Content: [][]byte{[]byte("one"), bytes.Repeat([]byte("2"), 300)}})
		m := old.expect(codec.Deliver)
		if m.Address != "news.1" || m.Headers["k"] != "v" || len(m.Content) != 2 ||
			string(m.Content[0]) != "one" || len(m.Content[1]) != 300 {
			t.Fatalf("delivery %+v", m)
		}
		pub.conn.Close() // it answers no PINGs; a fresh one publishes later
		// Idle (but answering PINGs) for three timeouts.
		pings := 0
		until := time.Now().Add(3 * timeout)
		for time.Now().Before(until) {
			m := old.next(2 * timeout)
			if m.ID != codec.Ping {
				t.Fatalf("unexpected %s while idle", m.ID)
			}
			pings++
			old.send(codec.Message{ID: codec.PingOK})
		}
		if pings < 3 {
			t.Fatalf("%d PINGs in %v", pings, 3*timeout)
		}
		pub = dialRaw(t, ep)
		pub.hello("pub2-" + string(rune('a'+i)))
		pub.publish("news.2", "still here")
		if m := old.expect(codec.Deliver); string(m.Content[0]) != "still here" {
			t.Fatalf("delivery after idling %+v", m)
		}
		pub.conn.Close()
		old.nc.Close()
	}
	if s := b.Stats(); s.Expired != 0 {
		t.Fatalf("%d sessions expired", s.Expired)
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestRefusedPeerLoggedOnce: a peer that speaks no ZMTP version we accept,
// reconnecting in a loop, produces one clear log line, not one per attempt.
func TestRefusedPeerLoggedOnce(t *testing.T) {
	var logs syncBuffer
	_, eps := startBroker(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := 0; i < 20; i++ {
		nc, err := zmtp.Dial(context.Background(), eps[i%2])
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("broker did not close attempt %d: %v", i, err)
		}
		nc.Close()
	}
	testutil.Eventually(t, "the refusal is logged", func() bool { return strings.Contains(logs.String(), "speaks neither") })
	if n := strings.Count(logs.String(), "speaks neither"); n != 1 {
		t.Fatalf("%d refusal lines for 20 attempts:\n%s", n, logs.String())
	}
}

// TestRefusalLogSummarises: refusals within the interval are counted and
// reported with the next line of their kind; kinds are limited separately.
func TestRefusalLogSummarises(t *testing.T) {
	var logs syncBuffer
	r := &refusalLog{log: slog.New(slog.NewTextHandler(&logs, nil)), every: time.Hour}
	bad := errors.Join(zmtp.ErrProtocol, zmtp.ErrUnsupportedVersion)
	for i := 0; i < 6; i++ {
		r.note(nil, bad)
	}
	r.note(nil, zmtp.ErrIncompatible)
	r.mu.Lock()
	r.slots[refusedVersion].last = time.Now().Add(-2 * time.Hour)
	r.mu.Unlock()
	r.note(nil, bad)
	out := logs.String()
	if n := strings.Count(out, "speaks neither"); n != 2 {
		t.Fatalf("%d version lines:\n%s", n, out)
	}
	if !strings.Contains(out, "similar_since_last_line=5") {
		t.Fatalf("no summary of the 5 suppressed refusals:\n%s", out)
	}
	if n := strings.Count(out, "refused: incompatible peer"); n != 1 {
		t.Fatalf("%d incompatible lines:\n%s", n, out)
	}
}
