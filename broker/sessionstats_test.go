package broker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestSessionCountsItsOwnDeliveries: zccp-delivered in GOODBYE-OK and
// the clients record count the DELIVERs of this session only — not
// HELLO-OK, SUBSCRIBE-OK, PING-OK or an earlier session on the same
// connection. Driven by hand-framed peers.
func TestSessionCountsItsOwnDeliveries(t *testing.T) {
	b, eps := startBroker(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(ep, id string) *rawpeer.Peer {
		t.Helper()
		p, err := rawpeer.Dial(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := p.Hello(ctx, id); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sub := dial(eps[0], "sub")
	for _, e := range []string{"^a$", "^b$", "x"} {
		if err := sub.Subscribe(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	pub := dial(eps[1], "pub")
	for i := 0; i < 5; i++ {
		pub.Publish("a", nil, []byte(strconv.Itoa(i)))
	}
	pub.Direct("sub", nil, []byte("d"))
	pub.Publish("nobody", nil, []byte("z"))    // matches nothing
	sub.Publish("$reserved", nil, []byte("r")) // a notice: a DELIVER too
	got := 0
	for got < 7 {
		m, err := sub.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == rawpeer.Deliver {
			got++
		}
	}
	// A client PING: PING-OK is not a DELIVER.
	sub.Send(rawpeer.Frame1(rawpeer.Ping, nil, false, nil))
	for {
		m, err := sub.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == rawpeer.PingOK {
			break
		}
	}
	delivered := func(id string) uint64 {
		for _, c := range b.Clients("") {
			if c.Identifier == id {
				return c.Delivered
			}
		}
		t.Fatalf("no client %q", id)
		return 0
	}
	if n := delivered("sub"); n != 7 {
		t.Fatalf("clients record: delivered %d, want 7", n)
	}
	goodbye := func() string {
		t.Helper()
		if err := sub.Send(rawpeer.Frame1(rawpeer.Goodbye, nil, false, nil)); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := sub.NextContext(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.ID == rawpeer.GoodbyeOK {
				v, _ := m.Header(codec.HdrStatDelivered)
				return v
			}
		}
	}
	if v := goodbye(); v != "7" {
		t.Fatalf("GOODBYE-OK zccp-delivered %q, want 7", v)
	}
	// A new session on the same connection starts from zero.
	if err := sub.Hello(ctx, "sub"); err != nil {
		t.Fatal(err)
	}
	if n := delivered("sub"); n != 0 {
		t.Fatalf("second session: clients delivered %d, want 0", n)
	}
	if v := goodbye(); v != "0" {
		t.Fatalf("second session: GOODBYE-OK zccp-delivered %q, want 0", v)
	}
}
