package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/zmtp"
)

// curveEndpoint adds a CURVE tcp endpoint to the test broker and returns
// it with the broker's key pair.
func curveEndpoint(t *testing.T, b *brokertest.Broker) (string, zmtp.CurveKeyPair) {
	t.Helper()
	kp, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(kp)))
	return zmtp.EndpointOf(ln), kp
}

func newKeyPair(t *testing.T) zmtp.CurveKeyPair {
	t.Helper()
	kp, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// WithCurve: a publisher and a subscriber over CURVE; the same broker's
// NULL endpoint still serves a NULL client that sees the same traffic.
func TestWithCurve(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	ep, server := curveEndpoint(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := client.Connect(ctx, ep, client.WithIdentifier("curve-sub"), client.WithCurve(newKeyPair(t), server.Public))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan string, 4)
	if _, err := sub.Subscribe(ctx, "rack.*", func(d *client.Delivery) { got <- d.Sender + ":" + string(d.Content[0]) }); err != nil {
		t.Fatal(err)
	}
	pub, err := client.Connect(ctx, ep, client.WithIdentifier("curve-pub"), client.WithCurve(newKeyPair(t), server.Public))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	plain, err := client.Connect(ctx, b.TCP, client.WithIdentifier("null-pub"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pub.Publish("rack.12", nil, []byte("off"))
	plain.Publish("rack.13", nil, []byte("on"))
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case g := <-got:
			seen[g] = true
		case <-ctx.Done():
			t.Fatalf("deliveries so far %v", seen)
		}
	}
	if !seen["curve-pub:off"] || !seen["null-pub:on"] {
		t.Fatalf("deliveries %v", seen)
	}
}

// A wrong server key never connects and says why.
func TestWithCurveWrongServerKey(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	ep, _ := curveEndpoint(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := client.Connect(ctx, ep, client.WithCurve(newKeyPair(t), newKeyPair(t).Public))
	if !errors.Is(err, zmtp.ErrCurve) {
		t.Fatalf("err = %v, want ErrCurve", err)
	}
}

func TestWithCurveBadKeys(t *testing.T) {
	for i, opt := range []client.Option{
		client.WithCurve(zmtp.CurveKeyPair{}, newKeyPair(t).Public),
		client.WithCurve(newKeyPair(t), zmtp.CurveKey{}),
	} {
		_, err := client.Connect(context.Background(), "tcp://127.0.0.1:1", opt)
		if !errors.Is(err, client.ErrBadOption) {
			t.Errorf("case %d: err = %v, want ErrBadOption", i, fmt.Sprint(err))
		}
	}
}

// A key the broker holds as pending: Connect fails with the broker's
// not-authorized notice as the reason.
func TestWithCurvePendingKeySaysWhy(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	if err := b.EnableEnrolment(nil, false, nil); err != nil {
		t.Fatal(err)
	}
	server := newKeyPair(t)
	m := zmtp.NewCurveServer(server)
	m.Authorize = b.AuthorizeKey
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = client.Connect(ctx, zmtp.EndpointOf(ln), client.WithIdentifier("new"), client.WithCurve(newKeyPair(t), server.Public))
	var n *client.Notice
	if !errors.As(err, &n) || n.Code != "not-authorized" || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("err = %v, want the not-authorized notice", err)
	}
}
