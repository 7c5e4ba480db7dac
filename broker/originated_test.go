package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// originalPeer is a hand-framed client (internal/rawpeer) that behaves
// like the original C client: CZMQ's zccp_msg asserts on a DELIVER
// without content frames, so every DELIVER it reads must carry one.
type originalPeer struct {
	t *testing.T
	p *rawpeer.Peer
}

func dialOriginal(t *testing.T, endpoint, ident string, hs ...rawpeer.Header) *originalPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := rawpeer.Dial(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, ident, hs...); err != nil {
		t.Fatal(err)
	}
	return &originalPeer{t: t, p: p}
}

// deliver reads the next command, which must be a DELIVER with content,
// and returns sender, address, the named header and the content frames
// (copied).
func (o *originalPeer) deliver(header string) (sender, address, value string, content []string) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := o.p.NextContext(ctx)
	if err != nil {
		o.t.Fatal(err)
	}
	if m.ID != rawpeer.Deliver {
		o.t.Fatalf("got command %d, want DELIVER", m.ID)
	}
	if len(m.Content) == 0 {
		o.t.Fatalf("DELIVER from %q to %q without a content frame: an original client aborts on it", m.Sender, m.Address)
	}
	value, _ = m.Header(header)
	for _, f := range m.Content {
		content = append(content, string(f))
	}
	return string(m.Sender), string(m.Address), value, content
}

// TestBrokerDeliversCarryContent triggers every kind of DELIVER the broker
// originates — notices, request error replies, receipts, broker API
// replies, presence events, takeover — and checks, with a hand-framed
// peer, that each has at least one content frame.
func TestBrokerDeliversCarryContent(t *testing.T) {
	_, eps := startBroker(t, Config{})
	o := dialOriginal(t, eps[1], "orig")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.p.Subscribe(ctx, `^\$zccp\.presence\.`); err != nil {
		t.Fatal(err)
	}
	check := func(what, addr, header, want string) []string {
		t.Helper()
		sender, address, got, content := o.deliver(header)
		if sender != codec.NoticeSender || address != addr || got != want {
			t.Fatalf("%s: got %q→%q %s=%q, want %s with %q", what, sender, address, header, got, addr, want)
		}
		return content
	}
	req := func(id, method string, more ...rawpeer.Header) []rawpeer.Header {
		return append([]rawpeer.Header{{Name: codec.HdrRequestID, Value: id}, {Name: codec.HdrMethod, Value: method}}, more...)
	}

	// Notices: the content is the reason.
	o.p.Publish("$reserved", nil, []byte("x"))
	c := check("reserved notice", codec.AddrError, codec.HdrError, codec.ErrCodeReserved)
	if !strings.Contains(c[0], "reserved") {
		t.Fatalf("notice content %q, want the reason", c)
	}
	o.p.Direct("nobody", nil)
	check("no-such-client notice", codec.AddrError, codec.HdrError, codec.ErrCodeNoSuchClient)

	// Request error replies made by the broker.
	o.p.Direct("nobody", req("r1", "m"))
	check("request error reply", codec.AddrError, codec.HdrReplyTo, "r1")
	o.p.Direct(codec.NoticeSender, req("r2", "nope"))
	check("broker API no-such-method", codec.AddrError, codec.HdrError, codec.ErrCodeNoSuchMethod)

	// A broker API reply that lists nobody.
	o.p.Direct(codec.NoticeSender, req("r3", codec.MethodClients, rawpeer.Header{Name: codec.HdrSelect, Value: "kind=none"}))
	if c := check("empty clients reply", "orig", codec.HdrReplyTo, "r3"); len(c) != 1 || c[0] != "" {
		t.Fatalf("empty clients reply content %q, want one empty frame", c)
	}

	// A receipt that names nobody.
	o.p.Publish("no.devices.here", req("r4", "m"))
	if c := check("empty receipt", codec.AddrReceipt, codec.HdrRecipients, "0"); len(c) != 1 || c[0] != "" {
		t.Fatalf("empty receipt content %q, want one empty frame", c)
	}

	// Presence: another session joins and leaves.
	x := dialOriginal(t, eps[0], "other")
	if c := check("join event", codec.AddrPresenceJoin, codec.HdrIdentifier, "other"); c[0] != "other" {
		t.Fatalf("join event content %q, want the identifier", c)
	}
	if err := x.p.Goodbye(ctx); err != nil {
		t.Fatal(err)
	}
	check("leave event", codec.AddrPresenceLeave, codec.HdrIdentifier, "other")

	// Takeover: a newer session claims "orig".
	dialOriginal(t, eps[0], "orig")
	if c := check("taken-over notice", codec.AddrError, codec.HdrError, codec.ErrCodeTakenOver); !strings.Contains(c[0], "newer session") {
		t.Fatalf("taken-over content %q, want the reason", c)
	}
}
