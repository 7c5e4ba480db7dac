package main

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestDeviceServesFromHello: `zccp device` registers its handlers before
// HELLO, so a request sent the instant its session starts (a hand-framed
// requester that fires on the presence join event) is served, not
// refused with no-such-method; and the device is a declared group member.
func TestDeviceServesFromHello(t *testing.T) {
	ep := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	if err := req.Hello(ctx, "requester"); err != nil {
		t.Fatal(err)
	}
	if err := req.Subscribe(ctx, `^\$zccp\.presence\.join$`); err != nil {
		t.Fatal(err)
	}
	startZccp(t, ep, "device", "--id", "early", "--subscribe", "^grp$", "--", "cat")
	next := func() *rawpeer.Message {
		t.Helper()
		for {
			m, err := req.NextContext(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.ID == rawpeer.Deliver {
				return m
			}
		}
	}
	if m := next(); string(m.Address) != codec.AddrPresenceJoin {
		t.Fatalf("got %q, want the join event", m.Address)
	}
	hdr := func(id string) []rawpeer.Header {
		return []rawpeer.Header{{Name: codec.HdrRequestID, Value: id}, {Name: codec.HdrMethod, Value: "echo"}}
	}
	if err := req.Direct("early", hdr("e1"), []byte("first")); err != nil {
		t.Fatal(err)
	}
	m := next()
	if st, _ := m.Header(codec.HdrStatus); st != codec.StatusOK || len(m.Content) != 1 || string(m.Content[0]) != "first" {
		code, _ := m.Header(codec.HdrError)
		t.Fatalf("first request: status %q %s content %q, want ok \"first\"", st, code, m.Content)
	}
	// A group request reaches it: it declared itself a member at HELLO.
	if err := req.Publish("grp", hdr("g1"), []byte("g")); err != nil {
		t.Fatal(err)
	}
	m = next()
	if n, _ := m.Header(codec.HdrRecipients); string(m.Address) != codec.AddrReceipt || n != "1" || string(m.Content[0]) != "early" {
		t.Fatalf("receipt %q recipients %q content %q", m.Address, n, m.Content)
	}
	if m = next(); string(m.Sender) != "early" || string(m.Content[0]) != "g" {
		t.Fatalf("group reply from %q: %q", m.Sender, m.Content)
	}
}
