package broker

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/store"
	"github.com/zccp-go/zccp/zmtp"
)

// hello opens a CURVE connection with kp, says HELLO with ident and
// returns the notice's reason, or "" for HELLO-OK.
func helloAs(t *testing.T, ep string, server zmtp.CurveKey, kp zmtp.CurveKeyPair, ident string) string {
	t.Helper()
	c := curveRawWith(t, ep, server, kp)
	c.send(codec.Message{ID: codec.Hello, Identifier: ident})
	m := c.recv()
	if m.ID == codec.HelloOK {
		return ""
	}
	if m.ID != codec.Deliver || m.Headers[codec.HdrError] != codec.ErrCodeNotAuthorized {
		t.Fatalf("HELLO %q: %+v", ident, m)
	}
	return m.Headers[codec.HdrReason]
}

// Identifier patterns set at accept time, with hand-framed CURVE peers: a
// key is limited to what its patterns cover; an exact binding beats a
// pattern, a longer pattern a shorter one; two keys' patterns that match
// an identifier equally make it nobody's; without --ident a key gets the
// identifier it asked for while pending, unless another key holds it; the
// bindings survive a restart.
func TestIdentifierPatterns(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ep, ipcEP, _, server := enrolBroker(t, st)
	op := dialRaw(t, ipcEP)
	op.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	op.expect(codec.HelloOK)
	accept := func(kp zmtp.CurveKeyPair, idents ...string) []string {
		t.Helper()
		sel := "key=" + kp.Public.String()
		for _, id := range idents {
			sel += ",ident=" + id
		}
		recs, code := op.keysCall(MethodKeysAccept, sel)
		if code != "" {
			t.Fatalf("accept %v: %s", idents, code)
		}
		return recs[0].Owns
	}
	pending := func(ident string) zmtp.CurveKeyPair {
		c, kp := curveRaw(t, ep, server)
		c.send(codec.Message{ID: codec.Hello, Identifier: ident})
		if n := c.expectNotice(codec.ErrCodeNotAuthorized); !strings.Contains(n.Headers[codec.HdrReason], "pending") {
			t.Fatalf("pending: %+v", n.Headers)
		}
		return kp
	}

	pdus := pending("rack1.pdu3")
	if owns := accept(pdus, "rack1.pdu*", "ups-1"); !slices.Equal(owns, []string{"rack1.pdu*", "ups-1"}) {
		t.Fatalf("owns %v", owns)
	}
	for ident, want := range map[string]string{"rack1.pdu3": "", "rack1.pdu12": "", "ups-1": "",
		"rack1.pdu3.x": "not among", "rack2.pdu3": "not among"} {
		if got := helloAs(t, ep, server, pdus, ident); (want == "" && got != "") || !strings.Contains(got, want) {
			t.Errorf("pdus' HELLO %q: %q, want %q", ident, got, want)
		}
	}
	if got := helloAs(t, ep, server, pdus, "rack1.pdu7"); got != "" {
		t.Fatalf("rack1.pdu7 before it is bound exactly: %q", got)
	}

	// Default: what it asked for, unless another key's pattern covers it.
	seven := pending("rack1.pdu7")
	if owns := accept(seven); len(owns) != 0 {
		t.Fatalf("default binding took an identifier another key covers: %v", owns)
	}
	if got := helloAs(t, ep, server, seven, "rack1.pdu7"); !strings.Contains(got, "belongs to another") {
		t.Fatalf("seven: %q", got)
	}
	// Exact beats the pattern.
	accept(seven, "rack1.pdu7")
	if got := helloAs(t, ep, server, seven, "rack1.pdu7"); got != "" {
		t.Fatalf("seven bound exactly: %q", got)
	}
	if got := helloAs(t, ep, server, pdus, "rack1.pdu7"); !strings.Contains(got, "belongs to another") {
		t.Fatalf("pdus after the exact binding: %q", got)
	}
	ups := pending("ups-9")
	if owns := accept(ups); !slices.Equal(owns, []string{"ups-9"}) {
		t.Fatalf("default binding %v", owns)
	}
	// A shorter pattern loses; an equal one makes the identifier nobody's.
	wide := pending("w")
	accept(wide, "rack1.*3")
	if helloAs(t, ep, server, wide, "rack1.x3") != "" || helloAs(t, ep, server, pdus, "rack1.pdu3") != "" {
		t.Fatal("longest pattern does not win")
	}
	tie := pending("t")
	accept(tie, "rack1.*du3")
	for _, kp := range []zmtp.CurveKeyPair{pdus, tie} {
		if got := helloAs(t, ep, server, kp, "rack1.pdu3"); !strings.Contains(got, "equally") {
			t.Fatalf("tie: %q", got)
		}
	}
	if _, code := op.keysCall(MethodKeysRevoke, "key="+tie.Public.String()); code != "" {
		t.Fatal(code)
	}
	if _, code := op.keysCall(MethodKeysAccept, "key="+tie.Public.String()+",ident=a.b**"); code != codec.ErrCodeBadRequest {
		t.Fatalf("a bad pattern: %q", code)
	}
	// Accepting again replaces the set.
	if owns := accept(pdus, "rack1.pdu*"); !slices.Equal(owns, []string{"rack1.pdu*"}) {
		t.Fatalf("owns after re-accept %v", owns)
	}

	ep2, ipc2, _, server2 := enrolBroker(t, st)
	if got := helloAs(t, ep2, server2, pdus, "rack1.pdu3"); got != "" {
		t.Fatalf("after restart: %q", got)
	}
	if got := helloAs(t, ep2, server2, pdus, "ups-1"); !strings.Contains(got, "not among") {
		t.Fatalf("after restart, the released identifier: %q", got)
	}
	if got := helloAs(t, ep2, server2, seven, "rack1.pdu7"); got != "" {
		t.Fatalf("after restart, exact: %q", got)
	}
	op2 := dialRaw(t, ipc2)
	op2.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	op2.expect(codec.HelloOK)
	if recs, _ := op2.keysCall(MethodKeysShow, "key="+pdus.Public.String()); !slices.Equal(recs[0].Owns, []string{"rack1.pdu*"}) {
		t.Fatalf("show after restart: %+v", recs)
	}
}

