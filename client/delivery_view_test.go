package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestEachHandlerHasItsOwnDelivery: two subscriptions of one client match
// a message published by a hand-framed peer; the first handler edits its
// Headers and Content, the second (which runs after it) still sees what
// was sent. Under -race a shared map would also be reported.
func TestEachHandlerHasItsOwnDelivery(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := connect(t, eps[0], client.WithIdentifier("two-subs"))
	edited := make(chan struct{})
	seen := make(chan [2]string, 1)
	if _, err := c.Subscribe(ctx, "^power", func(d *client.Delivery) {
		d.Headers["unit"] = "edited"
		delete(d.Headers, "rack")
		d.Content[0] = []byte("edited")
		close(edited)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "rack1$", func(d *client.Delivery) {
		<-edited
		seen <- [2]string{d.Headers["unit"] + "/" + d.Headers["rack"], string(d.Body())}
	}); err != nil {
		t.Fatal(err)
	}
	p, err := rawpeer.Dial(ctx, eps[1])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Hello(ctx, "pub"); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish("power.rack1", []rawpeer.Header{{Name: "unit", Value: "W"}, {Name: "rack", Value: "1"}}, []byte("42")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-seen:
		if got != [2]string{"W/1", "42"} {
			t.Fatalf("second handler saw %q, want the message as sent", got)
		}
	case <-ctx.Done():
		t.Fatal("no delivery")
	}
}
