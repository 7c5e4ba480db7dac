package client_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestForgedReplyIgnored (issue 11 item 11): a third client that learns a
// request id cannot answer in the device's place — Request takes replies
// only from the addressed device (or the broker for it). Device and
// forger are hand-framed peers.
func TestForgedReplyIgnored(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev := rawDial(t, eps[0], "dev")
	evil := rawDial(t, eps[1], "evil")
	app := connect(t, eps[0], client.WithIdentifier("app"))
	type result struct {
		r   *client.Reply
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := app.Request(ctx, "dev", "status")
		done <- result{r, err}
	}()
	h, _ := rawDeliver(t, dev, codec.HdrRequestID)
	id := h[codec.HdrRequestID]
	if b, err := hex.DecodeString(id); err != nil || len(b) != 16 {
		t.Fatalf("request id %q: want 128 random bits in hex", id)
	}
	ok := []rawpeer.Header{{Name: codec.HdrReplyTo, Value: id}, {Name: codec.HdrStatus, Value: codec.StatusOK}}
	if err := evil.Direct("app", ok, []byte("forged")); err != nil {
		t.Fatal(err)
	}
	// The forged reply is in app's queue before the real one: sent
	// through the same broker, after a round trip that proves it arrived.
	if err := evil.Direct("evil", nil, []byte("sync")); err != nil {
		t.Fatal(err)
	}
	rawDeliver(t, evil)
	if err := dev.Direct("app", ok, []byte("real")); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil || string(res.r.Body()) != "real" || res.r.From != "dev" {
		t.Fatalf("Request = %+v, %v; want the device's reply \"real\"", res.r, res.err)
	}
}

// TestRequestIDsUnpredictable: ids share no prefix or counter.
func TestRequestIDsUnpredictable(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	dev := rawDial(t, eps[0], "dev")
	app := connect(t, eps[0], client.WithIdentifier("app"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[string]bool{}
	prefixes := map[string]bool{}
	for i := 0; i < 50; i++ {
		go app.Request(ctx, "dev", "m")
		h, _ := rawDeliver(t, dev, codec.HdrRequestID)
		id := h[codec.HdrRequestID]
		if seen[id] || prefixes[id[:8]] {
			t.Fatalf("request id %q repeats an id or a 32-bit prefix of an earlier one", id)
		}
		seen[id], prefixes[id[:8]] = true, true
	}
}
