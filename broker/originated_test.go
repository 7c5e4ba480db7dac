package broker

import (
	"strings"
	"testing"

	"github.com/zccp-go/zccp/codec"
)

// originalDeliver receives the next message, which must be a DELIVER, and
// fails like the original client would (CZMQ's zccp_msg asserts on a
// DELIVER without content) when it has no content frame.
func (c *rawClient) originalDeliver() *codec.Message {
	c.t.Helper()
	m := c.expect(codec.Deliver)
	if len(m.Content) == 0 {
		c.t.Fatalf("DELIVER from %q to %q without a content frame (an original client aborts): %+v", m.Sender, m.Address, m.Headers)
	}
	return m
}

// TestBrokerDeliversCarryContent triggers every kind of DELIVER the broker
// originates — notices, request error replies, receipts, broker API
// replies, presence events, takeover — and checks each has at least one
// content frame, as an original client requires.
func TestBrokerDeliversCarryContent(t *testing.T) {
	_, eps := startBroker(t, Config{})
	o := dialRaw(t, eps[1])
	o.hello("orig")
	o.subscribe(`^\$zccp\.presence\.`)

	check := func(what, addr, header, want string) *codec.Message {
		t.Helper()
		m := o.originalDeliver()
		if m.Sender != codec.NoticeSender || m.Address != addr || m.Headers[header] != want {
			t.Fatalf("%s: got %q→%q %v, want %s with %s=%q", what, m.Sender, m.Address, m.Headers, addr, header, want)
		}
		return m
	}

	// A notice: its content is the reason.
	o.publish("$reserved", "x")
	n := check("reserved notice", codec.AddrError, codec.HdrError, codec.ErrCodeReserved)
	if string(n.Content[0]) != n.Headers[codec.HdrReason] {
		t.Fatalf("notice content %q, want the reason %q", n.Content[0], n.Headers[codec.HdrReason])
	}
	o.send(codec.Message{ID: codec.Direct, Address: "nobody"})
	check("no-such-client notice", codec.AddrError, codec.HdrError, codec.ErrCodeNoSuchClient)

	// Request error replies made by the broker.
	o.send(codec.Message{ID: codec.Direct, Address: "nobody",
		Headers: codec.Headers{codec.HdrRequestID: "r1", codec.HdrMethod: "m"}})
	check("request error reply", codec.AddrError, codec.HdrReplyTo, "r1")
	o.send(codec.Message{ID: codec.Direct, Address: codec.NoticeSender,
		Headers: codec.Headers{codec.HdrRequestID: "r2", codec.HdrMethod: "nope"}})
	check("broker API no-such-method", codec.AddrError, codec.HdrError, codec.ErrCodeNoSuchMethod)

	// A broker API reply that lists nobody.
	o.send(codec.Message{ID: codec.Direct, Address: codec.NoticeSender,
		Headers: codec.Headers{codec.HdrRequestID: "r3", codec.HdrMethod: codec.MethodClients, codec.HdrSelect: "kind=none"}})
	m := check("empty clients reply", "orig", codec.HdrReplyTo, "r3")
	if len(m.Content) != 1 || len(m.Content[0]) != 0 {
		t.Fatalf("empty clients reply content %q, want one empty frame", m.Content)
	}

	// A receipt that names nobody.
	o.send(codec.Message{ID: codec.Publish, Address: "no.devices.here",
		Headers: codec.Headers{codec.HdrRequestID: "r4", codec.HdrMethod: "m"}})
	m = check("empty receipt", codec.AddrReceipt, codec.HdrRecipients, "0")
	if len(m.Content) != 1 || len(m.Content[0]) != 0 {
		t.Fatalf("empty receipt content %q, want one empty frame", m.Content)
	}

	// Presence: another session joins and leaves.
	x := dialRaw(t, eps[0])
	x.hello("other")
	m = check("join event", codec.AddrPresenceJoin, codec.HdrIdentifier, "other")
	if string(m.Content[0]) != "other" {
		t.Fatalf("join event content %q, want the identifier", m.Content[0])
	}
	x.send(codec.Message{ID: codec.Goodbye})
	x.expect(codec.GoodbyeOK)
	check("leave event", codec.AddrPresenceLeave, codec.HdrIdentifier, "other")

	// Takeover: a newer session claims "orig".
	y := dialRaw(t, eps[0])
	y.hello("orig")
	m = check("taken-over notice", codec.AddrError, codec.HdrError, codec.ErrCodeTakenOver)
	if !strings.Contains(string(m.Content[0]), "newer session") {
		t.Fatalf("taken-over content %q, want the reason", m.Content[0])
	}
}
