package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/federation"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/policy"
	"github.com/zccp-go/zccp/store"
	"github.com/zccp-go/zccp/zmtp"
)

// secureMember is a member with CURVE key enrolment and identifier
// binding (as zccpd has them on a curve endpoint), an ipc endpoint for
// its operator (NULL over a unix socket may call keys.*), and a policy.
type secureMember struct {
	*member
	name, curveEP, ipcEP string
	server               zmtp.CurveKey
}

func startSecureMember(t testing.TB, url, name string, pol *policy.Policy) *secureMember {
	t.Helper()
	return startSecureMemberStore(t, url, name, pol, nil)
}

// startSecureMemberStore is startSecureMember with keys and bindings
// kept in st (nil: in memory).
func startSecureMemberStore(t testing.TB, url, name string, pol *policy.Policy, st broker.BindingStore) *secureMember {
	t.Helper()
	b, err := broker.New(broker.Config{Name: name, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	b.SetPolicy(pol)
	if err := b.EnableEnrolment(st, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.EnableKeyBinding(st); err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(audit.Options{Dir: t.TempDir(), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	b.EnableAudit(log)
	ep, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var tag [6]byte
	rand.Read(tag[:])
	ipcEP, err := b.Listen("ipc://@zccp-fedsec-" + name + "-" + hex.EncodeToString(tag[:]))
	if err != nil {
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := federation.Start(ctx, b, federation.Options{
		URLs: []string{url}, Name: name, Logger: quietLog(), NATS: []nats.Option{nats.DontRandomize()},
		Advertise: 200 * time.Millisecond, DeadAfter: 3 * time.Second, Scan: 10 * time.Millisecond, RegistryTTL: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); b.Close(); log.Close() })
	return &secureMember{member: &member{b: b, ep: ep, node: n}, name: name, curveEP: zmtp.EndpointOf(ln), ipcEP: ipcEP, server: kp.Public}
}

// operate runs one keys.* method as the broker's local operator (a
// hand-framed NULL peer on its ipc endpoint) and fails unless it is ok.
func (m *secureMember) operate(t *testing.T, ctx context.Context, method, sel string) {
	t.Helper()
	m.call(t, ctx, method, sel)
}

// call runs one broker API method as the local operator and returns the
// reply.
func (m *secureMember) call(t *testing.T, ctx context.Context, method, sel string) *rawpeer.Message {
	t.Helper()
	op := peer(t, ctx, m.ipcEP, "")
	defer op.Close()
	if err := op.Direct(codec.NoticeSender, []rawpeer.Header{{Name: codec.HdrRequestID, Value: "op"},
		{Name: codec.HdrMethod, Value: method}, {Name: codec.HdrSelect, Value: sel}}); err != nil {
		t.Fatal(err)
	}
	r := nextDeliver(t, ctx, op)
	if h := r.Headers(); h[codec.HdrStatus] != codec.StatusOK {
		t.Fatalf("%s %s on %s: %v", method, sel, m.name, h)
	}
	return r
}

// curveDevice is a CURVE session (our zmtp layer, frames through codec).
type curveDevice struct {
	c  *zmtp.Conn
	in chan *codec.Message
}

func dialCurve(t *testing.T, ctx context.Context, ep string, server zmtp.CurveKey, kp zmtp.CurveKeyPair) *curveDevice {
	t.Helper()
	nc, err := zmtp.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 5 * time.Second,
		Mechanism: &zmtp.CurveClient{Keys: kp, ServerKey: server}})
	if err != nil {
		t.Fatal(err)
	}
	d := &curveDevice{c: c, in: make(chan *codec.Message, 64)}
	go func() {
		defer close(d.in)
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				return
			}
			if m, err := codec.Decode(frames); err == nil && m.ID != codec.Ping {
				d.in <- m
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return d
}

// hello says HELLO and returns HELLO-OK's absence as the notice code
// that refused it ("" when HELLO-OK came).
func (d *curveDevice) hello(t *testing.T, ctx context.Context, ident string) string {
	t.Helper()
	hello := codec.Message{ID: codec.Hello, Identifier: ident}
	frames, _ := hello.Frames()
	if err := d.c.Send(frames...); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m, ok := <-d.in:
			switch {
			case !ok:
				t.Fatalf("HELLO %s: connection closed", ident)
			case m.ID == codec.HelloOK:
				return ""
			case m.ID == codec.Deliver && m.Sender == codec.NoticeSender:
				return m.Headers[codec.HdrError]
			}
		case <-ctx.Done():
			t.Fatalf("HELLO %s: %v", ident, ctx.Err())
		}
	}
}

// closed waits until the broker closes the connection and returns the
// notice codes it sent before.
func (d *curveDevice) closed(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var codes []string
	for {
		select {
		case m, ok := <-d.in:
			if !ok {
				return codes
			}
			if m.ID == codec.Deliver && m.Sender == codec.NoticeSender {
				codes = append(codes, m.Headers[codec.HdrError])
			}
		case <-ctx.Done():
			t.Fatalf("connection not closed: %v (notices %v)", ctx.Err(), codes)
		}
	}
}

func keyState(m *secureMember, k zmtp.CurveKey) string {
	keys, _ := m.b.SharedSecurity()
	return keys[k].State
}

func boundTo(m *secureMember, ident string) zmtp.CurveKey {
	_, binds := m.b.SharedSecurity()
	return binds[ident]
}

func newKeys(t *testing.T) zmtp.CurveKeyPair {
	t.Helper()
	kp, err := zmtp.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// Key states and identifier bindings are cluster-wide: a key accepted on
// A opens a session on B; the identifier it binds there (first claim) is
// refused, not-authorized, to another accepted key on A and to a NULL
// hand-framed peer on C; two first claims of one identifier on two
// brokers at once leave exactly one owner; revoking the key on C ends its
// session on B and frees its identifier on every broker; a pattern bound
// at accept on A is enforced on C.
func TestKeysAndBindingsAcrossBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startSecureMember(t, nodes[0].ClientURL(), "A", nil)
	b := startSecureMember(t, nodes[1].ClientURL(), "B", nil)
	c := startSecureMember(t, nodes[2].ClientURL(), "C", nil)
	all := []*secureMember{a, b, c}
	for _, m := range all {
		if !m.node.KeyShare().On {
			t.Fatalf("%s: keys not shared (JetStream)", m.name)
		}
	}
	k1, k2 := newKeys(t), newKeys(t)
	a.operate(t, ctx, broker.MethodKeysAccept, "key="+k1.Public.String())
	c.operate(t, ctx, broker.MethodKeysAccept, "key="+k2.Public.String())
	testutil.Eventually(t, "every broker has K1 and K2 accepted", func() bool {
		for _, m := range all {
			if keyState(m, k1.Public) != broker.KeyAccepted || keyState(m, k2.Public) != broker.KeyAccepted {
				return false
			}
		}
		return true
	})

	dev := dialCurve(t, ctx, b.curveEP, b.server, k1)
	if code := dev.hello(t, ctx, "pdu-1"); code != "" {
		t.Fatalf("K1 on B (accepted on A): %s", code)
	}
	// The first claim waited for the bucket: every broker has the binding.
	testutil.Eventually(t, "A and C learn pdu-1 is bound to K1", func() bool {
		return boundTo(a, "pdu-1") == k1.Public && boundTo(c, "pdu-1") == k1.Public
	})
	thief := dialCurve(t, ctx, a.curveEP, a.server, k2)
	if code := thief.hello(t, ctx, "pdu-1"); code != codec.ErrCodeNotAuthorized {
		t.Fatalf("K2 on A claiming K1's pdu-1: %q", code)
	}
	null, err := rawpeer.Dial(ctx, c.ep)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if err := null.Send(rawpeer.Frame1(rawpeer.Hello, []string{"pdu-1"}, true, nil)); err != nil {
		t.Fatal(err)
	}
	if code, _ := nextNotice(t, ctx, null); code != codec.ErrCodeNotAuthorized {
		t.Fatalf("NULL peer on C claiming pdu-1: %q", code)
	}
	if n := holders("pdu-1", a.member, b.member, c.member); n != 1 {
		t.Fatalf("%d sessions hold pdu-1", n)
	}

	// Two first claims at once, K3 on A and K4 on C (keys accepted
	// without bindings yet): one owner.
	k3, k4 := newKeys(t), newKeys(t)
	b.operate(t, ctx, broker.MethodKeysAccept, "key="+k3.Public.String())
	b.operate(t, ctx, broker.MethodKeysAccept, "key="+k4.Public.String())
	testutil.Eventually(t, "A and C have K3 and K4 accepted", func() bool {
		return keyState(a, k3.Public) == broker.KeyAccepted && keyState(c, k4.Public) == broker.KeyAccepted
	})
	var wg sync.WaitGroup
	codes := make([]string, 2)
	for i, try := range []struct {
		m  *secureMember
		kp zmtp.CurveKeyPair
	}{{a, k3}, {c, k4}} {
		d := dialCurve(t, ctx, try.m.curveEP, try.m.server, try.kp)
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = d.hello(t, ctx, "pdu-2")
		}()
	}
	wg.Wait()
	if (codes[0] == "") == (codes[1] == "") || codes[0]+codes[1] != codec.ErrCodeNotAuthorized {
		t.Fatalf("simultaneous first claims of pdu-2: %q", codes)
	}
	testutil.Eventually(t, "every broker agrees on pdu-2's owner", func() bool {
		o := boundTo(a, "pdu-2")
		return !o.IsZero() && boundTo(b, "pdu-2") == o && boundTo(c, "pdu-2") == o
	})

	// Revoked on C: the session on B ends, pdu-1 is free everywhere.
	c.operate(t, ctx, broker.MethodKeysRevoke, "key="+k1.Public.String())
	if codes := dev.closed(t, ctx); len(codes) == 0 || codes[len(codes)-1] != codec.ErrCodeNotAuthorized {
		t.Fatalf("K1's session on B at revocation: notices %v", codes)
	}
	testutil.Eventually(t, "pdu-1 unbound on every broker", func() bool {
		return boundTo(a, "pdu-1").IsZero() && boundTo(b, "pdu-1").IsZero() && boundTo(c, "pdu-1").IsZero()
	})
	if code := thief.hello(t, ctx, "pdu-1"); code != "" {
		t.Fatalf("K2 on A claiming the freed pdu-1: %q", code)
	}
	if _, err := zmtpRefused(ctx, a.curveEP, a.server, k1); err == nil {
		t.Fatal("revoked K1 completed a handshake on A")
	}

	// A pattern bound at accept on A holds on C: K5 may use rack9.x
	// there, a NULL peer may not.
	k5 := newKeys(t)
	a.operate(t, ctx, broker.MethodKeysAccept, "key="+k5.Public.String()+",ident=rack9.*")
	testutil.Eventually(t, "C learns rack9.* is bound to K5", func() bool { return boundTo(c, "rack9.*") == k5.Public })
	if code := dialCurve(t, ctx, c.curveEP, c.server, k5).hello(t, ctx, "rack9.x"); code != "" {
		t.Fatalf("K5 on C claiming rack9.x: %q", code)
	}
	if err := null.Send(rawpeer.Frame1(rawpeer.Hello, []string{"rack9.y"}, true, nil)); err != nil {
		t.Fatal(err)
	}
	if code, _ := nextNotice(t, ctx, null); code != codec.ErrCodeNotAuthorized {
		t.Fatalf("NULL peer on C claiming rack9.y: %q", code)
	}
}

// zmtpRefused runs a CURVE handshake that should fail.
func zmtpRefused(ctx context.Context, ep string, server zmtp.CurveKey, kp zmtp.CurveKeyPair) (*zmtp.Conn, error) {
	nc, err := zmtp.Dial(ctx, ep)
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

// Every broker advertises the digest of its permission policy: a broker
// started with another file is reported by the others (PolicyMismatches)
// and the report clears when it loads the same policy.
func TestPolicyDigestMismatchReported(t *testing.T) {
	nodes := natsCluster(t)
	same, err := policy.Parse("fleet.policy", []byte("role all\n  publish **\n  deliver **\ndefault all\n"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := policy.Parse("old.policy", []byte("role all\n  publish **\ndefault all\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := startSecureMember(t, nodes[0].ClientURL(), "A", same)
	b := startSecureMember(t, nodes[1].ClientURL(), "B", same)
	c := startSecureMember(t, nodes[2].ClientURL(), "C", other)
	testutil.Eventually(t, "A and B report C, and only C", func() bool {
		for _, m := range []*secureMember{a, b} {
			mm, logged := m.node.PolicyMismatches()
			if len(mm) != 1 || mm[0].Name != "C" || logged != 1 {
				return false
			}
		}
		mm, _ := c.node.PolicyMismatches()
		return len(mm) == 2 && mm[0].Name == "A" && mm[1].Name == "B"
	})
	c.b.SetPolicy(same) // what SIGHUP does after the file is replaced
	testutil.Eventually(t, "no mismatch once C has the same policy", func() bool {
		for _, m := range []*secureMember{a, b, c} {
			if mm, _ := m.node.PolicyMismatches(); len(mm) != 0 {
				return false
			}
		}
		return true
	})
}

// A broker that joins with keys and bindings in its store (decided and
// bound before the federation existed) publishes them: the other brokers
// accept its key and refuse its identifier to other keys; a binding the
// cluster already has wins over its own, which it adopts (its store too).
func TestJoinPublishesStoredKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startSecureMember(t, nodes[0].ClientURL(), "A", nil)
	kA, kD := newKeys(t), newKeys(t)
	a.operate(t, ctx, broker.MethodKeysAccept, "key="+kA.Public.String()+",ident=shared-1")
	testutil.Eventually(t, "the bucket has shared-1", func() bool { return a.node.KeyShare().Written >= 2 })

	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	rec, _ := json.Marshal(broker.KeyRecord{Key: kD.Public.String(), State: broker.KeyAccepted, FirstSeen: now, LastSeen: now, Changed: now})
	for _, w := range []struct {
		bucket string
		k, v   []byte
	}{
		{store.BucketKeys, kD.Public[:], rec},
		{"identities", []byte("legacy-1"), kD.Public[:]},
		{"identities", []byte("shared-1"), kD.Public[:]}, // A's in the cluster
	} {
		if err := st.Put(w.bucket, w.k, w.v); err != nil {
			t.Fatal(err)
		}
	}
	d := startSecureMemberStore(t, nodes[1].ClientURL(), "D", nil, st)
	testutil.Eventually(t, "A learns D's key and binding; D adopts shared-1's owner", func() bool {
		return keyState(a, kD.Public) == broker.KeyAccepted && boundTo(a, "legacy-1") == kD.Public && boundTo(d, "shared-1") == kA.Public
	})
	if v, err := st.Get("identities", []byte("shared-1")); err != nil || string(v) != string(kA.Public[:]) {
		t.Fatalf("D's store: shared-1 -> %x, %v", v, err)
	}
	thief := dialCurve(t, ctx, a.curveEP, a.server, kA)
	if code := thief.hello(t, ctx, "legacy-1"); code != codec.ErrCodeNotAuthorized {
		t.Fatalf("kA on A claiming D's legacy-1: %q", code)
	}
	if code := dialCurve(t, ctx, a.curveEP, a.server, kD).hello(t, ctx, "legacy-1"); code != "" {
		t.Fatalf("kD on A claiming its legacy-1: %q", code)
	}
}
