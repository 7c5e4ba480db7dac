package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
)

// exampleBroker starts a broker on a free loopback port for the examples.
func exampleBroker() (*broker.Broker, string) {
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	ep, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return b, ep
}

// A consumer subscribes to every power reading of rack 12; a device
// driver publishes one.
func Example() {
	b, endpoint := exampleBroker()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	app, err := client.Connect(ctx, endpoint, client.WithIdentifier("dashboard"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer app.Close()
	readings := make(chan *client.Delivery, 1)
	if _, err := app.SubscribeChan(ctx, `^power\.rack12\.`, readings); err != nil {
		fmt.Println(err)
		return
	}

	pdu, err := client.Connect(ctx, endpoint, client.WithIdentifier("pdu-12-3"),
		client.WithLabels(map[string]string{"kind": "pdu", "rack": "12"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pdu.Close()
	pdu.Publish("power.rack12.pdu3", map[string]string{"unit": "W"}, []byte("4120"))

	d := <-readings
	fmt.Printf("%s from %s: %s %s\n", d.Address, d.Sender, d.Body(), d.Headers["unit"])
	// Output: power.rack12.pdu3 from pdu-12-3: 4120 W
}

// Send reaches one client by its identifier.
func ExampleClient_Send() {
	b, endpoint := exampleBroker()
	defer b.Close()
	ctx := context.Background()

	got := make(chan *client.Delivery, 1)
	dev, _ := client.Connect(ctx, endpoint, client.WithIdentifier("pdu-7"),
		client.WithDirectHandler(func(d *client.Delivery) { got <- d }))
	defer dev.Close()
	app, _ := client.Connect(ctx, endpoint, client.WithIdentifier("operator"))
	defer app.Close()

	app.Send("pdu-7", nil, []byte("outlet.off 3"))
	d := <-got
	fmt.Printf("%s says: %s\n", d.Sender, d.Body())
	// Output: operator says: outlet.off 3
}

// Subscribe with a handler; cancel it when done.
func ExampleClient_Subscribe() {
	b, endpoint := exampleBroker()
	defer b.Close()
	ctx := context.Background()

	c, _ := client.Connect(ctx, endpoint, client.WithIdentifier("watcher"))
	defer c.Close()
	done := make(chan struct{})
	sub, err := c.Subscribe(ctx, `alarm`, func(d *client.Delivery) {
		fmt.Println("alarm at", d.Address)
		close(done)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := client.Connect(ctx, endpoint, client.WithIdentifier("sensor"))
	defer p.Close()
	p.Publish("rack4.alarm.overtemp", nil)
	<-done
	sub.Cancel(ctx)
	// Output: alarm at rack4.alarm.overtemp
}
