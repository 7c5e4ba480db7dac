package interop

import (
	"io"
	"log/slog"
	"testing"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/policy"
	"github.com/zccp-go/zccp/zmtp"
)

// Roles assigned to CURVE keys, with libzmq DEALERs as the only clients:
// the operator's key may publish anywhere and call stats; another key
// holds the default role, which may receive metrics.** only, publish
// nothing and call no broker method. Its `.*` subscription sees only the
// metrics; its publish and its stats call get not-authorized.
func TestCurveLibzmqPolicyByKey(t *testing.T) {
	srv, opKey, viewKey := newZKeys(t), newZKeys(t), newZKeys(t)
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	pol, err := policy.Parse("interop.policy", []byte("role ops\n publish **\n deliver **\n api **\nrole viewer\n deliver metrics.**\n"+
		"assign ops key="+opKey.pub+"\ndefault viewer\n"))
	if err != nil {
		t.Fatal(err)
	}
	b.SetPolicy(pol)
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := zmtp.EndpointOf(ln)
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(srv.pair)))

	zctx := newZContext(t)
	dial := func(k zkeys, ident string) *zccpPeer {
		p := &zccpPeer{t: t, s: curveClientSocket(t, zctx, k, srv.pub)}
		if err := p.s.Connect(ep); err != nil {
			t.Fatal(err)
		}
		p.send(codec.Message{ID: codec.Hello, Identifier: ident})
		p.expect(codec.HelloOK)
		return p
	}
	ops := dial(opKey, "ops")
	view := dial(viewKey, "view")
	view.send(codec.Message{ID: codec.Subscribe, Expression: ".*"})
	view.expect(codec.SubscribeOK)

	for _, a := range []string{"cmd.pdu-1.off", "metrics.pdu-1.power"} {
		ops.send(codec.Message{ID: codec.Publish, Address: a, Content: [][]byte{[]byte(a)}})
	}
	if m := view.expect(codec.Deliver); m.Address != "metrics.pdu-1.power" || m.Sender != "ops" {
		t.Fatalf("viewer got %s from %s, want only metrics.pdu-1.power", m.Address, m.Sender)
	}
	view.send(codec.Message{ID: codec.Publish, Address: "metrics.x", Content: [][]byte{[]byte("forged")}})
	if m := view.expect(codec.Deliver); m.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized || m.Headers[codec.HdrAddress] != "metrics.x" {
		t.Fatalf("viewer's publish: %v, want not-authorized", m.Headers)
	}
	stats := codec.Message{ID: codec.Direct, Address: codec.NoticeSender, Headers: codec.Headers{codec.HdrRequestID: "s1", codec.HdrMethod: codec.MethodStats}}
	view.send(stats)
	if m := view.expect(codec.Deliver); m.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized || m.Headers[codec.HdrReplyTo] != "s1" {
		t.Fatalf("viewer's stats: %v, want not-authorized", m.Headers)
	}
	ops.send(stats)
	if m := ops.expect(codec.Deliver); m.Headers[codec.HdrStatus] != codec.StatusOK || m.Headers[codec.HdrReplyTo] != "s1" {
		t.Fatalf("operator's stats: %v", m.Headers)
	}
}
