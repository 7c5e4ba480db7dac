package broker

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/store"
	"github.com/zccp-go/zccp/zmtp"
)

// enrolBroker starts a broker with enrolment (records in st, if given)
// and a CURVE endpoint; it returns the CURVE endpoint, the ipc (local,
// admin) and tcp endpoints and the server key.
func enrolBroker(t *testing.T, st BindingStore, admins ...zmtp.CurveKey) (curveEP, ipcEP, tcpEP string, server zmtp.CurveKey) {
	t.Helper()
	b, eps := startBroker(t, Config{})
	if err := b.EnableEnrolment(st, false, admins); err != nil {
		t.Fatal(err)
	}
	if err := b.EnableKeyBinding(st); err != nil { // as zccpd does
		t.Fatal(err)
	}
	kp, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	m := zmtp.NewCurveServer(kp)
	m.Authorize = b.AuthorizeKey
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	return zmtp.EndpointOf(ln), eps[1], eps[0], kp.Public
}

// keysCall sends a keys.* request to the broker and returns the records
// of its reply, or the error code of a refusal.
func (c *rawClient) keysCall(method, sel string) ([]KeyRecord, string) {
	c.t.Helper()
	c.send(codec.Message{ID: codec.Direct, Address: codec.NoticeSender, Headers: codec.Headers{
		codec.HdrRequestID: method, codec.HdrMethod: method, codec.HdrSelect: sel}})
	m := c.expect(codec.Deliver)
	if m.Headers[codec.HdrReplyTo] != method {
		c.t.Fatalf("reply %+v", m.Headers)
	}
	if m.Headers[codec.HdrStatus] != codec.StatusOK {
		return nil, m.Headers[codec.HdrError]
	}
	var recs []KeyRecord
	for _, line := range m.Content {
		if len(line) == 0 {
			continue
		}
		var r KeyRecord
		if err := json.Unmarshal(line, &r); err != nil {
			c.t.Fatalf("record %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs, ""
}

// waitClosed waits until the broker has closed c's connection.
func (c *rawClient) waitClosed() {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				return
			}
		case <-deadline:
			c.t.Fatal("connection still open")
		}
	}
}

// An unknown key is pending and refused a session with a notice; the
// local operator lists and accepts it, after which it gets a session;
// revoking it closes its connection at once and refuses the next
// handshake; a rejected key is refused too. Only admins may do this.
func TestEnrolmentLifecycle(t *testing.T) {
	curveEP, ipcEP, tcpEP, server := enrolBroker(t, nil)
	dev, devKeys := curveRaw(t, curveEP, server)
	dev.send(codec.Message{ID: codec.Hello, Identifier: "pdu-9"})
	dev.expectNotice(codec.ErrCodeNotAuthorized)

	op := dialRaw(t, ipcEP) // NULL over ipc: the local operator
	op.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	op.expect(codec.HelloOK)
	recs, _ := op.keysCall(MethodKeysList, "state=pending")
	if len(recs) != 1 || recs[0].Key != devKeys.Public.String() || recs[0].Identifier != "pdu-9" || recs[0].Remote == "" {
		t.Fatalf("pending %+v", recs)
	}
	remote := dialRaw(t, tcpEP) // NULL over tcp: not an operator
	remote.send(codec.Message{ID: codec.Hello, Identifier: "remote"})
	remote.expect(codec.HelloOK)
	if _, code := remote.keysCall(MethodKeysAccept, "key="+devKeys.Public.String()); code != codec.ErrCodeNotAuthorized {
		t.Fatalf("keys.accept over NULL tcp: %q, want not-authorized", code)
	}

	if recs, code := op.keysCall(MethodKeysAccept, "key="+devKeys.Public.String()); code != "" || recs[0].State != KeyAccepted {
		t.Fatalf("accept: %+v %q", recs, code)
	}
	dev.waitClosed() // so that it reconnects and says HELLO again
	dev = curveRawWith(t, curveEP, server, devKeys)
	dev.send(codec.Message{ID: codec.Hello, Identifier: "pdu-9"})
	dev.expect(codec.HelloOK)
	if recs, _ := op.keysCall(MethodKeysShow, "key="+devKeys.Public.String()); len(recs[0].Owns) != 1 || recs[0].Owns[0] != "pdu-9" {
		t.Fatalf("show: %+v", recs)
	}
	if _, code := dev.keysCall(MethodKeysList, ""); code != codec.ErrCodeNotAuthorized {
		t.Fatalf("keys.list by a non-admin key: %q", code)
	}

	op.keysCall(MethodKeysRevoke, "key="+devKeys.Public.String())
	if n := dev.expectNotice(codec.ErrCodeNotAuthorized); !strings.Contains(n.Headers[codec.HdrReason], "revoked") {
		t.Fatalf("revoke notice %+v", n.Headers)
	}
	dev.waitClosed()
	if _, err := dialCurveErr(curveEP, server, devKeys); err == nil {
		t.Fatal("a revoked key completed the handshake")
	}
	// An operator moves an identifier to another key at accept time.
	mover, moverKeys := curveRaw(t, curveEP, server)
	mover.send(codec.Message{ID: codec.Hello, Identifier: "mover"})
	mover.expectNotice(codec.ErrCodeNotAuthorized)
	if recs, code := op.keysCall(MethodKeysAccept, "key="+moverKeys.Public.String()+",ident=spare-1"); code != "" || len(recs[0].Owns) != 1 || recs[0].Owns[0] != "spare-1" {
		t.Fatalf("accept with ident: %+v %q", recs, code)
	}
	mover.waitClosed()
	mover = curveRawWith(t, curveEP, server, moverKeys)
	mover.send(codec.Message{ID: codec.Hello, Identifier: "spare-1"})
	mover.expect(codec.HelloOK)
	if recs, _ := op.keysCall(MethodKeysShow, "key="+devKeys.Public.String()); recs[0].State != KeyRevoked || len(recs[0].Owns) != 0 {
		t.Fatalf("show of the revoked key (its identifiers freed): %+v", recs)
	}

	// The revoked key's identifier is free for a replacement device.
	repl, replKeys := curveRaw(t, curveEP, server)
	repl.send(codec.Message{ID: codec.Hello, Identifier: "pdu-9"})
	repl.expectNotice(codec.ErrCodeNotAuthorized) // pending
	op.keysCall(MethodKeysAccept, "key="+replKeys.Public.String())
	repl.waitClosed()
	repl = curveRawWith(t, curveEP, server, replKeys)
	repl.send(codec.Message{ID: codec.Hello, Identifier: "pdu-9"})
	repl.expect(codec.HelloOK)
	other, otherKeys := curveRaw(t, curveEP, server)
	other.send(codec.Message{ID: codec.Hello, Identifier: "x"})
	other.expectNotice(codec.ErrCodeNotAuthorized)
	op.keysCall(MethodKeysReject, "key="+otherKeys.Public.String())
	other.waitClosed()
	if _, err := dialCurveErr(curveEP, server, otherKeys); err == nil {
		t.Fatal("a rejected key completed the handshake")
	}
	if _, code := op.keysCall(MethodKeysAccept, "key=nonsense"); code != codec.ErrCodeBadRequest {
		t.Fatalf("bad key: %q", code)
	}
}

