package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/zmtp"
)

// With MaxSessionsPerKey 2, a CURVE key holds two sessions and its third
// HELLO gets too-many-clients naming the key's limit; another key is not
// affected, nor are NULL sessions (more than two from the same address);
// a takeover by the key is not refused and leaves the count as it was;
// once one of the key's sessions says GOODBYE, the key gets a session
// again.
func TestSessionsPerCurveKey(t *testing.T) {
	b, eps := startBroker(t, Config{MaxSessionsPerKey: 2})
	srv, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(srv)))
	curveEP := zmtp.EndpointOf(ln)

	a1, keyA := curveRaw(t, curveEP, srv.Public)
	a1.hello("a1")
	a2 := curveRawWith(t, curveEP, srv.Public, keyA)
	a2.hello("a2")
	a3 := curveRawWith(t, curveEP, srv.Public, keyA)
	a3.send(codec.Message{ID: codec.Hello, Identifier: "a3"})
	if m := a3.expectNotice(codec.ErrCodeTooManyClients); !strings.Contains(m.Headers[codec.HdrReason], "2 sessions with CURVE key") {
		t.Fatalf("refusal reason %q", m.Headers[codec.HdrReason])
	}
	// A takeover by the same key is never refused, and counts as the
	// session it replaces: the key still has no room for a third.
	a2b := curveRawWith(t, curveEP, srv.Public, keyA)
	a2b.hello("a2")
	a2.expectNotice(codec.ErrCodeTakenOver)
	a4 := curveRawWith(t, curveEP, srv.Public, keyA)
	a4.send(codec.Message{ID: codec.Hello, Identifier: "a4"})
	a4.expectNotice(codec.ErrCodeTooManyClients)

	other, _ := curveRaw(t, curveEP, srv.Public)
	other.hello("b1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 { // hand-framed NULL peers
		p, err := rawpeer.Dial(ctx, eps[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := p.Hello(ctx, fmt.Sprintf("null-%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	a1.send(codec.Message{ID: codec.Goodbye})
	a1.expect(codec.GoodbyeOK)
	a5 := curveRawWith(t, curveEP, srv.Public, keyA)
	a5.hello("a5")
}
