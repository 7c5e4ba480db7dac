package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
)

// TestConnectReportsRefusedAtOnce: with nothing listening, a Connect
// without a deadline reports the refused connection to the error handler
// at once and keeps retrying until its ctx ends.
func TestConnectReportsRefusedAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "tcp://" + ln.Addr().String()
	ln.Close() // now refused
	errs := make(chan error, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.Connect(ctx, ep, client.WithReconnect(10*time.Millisecond, 20*time.Millisecond),
			client.WithErrorHandler(func(err error) {
				select {
				case errs <- err:
				default:
				}
			}))
		done <- err
	}()
	select {
	case err := <-errs:
		if !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("reported %v, want ErrUnreachable with the refusal", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error reported while the broker is down")
	}
	select {
	case err := <-done:
		t.Fatalf("Connect gave up by itself: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Connect: %v, want context.Canceled with the last error", err)
	}
}

// TestOptionsRejectedNotRewritten: out-of-range options are an error
// from Connect (ErrBadOption), zero included; Off switches the heartbeat
// off.
func TestOptionsRejectedNotRewritten(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, opt := range map[string]client.Option{
		"reserved identifier": client.WithIdentifier("$zccp"),
		"zero heartbeat":      client.WithHeartbeat(0, 0),
		"silence <= interval": client.WithHeartbeat(time.Second, time.Second),
		"half off":            client.WithHeartbeat(client.Off, time.Second),
		"zero reconnect":      client.WithReconnect(0, time.Second),
		"max < min":           client.WithReconnect(time.Second, time.Millisecond),
		"zero buffer":         client.WithBuffer(0, 1<<20),
		"negative buffer":     client.WithBuffer(10, -1),
		"zero pending":        client.WithPendingLimit(0),
	} {
		if c, err := client.Connect(ctx, eps[0], opt); !errors.Is(err, client.ErrBadOption) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: Connect = %v, want ErrBadOption", name, err)
		}
	}
	c, err := client.Connect(ctx, eps[0], client.WithHeartbeat(client.Off, client.Off))
	if err != nil {
		t.Fatalf("heartbeat Off: %v", err)
	}
	c.Close()
	c, err = client.Connect(ctx, eps[0], client.WithHeartbeat(time.Second, client.Off))
	if err != nil {
		t.Fatalf("silence Off: %v", err)
	}
	c.Close()
}
