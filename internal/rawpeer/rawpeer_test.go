package rawpeer_test

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

func dial(t *testing.T, ctx context.Context, endpoint, id string) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, id); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPeerAgainstBroker: a hand-framed publisher's burst reaches a
// hand-framed subscriber in order, with headers and DIRECT, on tcp and ipc.
func TestPeerAgainstBroker(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	for _, ep := range b.Endpoints() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sub := dial(t, ctx, ep, "sub")
		pub := dial(t, ctx, ep, "pub")
		if err := sub.Subscribe(ctx, "^rack\\."); err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish("rack.1", []rawpeer.Header{{Name: "unit", Value: "C"}}, []byte("21.5")); err != nil {
			t.Fatal(err)
		}
		m, err := sub.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := m.Header("unit"); m.ID != rawpeer.Deliver || string(m.Sender) != "pub" ||
			string(m.Address) != "rack.1" || u != "C" || len(m.Content) != 1 || string(m.Content[0]) != "21.5" {
			t.Fatalf("got id %d sender %q address %q unit %q content %q", m.ID, m.Sender, m.Address, u, m.Content)
		}
		const n = 300
		if _, err := pub.PublishBurst(ctx, "rack.2", 1, n, 300, 16<<10); err != nil {
			t.Fatal(err)
		}
		var tl rawpeer.Tally
		for tl.Last < n {
			m, err := sub.NextContext(ctx)
			if err != nil {
				t.Fatalf("after %d: %v", tl.Received, err)
			}
			if err := tl.Add(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := tl.Check(n); err != nil {
			t.Fatal(err)
		}
		if err := pub.Direct("sub", nil, []byte("cmd")); err != nil {
			t.Fatal(err)
		}
		if m, err = sub.NextContext(ctx); err != nil || m.ID != rawpeer.Deliver || string(m.Content[0]) != "cmd" {
			t.Fatalf("DIRECT: %v %+v", err, m)
		}
		if err := pub.Goodbye(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPeerPing: the broker's PING is answered automatically (the session
// stays up past the timeout) or, with NoAutoPong, returned to the caller.
func TestPeerPing(t *testing.T) {
	b := brokertest.Start(t, broker.Config{PingInterval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet := dial(t, ctx, b.TCP, "quiet")
	quiet.NoAutoPong = true
	m, err := quiet.NextContext(ctx)
	if err != nil || m.ID != rawpeer.Ping {
		t.Fatalf("want PING, got %v %+v", err, m)
	}
	alive := dial(t, ctx, b.TCP, "alive")
	// Reading for more than the timeout while answering PINGs keeps the
	// session: a DIRECT sent afterwards still arrives.
	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = alive.NextContext(rctx)
	rcancel()
	if err == nil {
		t.Fatal("unexpected message")
	}
	sender := dial(t, ctx, b.TCP, "sender")
	if err := sender.Direct("alive", nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m, err := alive.NextContext(ctx); err != nil || m.ID != rawpeer.Deliver {
		t.Fatalf("want DELIVER, got %v %+v", err, m)
	}
}
