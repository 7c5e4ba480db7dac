package broker

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

// auditBroker starts a broker writing its audit log to a fresh directory.
func auditBroker(t *testing.T, cfg Config) (*Broker, []string, *audit.Log) {
	t.Helper()
	b, eps := startBroker(t, cfg)
	l, err := audit.Open(audit.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	b.EnableAudit(l)
	return b, eps, l
}

// rawDial connects a hand-framed peer and says HELLO.
func rawDial(t *testing.T, ctx context.Context, ep, ident string, hs ...rawpeer.Header) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, ident, hs...); err != nil {
		t.Fatal(err)
	}
	return p
}

// awaitReply reads p's messages until one with zccp-reply-to id (or, with
// id "", the next DELIVER carrying a request id, for a device).
func awaitReply(t *testing.T, ctx context.Context, p *rawpeer.Peer, id string) *rawpeer.Message {
	t.Helper()
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", id, err)
		}
		if m.ID != rawpeer.Deliver {
			continue
		}
		if rt, _ := m.Header(codec.HdrReplyTo); id != "" && rt == id {
			return m
		}
		if _, ok := m.Header(codec.HdrRequestID); id == "" && ok {
			return m
		}
	}
}

var auditQueryN atomic.Int64

// auditQuery asks the broker API for audit records; it returns them with
// the error code of a refusal.
func auditQuery(t *testing.T, ctx context.Context, p *rawpeer.Peer, sel string) ([]audit.Record, string) {
	t.Helper()
	id := "q" + strconv.FormatInt(auditQueryN.Add(1), 10)
	p.Direct(codec.NoticeSender, []rawpeer.Header{{Name: codec.HdrRequestID, Value: id}, {Name: codec.HdrMethod, Value: codec.MethodAudit},
		{Name: codec.HdrSelect, Value: sel}})
	m := awaitReply(t, ctx, p, id)
	if st, _ := m.Header(codec.HdrStatus); st != codec.StatusOK {
		code, _ := m.Header(codec.HdrError)
		return nil, code
	}
	var out []audit.Record
	for _, line := range m.Content {
		if len(line) == 0 {
			continue
		}
		r, err := audit.ParseLine(line)
		if err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out, ""
}

func hdr(kv ...string) []rawpeer.Header {
	var hs []rawpeer.Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, rawpeer.Header{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

// The audit log holds each request with its outcome — ok, error,
// no-such-client, expired, disconnected — a group request with the
// recipients of its receipt and its summary, and refused operations;
// the broker API answers it with filters, to local sessions only. Every
// peer is hand-framed (rawpeer): requester, devices, operator.
func TestAuditRequestsOverSockets(t *testing.T) {
	_, eps, _ := auditBroker(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	serves := rawpeer.Header{Name: codec.HdrServes, Value: "1"}
	dev1 := rawDial(t, ctx, eps[0], "dev1", serves)
	dev2 := rawDial(t, ctx, eps[0], "dev2", serves)
	for _, d := range []*rawpeer.Peer{dev1, dev2} {
		if err := d.Subscribe(ctx, "^rack$"); err != nil {
			t.Fatal(err)
		}
	}
	ctl := rawDial(t, ctx, eps[1], "ctl") // ipc: a local session, may read the log
	request := func(to, id, method, ttl string) {
		h := hdr(codec.HdrRequestID, id, codec.HdrMethod, method)
		if ttl != "" {
			h = append(h, hdr(codec.HdrTTL, ttl)...)
		}
		ctl.Direct(to, h)
	}
	answer := func(dev *rawpeer.Peer, status string) {
		cmd := awaitReply(t, ctx, dev, "")
		id, _ := cmd.Header(codec.HdrRequestID)
		dev.Direct(string(cmd.Sender), hdr(codec.HdrReplyTo, id, codec.HdrStatus, status))
	}
	request("dev1", "r-ok", "outlet.on", "5000")
	answer(dev1, codec.StatusOK)
	awaitReply(t, ctx, ctl, "r-ok")
	request("dev1", "r-err", "outlet.off", "")
	answer(dev1, codec.StatusError)
	awaitReply(t, ctx, ctl, "r-err")
	request("ghost", "r-none", "outlet.on", "")
	awaitReply(t, ctx, ctl, "r-none")
	request("dev1", "r-exp", "outlet.on", "0")
	awaitReply(t, ctx, ctl, "r-exp")

	// A group of two: dev1 answers, dev2 takes its command and a single
	// request, then hangs up.
	ctl.Publish("rack", hdr(codec.HdrRequestID, "g1", codec.HdrMethod, "reboot", codec.HdrTTL, "5000"))
	receipt := awaitReply(t, ctx, ctl, "g1")
	if n, _ := receipt.Header(codec.HdrRecipients); n != "2" {
		t.Fatalf("receipt lists %s recipients", n)
	}
	answer(dev1, codec.StatusOK)
	awaitReply(t, ctx, dev2, "")
	request("dev2", "r-disc", "outlet.on", "")
	awaitReply(t, ctx, dev2, "")
	dev2.Close()
	awaitReply(t, ctx, ctl, "r-disc")

	// A dry run is not a call, but it is recorded: who asked who would be reached.
	ctl.Publish("rack", hdr(codec.HdrRequestID, "dry", codec.HdrMethod, "reboot", codec.HdrDryRun, "1"))
	awaitReply(t, ctx, ctl, "dry")

	// Refused: a broker-owned header, a reserved HELLO identifier.
	ctl.Publish("x", hdr(codec.HdrMissed, "1"))
	bad, err := rawpeer.Dial(ctx, eps[0])
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.Send(rawpeer.Frame1(rawpeer.Hello, []string{"$zccp"}, true, nil))

	want := map[string]string{"r-ok": "ok", "r-err": "error", "r-none": "no_recipient", "r-exp": "expired", "r-disc": "disconnected"}
	var recs []audit.Record
	testutil.Eventually(t, "audit records of every request", func() bool {
		recs, _ = auditQuery(t, ctx, ctl, "")
		n := 0
		for _, r := range recs {
			if r.Kind == audit.KindRequest && want[r.RequestID] == r.Outcome || r.Kind == audit.KindGroup ||
				r.Kind == audit.KindRefusal && r.Code == codec.ErrCodeReserved {
				n++
			}
		}
		return n == len(want)+4
	})
	for _, r := range recs {
		switch {
		case r.RequestID == "r-ok":
			if r.By.Identifier != "ctl" || r.By.Remote == "" || r.Target != "dev1" || r.Method != "outlet.on" ||
				r.TTLms == nil || *r.TTLms != 5000 || r.Start.IsZero() || r.Time.Before(r.Start) {
				t.Errorf("ok record %+v", r)
			}
		case r.Kind == audit.KindGroup && r.RequestID == "dry":
			if r.Outcome != "dry_run" || r.NumRecip != 1 || r.Recipients[0] != "dev1" {
				t.Errorf("dry run record %+v", r)
			}
		case r.Kind == audit.KindGroup:
			slices.Sort(r.Recipients)
			if r.RequestID != "g1" || r.Target != "rack" || r.NumRecip != 2 || !slices.Equal(r.Recipients, []string{"dev1", "dev2"}) ||
				r.Summary["ok"] != 1 || r.Summary["disconnected"] != 1 || r.Summary["missing"] != 1 || r.Outcome != "disconnected" {
				t.Errorf("group record %+v", r)
			}
		case r.Kind == audit.KindRefusal && r.Command == "PUBLISH":
			if r.By.Identifier != "ctl" || !strings.Contains(r.Reason, codec.HdrMissed) {
				t.Errorf("refusal record %+v", r)
			}
		case r.Kind == audit.KindRefusal && r.Command == "HELLO":
			if r.By.Identifier != "$zccp" || r.By.Remote == "" {
				t.Errorf("refusal record %+v", r)
			}
		}
	}

	// Filters: one device, one method, a limit (the newest records).
	got, _ := auditQuery(t, ctx, ctl, "target=dev2")
	if len(got) != 2 || got[0].RequestID != "g1" && got[1].RequestID != "g1" {
		t.Errorf("target=dev2: %+v", got)
	}
	got, _ = auditQuery(t, ctx, ctl, "method=outlet.off&kind=request")
	if len(got) != 1 || got[0].RequestID != "r-err" {
		t.Errorf("method=outlet.off: %+v", got)
	}
	got, _ = auditQuery(t, ctx, ctl, "since="+time.Now().Add(time.Hour).Format(time.RFC3339))
	if len(got) != 0 {
		t.Errorf("since the future: %+v", got)
	}
	if _, code := auditQuery(t, ctx, ctl, "colour=red"); code != codec.ErrCodeBadRequest {
		t.Errorf("unknown filter: %q", code)
	}
	// Not a local session: refused, and the refusal is itself recorded.
	remote := rawDial(t, ctx, eps[0], "remote")
	if _, code := auditQuery(t, ctx, remote, ""); code != codec.ErrCodeNotAuthorized {
		t.Fatalf("audit over tcp: %q, want not-authorized", code)
	}
	testutil.Eventually(t, "the refused query recorded", func() bool {
		got, _ = auditQuery(t, ctx, ctl, "kind=refusal&target=remote")
		return len(got) == 1 && got[0].Method == codec.MethodAudit
	})
}

// A reply larger than the broker's maximum message size keeps the newest
// records and says how many older ones it left out.
func TestAuditQueryTruncated(t *testing.T) {
	_, eps, _ := auditBroker(t, Config{MaxMessageSize: 16 << 10})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctl := rawDial(t, ctx, eps[1], "ctl")
	const n = 300 // each no-such-client record is ~250 bytes: 75 KB in all
	for i := range n {
		ctl.Direct("nobody", hdr(codec.HdrRequestID, "r"+strconv.Itoa(i), codec.HdrMethod, "m"))
		awaitReply(t, ctx, ctl, "r"+strconv.Itoa(i))
	}
	id := "big"
	testutil.Eventually(t, "truncated reply", func() bool {
		ctl.Direct(codec.NoticeSender, hdr(codec.HdrRequestID, id, codec.HdrMethod, codec.MethodAudit))
		m := awaitReply(t, ctx, ctl, id)
		left, _ := m.Header(codec.HdrTruncated)
		k, _ := strconv.Atoi(left)
		last, _ := audit.ParseLine(m.Content[len(m.Content)-1])
		return k > 0 && k+len(m.Content) == n && last.RequestID == "r"+strconv.Itoa(n-1)
	})
}

// Key state changes are recorded with who made them: the pending record
// of an unknown key, an operator's accept (with the identifier and the
// pattern it bound) and revoke (with the bindings released), and the revoked key's next
// handshake as a refusal. The device speaks CURVE through zmtp only (no
// client library); the operator is a hand-framed peer on ipc.
func TestAuditKeyChanges(t *testing.T) {
	b, eps, _ := auditBroker(t, Config{})
	if err := b.EnableEnrolment(nil, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.EnableKeyBinding(nil); err != nil {
		t.Fatal(err)
	}
	kp, _ := zmtp.NewCurveKeyPair()
	m := zmtp.NewCurveServer(kp)
	m.Authorize = b.AuthorizeKey
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	curveEP := zmtp.EndpointOf(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	dev, devKeys := curveRaw(t, curveEP, kp.Public)
	dev.send(codec.Message{ID: codec.Hello, Identifier: "pdu-7"})
	dev.expectNotice(codec.ErrCodeNotAuthorized)
	op := rawDial(t, ctx, eps[1], "operator")
	key := devKeys.Public.String()
	op.Direct(codec.NoticeSender, hdr(codec.HdrRequestID, "acc", codec.HdrMethod, MethodKeysAccept, codec.HdrSelect, "key="+key+",ident=pdu-7,ident=rack1.pdu*"))
	awaitReply(t, ctx, op, "acc")
	dev.waitClosed()
	op.Direct(codec.NoticeSender, hdr(codec.HdrRequestID, "rev", codec.HdrMethod, MethodKeysRevoke, codec.HdrSelect, "key="+key))
	awaitReply(t, ctx, op, "rev")
	if _, err := dialCurveErr(curveEP, kp.Public, devKeys); err == nil {
		t.Fatal("a revoked key completed the handshake")
	}
	var recs []audit.Record
	testutil.Eventually(t, "key records", func() bool {
		recs, _ = auditQuery(t, ctx, op, url.Values{"target": {key}}.Encode()) // Z85 has & + % =
		return len(recs) >= 9
	})
	var steps []string
	for _, r := range recs {
		steps = append(steps, r.Kind+":"+r.Action+r.Code)
		if r.Kind == audit.KindKey && r.Action != KeyPending && r.By.Identifier != "operator" {
			t.Errorf("operator's change without the operator: %+v", r)
		}
	}
	want := []string{"key:pending", "refusal:not-authorized", "key:accepted", "key:bound", "key:bound", "key:revoked",
		"key:released", "key:released", "refusal:not-authorized"}
	if !slices.Equal(steps, want) {
		t.Fatalf("key records %v, want %v\n%+v", steps, want, recs)
	}
	if recs[1].Command != "HELLO" || recs[8].Command != "CURVE" || recs[3].Identifier != "pdu-7" || recs[4].Identifier != "rack1.pdu*" ||
		recs[5].From != KeyAccepted || recs[6].Identifier != "pdu-7" || recs[7].Identifier != "rack1.pdu*" {
		t.Fatalf("records %+v", recs)
	}
}

// A client refused in a loop costs the log one record per window, plus
// a summary with the count, not one record per refusal.
func TestAuditRefusalsAggregated(t *testing.T) {
	b, eps, _ := auditBroker(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctl := rawDial(t, ctx, eps[1], "ctl")
	flood := rawDial(t, ctx, eps[0], "flood")
	const n = 2000
	for range n {
		flood.Publish("a", hdr(codec.HdrMissed, "1"))
	}
	// A round trip: every PUBLISH before it has been handled.
	flood.Direct("ghost", hdr(codec.HdrRequestID, "sync", codec.HdrMethod, "m"))
	awaitReply(t, ctx, flood, "sync")
	b.auditFlush(time.Now().Add(audit.DefaultLimitWindow)) // as the ticker would once the window ends
	var got []audit.Record
	testutil.Eventually(t, "aggregated refusals", func() bool {
		got, _ = auditQuery(t, ctx, ctl, "kind=refusal&target=flood")
		return len(got) == 1
	})
	got, _ = auditQuery(t, ctx, ctl, "kind=refusal")
	total := 0
	for _, r := range got {
		total += max(r.Count, 1)
	}
	if len(got) != 2 || total != n {
		t.Fatalf("%d records standing for %d refusals, want 2 for %d: %+v", len(got), total, n, got)
	}
}

// Refusals by the permissions policy are in the log: a request the
// policy does not allow (refused with an error reply) and a PUBLISH
// outside the policy (refused with a notice), each with who, what and
// why. Hand-framed peers.
func TestAuditPolicyRefusals(t *testing.T) {
	b, eps, _ := auditBroker(t, Config{})
	b.SetPolicy(mustPolicy(t, testPolicy))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ops := rawDial(t, ctx, eps[1], "ops-1")
	viewer := rawDial(t, ctx, eps[0], "guest")
	rawDial(t, ctx, eps[0], "pdu-1", rawpeer.Header{Name: codec.HdrServes, Value: "1"})
	viewer.Direct("pdu-1", hdr(codec.HdrRequestID, "p1", codec.HdrMethod, "outlet.off"))
	if m := awaitReply(t, ctx, viewer, "p1"); m.Headers()[codec.HdrError] != codec.ErrCodeNotAuthorized {
		t.Fatalf("reply %v", m.Headers())
	}
	viewer.Publish("cmd.pdu-1.off", nil, []byte("x"))
	var got []audit.Record
	testutil.Eventually(t, "policy refusals recorded", func() bool {
		got, _ = auditQuery(t, ctx, ops, "kind=refusal&target=guest")
		return len(got) == 2
	})
	if got[0].Command != "DIRECT" || got[0].Method != "outlet.off" || got[0].RequestID != "p1" || got[0].Target != "pdu-1" ||
		got[0].Code != codec.ErrCodeNotAuthorized || !strings.Contains(got[0].Reason, "policy") {
		t.Errorf("request refusal %+v", got[0])
	}
	if got[1].Command != "PUBLISH" || got[1].Target != "cmd.pdu-1.off" || got[1].By.Identifier != "guest" {
		t.Errorf("publish refusal %+v", got[1])
	}
}

// Without enrolment, a key refused by the CURVE server's own check (as
// zccpd --client-keys does) is recorded as a refusal in the handshake.
func TestAuditClientKeysRefusal(t *testing.T) {
	b, eps, _ := auditBroker(t, Config{})
	kp, _ := zmtp.NewCurveKeyPair()
	m := zmtp.NewCurveServer(kp)
	m.Authorize = func(_ context.Context, p zmtp.CurvePeer) error {
		return errors.New("key " + p.Key.String() + " is not in the list")
	}
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(zmtp.ListenerWithMechanism(ln, m))
	stranger, _ := zmtp.NewCurveKeyPair()
	if _, err := dialCurveErr(zmtp.EndpointOf(ln), kp.Public, stranger); err == nil {
		t.Fatal("a refused key completed the handshake")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctl := rawDial(t, ctx, eps[1], "ctl")
	testutil.Eventually(t, "the refusal recorded", func() bool {
		got, _ := auditQuery(t, ctx, ctl, "kind=refusal")
		return len(got) == 1 && got[0].Command == "CURVE" && strings.Contains(got[0].Reason, stranger.Public.String())
	})
}