func dialCurveErr(ep string, server zmtp.CurveKey, kp zmtp.CurveKeyPair) (*zmtp.Conn, error) {
	nc, err := zmtp.Dial(t0(), ep)
	if err != nil {
		return nil, err
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 5 * time.Second,
		Mechanism: &zmtp.CurveClient{Keys: kp, ServerKey: server}})
	if err == nil {
		c.Close()
	}
	return c, err
}

// Key records survive a restart in the store.
func TestEnrolmentPersists(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	curveEP, ipcEP, _, server := enrolBroker(t, st)
	dev, devKeys := curveRaw(t, curveEP, server)
	dev.send(codec.Message{ID: codec.Hello, Identifier: "ups-2"})
	dev.expectNotice(codec.ErrCodeNotAuthorized)
	op := dialRaw(t, ipcEP)
	op.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	op.expect(codec.HelloOK)
	op.keysCall(MethodKeysAccept, "key="+devKeys.Public.String())

	curveEP2, _, _, server2 := enrolBroker(t, st)
	again := curveRawWith(t, curveEP2, server2, devKeys)
	again.send(codec.Message{ID: codec.Hello, Identifier: "ups-2"})
	again.expect(codec.HelloOK)
}

func t0() context.Context { return context.Background() }

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CURVE failures are logged with a clear line, rate-limited: twenty
// clients with the wrong server key make one line, not twenty.
func TestCurveRefusalLogged(t *testing.T) {
	var logs lockedBuffer
	b, _ := startBroker(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	kp, _ := zmtp.NewCurveKeyPair()
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, zmtp.NewCurveServer(kp)))
	wrong, _ := zmtp.NewCurveKeyPair()
	for i := 0; i < 20; i++ {
		if _, err := dialCurveErr(zmtp.EndpointOf(ln), wrong.Public, wrong); err == nil {
			t.Fatal("wrong server key accepted")
		}
	}
	testutil.Eventually(t, "CURVE refusal logged", func() bool { return strings.Contains(logs.String(), "CURVE handshake failed") })
	if n := strings.Count(logs.String(), "CURVE handshake failed"); n != 1 {
		t.Fatalf("%d log lines for 20 refusals, want 1 (rate-limited)\n%s", n, logs.String())
	}
}
