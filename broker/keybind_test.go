package broker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/store"
	"github.com/zccp-go/zccp/zmtp"
)

// curveBroker starts a broker with identifier binding (stored in st when
// given) and a CURVE tcp endpoint besides its NULL ones.
func curveBroker(t *testing.T, st BindingStore) (curveEP, nullEP string, server zmtp.CurveKey) {
	t.Helper()
	b, eps := startBroker(t, Config{})
	if err := b.EnableKeyBinding(st); err != nil {
		t.Fatal(err)
	}
	kp, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(kp)))
	return zmtp.EndpointOf(ln), eps[0], kp.Public
}

func curveRaw(t *testing.T, ep string, server zmtp.CurveKey) (*rawClient, zmtp.CurveKeyPair) {
	t.Helper()
	kp, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return curveRawWith(t, ep, server, kp), kp
}

func curveRawWith(t *testing.T, ep string, server zmtp.CurveKey, kp zmtp.CurveKeyPair) *rawClient {
	t.Helper()
	return dialRawOpts(t, ep, zmtp.Options{Type: zmtp.TypeDealer, Mechanism: &zmtp.CurveClient{Keys: kp, ServerKey: server}})
}

// An identifier first claimed over CURVE belongs to that key: another key
// and a NULL session get not-authorized and do not take it over; the
// same key from a new connection does; unclaimed identifiers stay free.
func TestIdentifierBoundToKey(t *testing.T) {
	curveEP, nullEP, server := curveBroker(t, nil)
	dev, devKeys := curveRaw(t, curveEP, server)
	dev.send(codec.Message{ID: codec.Hello, Identifier: "pdu-7"})
	dev.expect(codec.HelloOK)

	thief, _ := curveRaw(t, curveEP, server)
	thief.send(codec.Message{ID: codec.Hello, Identifier: "pdu-7"})
	thief.expectNotice(codec.ErrCodeNotAuthorized)
	null := dialRaw(t, nullEP)
	null.send(codec.Message{ID: codec.Hello, Identifier: "pdu-7"})
	null.expectNotice(codec.ErrCodeNotAuthorized)

	// The device still owns its identifier: a DIRECT reaches it.
	null.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	null.expect(codec.HelloOK)
	null.send(codec.Message{ID: codec.Direct, Address: "pdu-7", Content: [][]byte{[]byte("off")}})
	if m := dev.expect(codec.Deliver); m.Sender != "operator" || string(m.Content[0]) != "off" {
		t.Fatalf("device got %+v", m)
	}
	// The same key from a new connection takes over, as before.
	again := curveRawWith(t, curveEP, server, devKeys)
	again.send(codec.Message{ID: codec.Hello, Identifier: "pdu-7"})
	if m := again.expect(codec.HelloOK); m.Headers[codec.HdrReplaced] != "1" {
		t.Fatalf("takeover by the same key: %+v", m.Headers)
	}
	dev.expectNotice(codec.ErrCodeTakenOver)
}

// Bindings kept in the store survive a broker restart.
func TestIdentifierBindingPersists(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	curveEP, _, server := curveBroker(t, st)
	dev, devKeys := curveRaw(t, curveEP, server)
	dev.send(codec.Message{ID: codec.Hello, Identifier: "ups-1"})
	dev.expect(codec.HelloOK)

	curveEP2, _, server2 := curveBroker(t, st) // a second broker on the same store
	thief, _ := curveRaw(t, curveEP2, server2)
	thief.send(codec.Message{ID: codec.Hello, Identifier: "ups-1"})
	thief.expectNotice(codec.ErrCodeNotAuthorized)
	owner := curveRawWith(t, curveEP2, server2, devKeys)
	owner.send(codec.Message{ID: codec.Hello, Identifier: "ups-1"})
	owner.expect(codec.HelloOK)
}

// The clients record shows what the connection proved: the CURVE key of a
// CURVE client, the uid and pid of an ipc client's process.
func TestClientsShowKeyAndPeerCred(t *testing.T) {
	b, eps := startBroker(t, Config{})
	kp, _ := zmtp.NewCurveKeyPair()
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(kp)))
	sec, secKeys := curveRaw(t, zmtp.EndpointOf(ln), kp.Public)
	sec.send(codec.Message{ID: codec.Hello, Identifier: "secure"})
	sec.expect(codec.HelloOK)
	local := dialRaw(t, eps[1]) // ipc
	local.send(codec.Message{ID: codec.Hello, Identifier: "local"})
	local.expect(codec.HelloOK)
	local.send(codec.Message{ID: codec.Direct, Address: codec.NoticeSender, Headers: codec.Headers{
		codec.HdrRequestID: "1", codec.HdrMethod: codec.MethodClients}})
	byID := map[string]codec.ClientInfo{}
	for _, line := range local.expect(codec.Deliver).Content {
		var ci codec.ClientInfo
		if err := json.Unmarshal(line, &ci); err != nil {
			t.Fatal(err)
		}
		byID[ci.Identifier] = ci
	}
	if s := byID["secure"]; s.Key != secKeys.Public.String() || s.UID != nil {
		t.Fatalf("CURVE client record %+v", s)
	}
	if l := byID["local"]; l.Key != "" || l.UID == nil || *l.UID != os.Getuid() || l.PID != os.Getpid() {
		t.Fatalf("ipc client record %+v (uid %d pid %d)", l, os.Getuid(), os.Getpid())
	}
}
