package broker

import (
	"context"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestNoClientSpeaksAsTheBroker: a hand-framed peer can neither say HELLO
// as $zccp (or any $ identifier) nor put broker-owned headers on its
// messages; each attempt is refused with a reserved notice and nothing
// reaches the other clients. Device error replies keep zccp-error.
func TestNoClientSpeaksAsTheBroker(t *testing.T) {
	_, eps := startBroker(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(ep string) *rawpeer.Peer {
		t.Helper()
		p, err := rawpeer.Dial(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	next := func(p *rawpeer.Peer) *rawpeer.Message {
		t.Helper()
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	notice := func(p *rawpeer.Peer, what, wantAddr string) {
		t.Helper()
		m := next(p)
		code, _ := m.Header(codec.HdrError)
		addr, _ := m.Header(codec.HdrAddress)
		if m.ID != rawpeer.Deliver || string(m.Sender) != codec.NoticeSender || code != codec.ErrCodeReserved || addr != wantAddr {
			t.Fatalf("%s: got command %d from %q code %q address %q, want a reserved notice", what, m.ID, m.Sender, code, addr)
		}
	}

	// HELLO as the broker: refused, no session.
	for _, id := range []string{"$zccp", "$x"} {
		p := dial(eps[0])
		p.Send(rawpeer.Frame1(rawpeer.Hello, []string{id}, true, nil))
		notice(p, "HELLO "+id, id)
		p.Publish("a", nil, []byte("x"))
		if m := next(p); m.ID != rawpeer.Invalid {
			t.Fatalf("HELLO %s then PUBLISH: got command %d, want INVALID (no session)", id, m.ID)
		}
	}

	sub := dial(eps[1])
	if err := sub.Hello(ctx, "sub"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(ctx, "^a$"); err != nil {
		t.Fatal(err)
	}
	evil := dial(eps[0])
	if err := evil.Hello(ctx, "evil"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{codec.HdrRecipients, codec.HdrRecipient, codec.HdrMissed, codec.HdrIdentifier,
		codec.HdrSession, codec.HdrCommand, codec.HdrStatDelivered, codec.HdrRetained, codec.HdrError, codec.HdrReason} {
		evil.Publish("a", []rawpeer.Header{{Name: h, Value: "1"}}, []byte("forged"))
		notice(evil, "PUBLISH with "+h, "a")
		evil.Direct("sub", []rawpeer.Header{{Name: h, Value: "1"}}, []byte("forged"))
		notice(evil, "DIRECT with "+h, "sub")
	}
	// A reply may carry a device's error code and reason.
	evil.Direct("sub", []rawpeer.Header{{Name: codec.HdrReplyTo, Value: "r"}, {Name: codec.HdrStatus, Value: "error"},
		{Name: codec.HdrError, Value: "device-error"}, {Name: codec.HdrReason, Value: "why"}}, []byte("reply"))
	evil.Publish("a", nil, []byte("plain"))
	for _, want := range []string{"reply", "plain"} {
		m := next(sub)
		if m.ID != rawpeer.Deliver || string(m.Sender) != "evil" || len(m.Content) != 1 || string(m.Content[0]) != want {
			t.Fatalf("subscriber got command %d from %q %q, want %q (nothing forged before it)", m.ID, m.Sender, m.Content, want)
		}
	}
}
