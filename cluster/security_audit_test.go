package cluster

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
)

// auditRecords queries the audit method on m as its local operator.
func auditRecords(t *testing.T, ctx context.Context, m *secureMember, sel string) ([]audit.Record, map[string]string) {
	t.Helper()
	r := m.call(t, ctx, codec.MethodAudit, sel)
	var recs []audit.Record
	for _, line := range r.Content {
		if len(line) == 0 {
			continue
		}
		var rec audit.Record
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs, r.Headers()
}

// The audit trail is cluster-wide: a request made through A to a device
// on C, and a key accepted by an operator on A, appear in the audit
// queried from B (each record naming the broker whose log holds it),
// oldest first; B's own records are tagged B. All peers are hand-framed.
func TestAuditAcrossBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	a := startSecureMember(t, nodes[0].ClientURL(), "A", nil)
	b := startSecureMember(t, nodes[1].ClientURL(), "B", nil)
	c := startSecureMember(t, nodes[2].ClientURL(), "C", nil)
	dev := peer(t, ctx, c.ep, "pdu-a1")
	caller := peer(t, ctx, a.ep, "ops")
	testutil.Eventually(t, "A and C know each other's clients, B knows A and C", func() bool {
		return a.b.RemoteHolder("pdu-a1") == c.node.ID() && c.b.RemoteHolder("ops") == a.node.ID() && len(b.b.RemoteInterest()) == 2
	})
	if err := caller.Direct("pdu-a1", hdr("zccp-request-id", "r1", "zccp-method", "outlet.off"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	expectCommand(t, ctx, dev, "r1", "ops")
	dev.Direct("ops", hdr("zccp-reply-to", "r1", "zccp-status", "ok"), []byte("done"))
	expectReply(t, ctx, caller, "r1", "pdu-a1", "ok", "", "")
	k := newKeys(t)
	a.operate(t, ctx, broker.MethodKeysAccept, "key="+k.Public.String())
	b.operate(t, ctx, broker.MethodKeysReject, "key="+newKeys(t).Public.String())

	var recs []audit.Record
	var h map[string]string
	testutil.Eventually(t, "B's audit shows the request through A", func() bool {
		recs, h = auditRecords(t, ctx, b, "target=pdu-a1&kind=request")
		return len(recs) > 0
	})
	brokers := map[string]bool{}
	for _, r := range recs {
		t.Logf("request record from %s: %s", r.Broker, audit.Format(&r))
		if r.Target != "pdu-a1" || r.Method != "outlet.off" || r.RequestID != "r1" || r.Outcome != "ok" || r.By.Identifier != "ops" {
			t.Fatalf("record %+v", r)
		}
		brokers[r.Broker] = true
	}
	if !brokers["A"] || brokers["B"] || h[codec.HdrMissingBrokers] != "" {
		t.Fatalf("request records from %v, headers %v", brokers, h)
	}
	recs, h = auditRecords(t, ctx, b, "kind=key")
	var fromA, fromB bool
	for i, r := range recs {
		fromA = fromA || r.Broker == "A" && r.Key == k.Public.String() && r.Action == broker.KeyAccepted
		fromB = fromB || r.Broker == "B" && r.Action == broker.KeyRejected
		if i > 0 && r.Time.Before(recs[i-1].Time) {
			t.Fatalf("records out of order: %+v", recs)
		}
	}
	if !fromA || !fromB || h[codec.HdrMissingBrokers] != "" {
		t.Fatalf("key records %+v, headers %v", recs, h)
	}
}
