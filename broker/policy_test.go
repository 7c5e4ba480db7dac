package broker

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/policy"
	"github.com/zccp-go/zccp/zmtp"
)

const testPolicy = `
role ops
  publish **
  deliver **
  direct  *
  group   **
  api     **
role dev
  publish metrics.{id}.**
  deliver cmd.{id}.**
  direct  ops-*
role viewer
  deliver metrics.**
  direct  pdu-* methods status
  api     clients
role mute
  publish **
assign ops  ident=ops-*
assign dev  ident=pdu-* label:kind=pdu
assign mute ident=mute-*
default viewer
`

func mustPolicy(t testing.TB, text string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("test.policy", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// policyPeers starts a broker with testPolicy and returns a dialer of
// hand-framed peers that have said HELLO.
func policyPeers(t *testing.T) (*Broker, context.Context, func(ident string, hs ...rawpeer.Header) *rawpeer.Peer) {
	b, eps := startBroker(t, Config{})
	b.SetPolicy(mustPolicy(t, testPolicy))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	n := 0
	return b, ctx, func(ident string, hs ...rawpeer.Header) *rawpeer.Peer {
		t.Helper()
		n++
		p, err := rawpeer.Dial(ctx, eps[n%2]) // tcp and ipc in turn
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := p.Hello(ctx, ident, hs...); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// nextMsg reads the next command of p.
func nextMsg(t *testing.T, ctx context.Context, p *rawpeer.Peer) *rawpeer.Message {
	t.Helper()
	m, err := p.NextContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// expectRefusal reads p's next message: a not-authorized notice about
// address (with zccp-reply-to id when id is not empty).
func expectRefusal(t *testing.T, ctx context.Context, p *rawpeer.Peer, address, id string) {
	t.Helper()
	m := nextMsg(t, ctx, p)
	code, _ := m.Header(codec.HdrError)
	reply, _ := m.Header(codec.HdrReplyTo)
	addr, hasAddr := m.Header(codec.HdrAddress)
	if m.ID != rawpeer.Deliver || string(m.Sender) != codec.NoticeSender || code != codec.ErrCodeNotAuthorized || reply != id ||
		(id == "" && (!hasAddr || addr != address)) {
		t.Fatalf("want a not-authorized notice about %q (reply-to %q), got command %d from %q headers %v", address, id, m.ID, m.Sender, m.Headers())
	}
}

// expectDeliver reads p's next message: a DELIVER to address.
func expectDeliver(t *testing.T, ctx context.Context, p *rawpeer.Peer, sender, address string) *rawpeer.Message {
	t.Helper()
	m := nextMsg(t, ctx, p)
	if m.ID != rawpeer.Deliver || string(m.Sender) != sender || string(m.Address) != address {
		t.Fatalf("want DELIVER %s from %s, got command %d %q from %q headers %v", address, sender, m.ID, m.Address, m.Sender, m.Headers())
	}
	return m
}

var kindPDU = rawpeer.Header{Name: "kind", Value: "pdu"}

// A publish outside the role's rules is refused with a notice and
// reaches nobody; `.*` subscribers see only the addresses their roles
// may receive (filtered at delivery, silently), in order.
func TestPolicyPublishAndDeliver(t *testing.T) {
	_, ctx, hello := policyPeers(t)
	ops := hello("ops-1")
	dev := hello("pdu-1", kindPDU)
	view := hello("viewer-1")
	for _, p := range []*rawpeer.Peer{dev, view} {
		if err := p.Subscribe(ctx, ".*"); err != nil {
			t.Fatal(err)
		}
	}
	// pdu-1 may publish its own metrics only.
	dev.Publish("metrics.pdu-2.power", nil, []byte("forged"))
	expectRefusal(t, ctx, dev, "metrics.pdu-2.power", "")
	dev.Publish("cmd.pdu-1.off", nil, []byte("forged"))
	expectRefusal(t, ctx, dev, "cmd.pdu-1.off", "")
	// The viewer may not publish at all.
	view.Publish("metrics.x", nil, []byte("forged"))
	expectRefusal(t, ctx, view, "metrics.x", "")

	for _, a := range []string{"cmd.pdu-2.off", "cmd.pdu-1.off", "secret.x", "metrics.rack1.t", "cmd.pdu-1.on"} {
		ops.Publish(a, nil, []byte(a))
	}
	// pdu-1 sees cmd.pdu-1.* only (not its own publish); the viewer
	// metrics.* only, the refused publishes never.
	expectDeliver(t, ctx, dev, "ops-1", "cmd.pdu-1.off")
	expectDeliver(t, ctx, dev, "ops-1", "cmd.pdu-1.on")
	expectDeliver(t, ctx, view, "ops-1", "metrics.rack1.t")
	dev.Publish("metrics.pdu-1.power", nil, []byte("230"))
	expectDeliver(t, ctx, view, "pdu-1", "metrics.pdu-1.power")
	// Nothing else is queued: a PING is answered next.
	pingPong(t, ctx, dev)
	pingPong(t, ctx, view)
}

// pingPong sends PING and wants PING-OK as the next command.
func pingPong(t *testing.T, ctx context.Context, p *rawpeer.Peer) {
	t.Helper()
	p.Send(rawpeer.Frame1(rawpeer.Ping, nil, false, nil))
	if m := nextMsg(t, ctx, p); m.ID != rawpeer.PingOK {
		t.Fatalf("command %d %q from %q, want PING-OK (nothing queued before it)", m.ID, m.Address, m.Sender)
	}
}

// Requests: a target the role may not reach, a method it may not call
// and a plain DIRECT are refused with the request's error reply (or a
// notice); an allowed request reaches the device, whose reply reaches
// the requester although the device's own rules do not name it.
func TestPolicyRequests(t *testing.T) {
	_, ctx, hello := policyPeers(t)
	dev := hello("pdu-1", kindPDU)
	srv := hello("srv-1")
	view := hello("viewer-1")
	req := func(to, id, method string) {
		view.Direct(to, []rawpeer.Header{{Name: codec.HdrRequestID, Value: id}, {Name: codec.HdrMethod, Value: method}}, []byte("x"))
	}
	req("pdu-1", "r1", "power.off")
	expectRefusal(t, ctx, view, "", "r1")
	req("srv-1", "r2", "status")
	expectRefusal(t, ctx, view, "", "r2")
	req("nobody-1", "r3", "status") // not even told whether it exists
	expectRefusal(t, ctx, view, "", "r3")
	view.Direct("pdu-1", nil, []byte("plain"))
	expectRefusal(t, ctx, view, "pdu-1", "")

	req("pdu-1", "r4", "status")
	m := expectDeliver(t, ctx, dev, "viewer-1", "pdu-1")
	if id, _ := m.Header(codec.HdrRequestID); id != "r4" {
		t.Fatalf("device got request %q", id)
	}
	dev.Direct("viewer-1", []rawpeer.Header{{Name: codec.HdrReplyTo, Value: "r4"}, {Name: codec.HdrStatus, Value: "ok"}}, []byte("on"))
	if m := expectDeliver(t, ctx, view, "pdu-1", "viewer-1"); string(m.Content[0]) != "on" {
		t.Fatalf("reply content %q", m.Content)
	}
	// A "reply" to no outstanding request is a DIRECT like any other.
	dev.Direct("viewer-1", []rawpeer.Header{{Name: codec.HdrReplyTo, Value: "r4"}, {Name: codec.HdrStatus, Value: "ok"}}, []byte("again"))
	expectRefusal(t, ctx, dev, "viewer-1", "")
	// Group requests need a group rule.
	view.Publish("rack1.pdus", []rawpeer.Header{{Name: codec.HdrRequestID, Value: "g1"}, {Name: codec.HdrMethod, Value: "status"}}, []byte("x"))
	expectRefusal(t, ctx, view, "", "g1")
	_ = srv
}

// Broker API methods need an api rule; SUBSCRIBE by a role that may
// receive nothing is refused (then SUBSCRIBE-OK, as for every refusal).
// Each refusal is counted by operation.
func TestPolicyAPIAndSubscribe(t *testing.T) {
	b, ctx, hello := policyPeers(t)
	view := hello("viewer-1")
	call := func(id, method string) {
		view.Direct(codec.NoticeSender, []rawpeer.Header{{Name: codec.HdrRequestID, Value: id}, {Name: codec.HdrMethod, Value: method}}, nil)
	}
	call("a1", codec.MethodStats)
	expectRefusal(t, ctx, view, "", "a1")
	call("a2", "keys.list")
	expectRefusal(t, ctx, view, "", "a2")
	call("a3", codec.MethodClients)
	if m := expectDeliver(t, ctx, view, codec.NoticeSender, "viewer-1"); m.Headers()[codec.HdrStatus] != codec.StatusOK ||
		len(m.Content) != 1 || !strings.Contains(string(m.Content[0]), `"role":"viewer"`) {
		t.Fatalf("clients: %v %q, want the viewer's record with its role", m.Headers(), m.Content)
	}
	mute := hello("mute-1")
	mute.Send(rawpeer.Frame1(rawpeer.Subscribe, []string{".*"}, true, nil))
	expectRefusal(t, ctx, mute, ".*", "")
	if m := nextMsg(t, ctx, mute); m.ID != rawpeer.SubscribeOK {
		t.Fatalf("after the notice: command %d, want SUBSCRIBE-OK", m.ID)
	}
	var buf bytes.Buffer
	b.WriteMetrics(&buf)
	for _, want := range []string{`zccp_not_authorized_total{op="api"} 2`, `zccp_not_authorized_total{op="subscribe"} 1`, `zccp_not_authorized_total{op="publish"} 0`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A new policy applies to live sessions from their next operation;
// removing it allows everything again.
func TestPolicyReloadAppliesToLiveSessions(t *testing.T) {
	b, ctx, hello := policyPeers(t)
	dev := hello("pdu-1", kindPDU)
	view := hello("viewer-1")
	if err := view.Subscribe(ctx, "^x"); err != nil {
		t.Fatal(err)
	}
	dev.Publish("x.1", nil, []byte("1"))
	expectRefusal(t, ctx, dev, "x.1", "")
	b.SetPolicy(mustPolicy(t, strings.Replace(testPolicy, "publish metrics.{id}.**", "publish metrics.{id}.** x.**", 1)))
	dev.Publish("x.2", nil, []byte("2"))
	pingPong(t, ctx, dev) // x.2 is routed before the next policy
	// The viewer's rules did not change: x.* is not in its deliver rules.
	b.SetPolicy(mustPolicy(t, strings.Replace(testPolicy, "deliver metrics.**", "deliver metrics.** x.**", 1)))
	dev.Publish("x.3", nil, []byte("3")) // dev's rules are back: refused
	expectRefusal(t, ctx, dev, "x.3", "")
	b.SetPolicy(nil)
	dev.Publish("x.4", nil, []byte("4"))
	expectDeliver(t, ctx, view, "pdu-1", "x.4") // x.2 was filtered, x.3 refused
}

// Roles assigned to CURVE keys: the same identifier gets the operator's
// role with the operator's key and the default role without it. Peers
// are hand-framed ZCCP over our ZMTP CURVE.
func TestPolicyRoleByKey(t *testing.T) {
	b, eps := startBroker(t, Config{})
	server, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(server)))
	opKeys, _ := zmtp.NewCurveKeyPair()
	b.SetPolicy(mustPolicy(t, "role admin\n publish **\n api **\nrole guest\n deliver **\nassign admin key="+opKeys.Public.String()+"\ndefault guest\n"))

	admin := curveRawWith(t, zmtp.EndpointOf(ln), server.Public, opKeys)
	admin.hello("alice")
	other, _ := curveRaw(t, zmtp.EndpointOf(ln), server.Public)
	other.hello("bob")
	null := dialRaw(t, eps[0])
	null.hello("carol")
	admin.send(codec.Message{ID: codec.Direct, Address: codec.NoticeSender, Headers: codec.Headers{codec.HdrRequestID: "s", codec.HdrMethod: codec.MethodStats}})
	if m := admin.expect(codec.Deliver); m.Headers[codec.HdrStatus] != codec.StatusOK {
		t.Fatalf("admin stats: %v", m.Headers)
	}
	for _, c := range []*rawClient{other, null} {
		c.publish("a.b", "x")
		if m := c.expectNotice(codec.ErrCodeNotAuthorized); m.Headers[codec.HdrAddress] != "a.b" {
			t.Fatalf("notice %v", m.Headers)
		}
	}
}

// Roles by ipc user id (SO_PEERCRED): the same identifier gets the role
// of this process's uid over ipc and the default role over tcp.
func TestPolicyRoleByUID(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_PEERCRED is Linux only")
	}
	b, eps := startBroker(t, Config{})
	b.SetPolicy(mustPolicy(t, "role local\n publish **\nrole remote\n deliver **\nassign local uid="+strconv.Itoa(os.Getuid())+"\ndefault remote\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, want := range []string{"refused", "allowed"} { // eps[0] tcp, eps[1] ipc
		p, err := rawpeer.Dial(ctx, eps[i])
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Hello(ctx, "same"); err != nil {
			t.Fatal(err)
		}
		p.Publish("a.b", nil, []byte("x"))
		if want == "refused" {
			expectRefusal(t, ctx, p, "a.b", "")
		} else {
			pingPong(t, ctx, p) // no notice before PING-OK
		}
	}
}
