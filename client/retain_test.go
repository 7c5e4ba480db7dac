package client_test

import (
	"context"
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