// An admin key is not limited to its bindings under enrolment (the CLI
// says HELLO with a new identifier each run), but still cannot take an
// identifier bound to another key.
func TestAdminKeyNotLimited(t *testing.T) {
	admin, _ := zmtp.NewCurveKeyPair()
	ep, ipcEP, _, server := enrolBroker(t, nil, admin.Public)
	op := dialRaw(t, ipcEP)
	op.send(codec.Message{ID: codec.Hello, Identifier: "operator"})
	op.expect(codec.HelloOK)
	if got := helloAs(t, ep, server, admin, "zccp-keys-host-1"); !strings.Contains(got, "pending") {
		t.Fatalf("admin key before accept: %q", got)
	}
	if recs, code := op.keysCall(MethodKeysAccept, "key="+admin.Public.String()); code != "" || !slices.Equal(recs[0].Owns, []string{"zccp-keys-host-1"}) {
		t.Fatalf("accept: %+v %q", recs, code)
	}
	dev, _ := zmtp.NewCurveKeyPair()
	op.keysCall(MethodKeysAccept, "key="+dev.Public.String()+",ident=pdu-*")
	for ident, want := range map[string]string{"zccp-keys-host-2": "", "zccp-call-host-3": "", "pdu-1": "belongs to another"} {
		if got := helloAs(t, ep, server, admin, ident); (want == "" && got != "") || !strings.Contains(got, want) {
			t.Errorf("admin's HELLO %q: %q, want %q", ident, got, want)
		}
	}
}
