package interop

import (
	"io"
	"log/slog"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
)

// zccpBroker starts a broker on abstract ipc and tcp loopback and returns
// both endpoints; it is closed when the test ends.
func zccpBroker(t *testing.T, cfg broker.Config) (*broker.Broker, []string) {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var eps []string
	for _, ep := range []string{abstractEndpoint(), "tcp://127.0.0.1:0"} {
		bound, err := b.Listen(ep)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, bound)
	}
	return b, eps
}

// zccpPeer is a ZCCP client made of nothing but a libzmq DEALER and the
// wire format: what the original C client (or any ZeroMQ binding) sends.
type zccpPeer struct {
	t *testing.T
	s *zmq.Socket
}

func newZccpPeer(t *testing.T, zctx *zmq.Context, endpoint string) *zccpPeer {
	s := newZSocket(t, zctx, zmq.DEALER)
	if err := s.Connect(endpoint); err != nil {
		t.Fatal(err)
	}
	return &zccpPeer{t: t, s: s}
}

func (p *zccpPeer) send(m codec.Message) {
	p.t.Helper()
	frames, err := m.Frames()
	if err != nil {
		p.t.Fatal(err)
	}
	zsend(p.t, p.s, frames...)
}

// recv returns the next command, answering the broker's PINGs on the way
// as a ZCCP client must.
func (p *zccpPeer) recv() *codec.Message {
	p.t.Helper()
	for {
		m, err := codec.Decode(zrecv(p.t, p.s))
		if err != nil {
			p.t.Fatalf("the broker sent an undecodable message: %v", err)
		}
		if m.ID == codec.Ping {
			p.send(codec.Message{ID: codec.PingOK})
			continue
		}
		return m
	}
}

func (p *zccpPeer) expect(id codec.ID) *codec.Message {
	p.t.Helper()
	m := p.recv()
	if m.ID != id {
		p.t.Fatalf("got %s %+v, want %s", m.ID, m, id)
	}
	return m
}

// TestLibzmqClientSpeaksZCCP replays the original implementation's
// self-test with clients that are plain libzmq DEALERs, over abstract ipc
// (the original daemon's transport) and tcp, then checks DIRECT and that
// a libzmq client and the Go client see each other's messages.
func TestLibzmqClientSpeaksZCCP(t *testing.T) {
	_, eps := zccpBroker(t, broker.Config{})
	for _, ep := range eps {
		t.Run(ep[:3], func(t *testing.T) {
			zctx := newZContext(t)
			c := newZccpPeer(t, zctx, ep)
			c.send(codec.Message{ID: codec.Publish, Address: "x"})
			c.expect(codec.Invalid)
			c.send(codec.Message{ID: codec.Hello, Identifier: "step 1"})
			c.expect(codec.HelloOK)
			c.send(codec.Message{ID: codec.Hello, Identifier: "step 1"})
			c.expect(codec.Invalid)
			c.send(codec.Message{ID: codec.Hello, Identifier: "step 1"})
			c.expect(codec.HelloOK)

			a := newZccpPeer(t, zctx, ep)
			a.send(codec.Message{ID: codec.Hello, Identifier: "client A"})
			a.expect(codec.HelloOK)
			for _, e := range []string{"H.*O", "H.*O", "HELLO"} {
				a.send(codec.Message{ID: codec.Subscribe, Expression: e})
				a.expect(codec.SubscribeOK)
			}
			d := newZccpPeer(t, zctx, ep)
			d.send(codec.Message{ID: codec.Hello, Identifier: "device B"})
			d.expect(codec.HelloOK)
			d.send(codec.Message{ID: codec.Publish, Address: "(HELLO, WORLD)", Headers: codec.Headers{"k": "v"},
				Content: [][]byte{[]byte("TEST")}})
			m := a.expect(codec.Deliver)
			if m.Sender != "device B" || m.Address != "(HELLO, WORLD)" || len(m.Content) != 1 ||
				string(m.Content[0]) != "TEST" || m.Headers["k"] != "v" {
				t.Fatalf("got %+v", m)
			}
			zrecvNone(t, a.s, 100*time.Millisecond) // exactly one copy

			// DIRECT reaches the named client; an unknown one is reported.
			d.send(codec.Message{ID: codec.Direct, Address: "client A", Content: [][]byte{[]byte("hi")}})
			if m := a.expect(codec.Deliver); m.Sender != "device B" || m.Address != "client A" {
				t.Fatalf("direct: %+v", m)
			}
			d.send(codec.Message{ID: codec.Direct, Address: "nobody"})
			if n := d.expect(codec.Deliver); n.Sender != codec.NoticeSender || n.Headers[codec.HdrError] != codec.ErrCodeNoSuchClient {
				t.Fatalf("notice: %+v", n)
			}

			// The Go client publishes to the libzmq client.
			g, err := client.Connect(t.Context(), ep, client.WithIdentifier("go-client"))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			g.Publish("HELLO from Go", nil, []byte("x"))
			if m := a.expect(codec.Deliver); m.Sender != "go-client" || m.Address != "HELLO from Go" {
				t.Fatalf("from Go: %+v", m)
			}
			a.send(codec.Message{ID: codec.Goodbye})
			a.expect(codec.GoodbyeOK)
		})
	}
}

// TestLibzmqClientKeptAliveByPing: a libzmq client that only subscribes
// (sends nothing else) and answers PING stays subscribed well past the
// expiry timeout — the original broker dropped such a subscriber after
// 60 s of silence.
func TestLibzmqClientKeptAliveByPing(t *testing.T) {
	b, eps := zccpBroker(t, broker.Config{PingInterval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond})
	zctx := newZContext(t)
	sub := newZccpPeer(t, zctx, eps[0])
	sub.send(codec.Message{ID: codec.Hello, Identifier: "quiet"})
	sub.expect(codec.HelloOK)
	sub.send(codec.Message{ID: codec.Subscribe, Expression: "late"})
	sub.expect(codec.SubscribeOK)
	// Answer PINGs for three timeouts.
	end := time.Now().Add(900 * time.Millisecond)
	for time.Now().Before(end) {
		if err := sub.s.SetRcvtimeo(20 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if msg, err := sub.s.RecvMessageBytes(0); err == nil {
			if m, _ := codec.Decode(msg); m != nil && m.ID == codec.Ping {
				sub.send(codec.Message{ID: codec.PingOK})
			}
		}
	}
	sub.s.SetRcvtimeo(waitTimeout)
	if s := b.Stats(); s.Sessions != 1 || s.Expired != 0 {
		t.Fatalf("stats %+v", s)
	}
	pub := newZccpPeer(t, zctx, eps[1])
	pub.send(codec.Message{ID: codec.Hello, Identifier: "pub"})
	pub.expect(codec.HelloOK)
	pub.send(codec.Message{ID: codec.Publish, Address: "late", Content: [][]byte{[]byte("still here")}})
	if m := sub.expect(codec.Deliver); string(m.Content[0]) != "still here" {
		t.Fatalf("got %+v", m)
	}
}
