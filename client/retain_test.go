package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// A raw ZMTP peer (not this library) publishes retained values; the Go
// client reads them with Last and SubscribeLast.
func TestRetainedFromRawPeer(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := rawpeer.Dial(ctx, b.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Hello(ctx, "raw-pdu"); err != nil {
		t.Fatal(err)
	}
	p.Publish("power.a", []rawpeer.Header{{Name: "zccp-retain", Value: "1"}}, []byte("1"))
	testutil.Eventually(t, "stored", func() bool { return b.RetainStats().Values == 1 })

	c, err := client.Connect(ctx, b.IPC, client.WithIdentifier("go"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.PublishRetained("power.b", map[string]string{"unit": "W"}, []byte("2")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "stored", func() bool { return b.RetainStats().Values == 2 })
	vals, err := c.Last(ctx, `^power\.`)
	if err != nil || len(vals) != 2 || vals[0].Address != "power.a" || vals[0].Sender != "raw-pdu" || vals[1].Headers["unit"] != "W" || string(vals[1].Content[0]) != "2" {
		t.Fatalf("Last: %v %+v", err, vals)
	}
	if vals, err := c.Last(ctx, `^nothing$`); err != nil || len(vals) != 0 {
		t.Fatalf("Last of nothing: %v %v", err, vals)
	}
	if _, err := c.Last(ctx, `rack[1`); err == nil {
		t.Fatal("bad expression accepted")
	}
	got := make(chan *client.Delivery, 10)
	if _, err := c.SubscribeLast(ctx, `^power\.`, func(d *client.Delivery) { got <- d }); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"power.a", "power.b"} {
		d := <-got
		if _, ok := d.Retained(); !ok || d.Address != want {
			t.Fatalf("got %s retained=%v, want %s", d.Address, ok, want)
		}
	}
	p.Publish("power.a", nil, []byte("live"))
	if d := <-got; d.Address != "power.a" || string(d.Body()) != "live" {
		t.Fatalf("live: %s %q", d.Address, d.Body())
	} else if _, ok := d.Retained(); ok {
		t.Fatal("live delivery marked retained")
	}
}

// rawRetain publishes value to address as a retained value from a new
// hand-framed peer on ep, and waits until the broker stored n values.
func rawRetain(t *testing.T, b *broker.Broker, ep, address, value string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Hello(ctx, "raw-pdu"); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(address, []rawpeer.Header{{Name: "zccp-retain", Value: "1"}}, []byte(value)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "stored", func() bool { return b.RetainStats().Values == n })
}

// nextIs reads the next delivery of ch and checks its address, body and
// whether it is a last value.
func nextIs(t *testing.T, ch <-chan *client.Delivery, address, body string, retained bool) {
	t.Helper()
	d := recv(t, ch)
	if _, ok := d.Retained(); d.Address != address || string(d.Body()) != body || ok != retained {
		t.Fatalf("got %s %q retained=%v, want %s %q retained=%v", d.Address, d.Body(), ok, address, body, retained)
	}
}

// TestSubscribeLastHeldAndAfterReconnect: SubscribeLast on an expression
// the client already holds still gets the last values (from a raw peer's
// retained publishes); a plain subscription to the same expression gets
// none of them; after the broker is replaced the client re-subscribes
// asking for the last values again, so the value published while it was
// away arrives (the unchanged-then-gone one is not: the new broker never
// had it).
func TestSubscribeLastHeldAndAfterReconnect(t *testing.T) {
	leaks := testutil.Snapshot()
	ipc := fmt.Sprintf("ipc://@/zccp-client-lastre-%d-%d", time.Now().UnixNano(), rand.Uint64())
	b1, _ := broker.New(broker.Config{Logger: discard})
	tcp, err := b1.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b1.Listen(ipc); err != nil {
		t.Fatal(err)
	}
	rawRetain(t, b1, ipc, "power.a", "1", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, tcp, client.WithIdentifier("dash"), client.WithReconnect(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	plain := make(chan *client.Delivery, 16)
	if _, err := c.SubscribeChan(ctx, `^power\.`, plain); err != nil {
		t.Fatal(err)
	}
	last := make(chan *client.Delivery, 16)
	if _, err := c.SubscribeLast(ctx, `^power\.`, func(d *client.Delivery) { last <- d }); err != nil {
		t.Fatal(err)
	}
	nextIs(t, last, "power.a", "1", true)
	rawRetain(t, b1, ipc, "power.a", "2", 1) // live for both
	nextIs(t, last, "power.a", "2", false)
	nextIs(t, plain, "power.a", "2", false) // the last value went to SubscribeLast only

	b1.Close()
	testutil.Eventually(t, "disconnected", func() bool { return c.State() == client.Reconnecting })
	b2, _ := broker.New(broker.Config{Logger: discard})
	defer b2.Close()
	if _, err := b2.Listen(ipc); err != nil {
		t.Fatal(err)
	}
	rawRetain(t, b2, ipc, "power.b", "3", 1) // while the client is away
	if _, err := b2.Listen(tcp); err != nil {
		t.Fatal(err)
	}
	nextIs(t, last, "power.b", "3", true)
	testutil.Eventually(t, "resubscribed", func() bool { return b2.Stats().Subscriptions == 1 })
	rawRetain(t, b2, ipc, "power.b", "4", 1)
	nextIs(t, last, "power.b", "4", false)
	nextIs(t, plain, "power.b", "4", false)
	c.Close()
	b2.Close()
	testutil.CheckLeaks(t, leaks)
}
