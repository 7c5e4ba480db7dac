package federation

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/broker"
)

// The audit trail across brokers: every broker keeps its own log (its
// files) and answers audit queries of the others on <prefix>.fed.audit
// (a NATS request; every broker answers, each from its own files, the
// requester collects the answers until every live broker has answered or
// AuditWait has passed). The broker merges them with its own
// (broker.AuditFederation).

// AuditWait bounds how long an audit query waits for the other brokers.
const AuditWait = 2 * time.Second

// auditRequest is a query on <prefix>.fed.audit (JSON).
type auditRequest struct {
	From   string    `json:"from"` // the asking broker's id
	Since  time.Time `json:"since,omitzero"`
	Until  time.Time `json:"until,omitzero"`
	Target string    `json:"target,omitempty"`
	Method string    `json:"method,omitempty"`
	Kind   string    `json:"kind,omitempty"`
	Limit  int       `json:"limit,omitempty"`
	Max    int64     `json:"max"` // bytes of lines at most
}

// auditReply is one broker's answer (JSON; the records stay JSON).
type auditReply struct {
	ID    string            `json:"id"`
	Name  string            `json:"n"`
	Lines []json.RawMessage `json:"l,omitempty"`
	Left  int               `json:"left,omitempty"`
	Err   string            `json:"err,omitempty"`
}

func (n *Node) auditSubject() string { return n.o.Prefix + ".fed.audit" }

// subscribeAudit answers the other brokers' audit queries.
func (n *Node) subscribeAudit() error {
	s, err := n.nc.Subscribe(n.auditSubject(), n.onAudit)
	if err != nil {
		return fmt.Errorf("federation: subscribe %s: %w", n.auditSubject(), err)
	}
	n.subs = append(n.subs, s)
	return nil
}

// onAudit answers one query from this broker's log, within the NATS
// payload limit.
func (n *Node) onAudit(m *nats.Msg) {
	var q auditRequest
	if json.Unmarshal(m.Data, &q) != nil || q.From == "" || m.Reply == "" {
		n.stats.bad.Add(1)
		return
	}
	if q.From == n.id {
		return
	}
	budget := min(max(q.Max, 0), n.nc.MaxPayload()*3/4)
	ans := n.b.AuditLocal(audit.Filter{Since: q.Since, Until: q.Until, Target: q.Target, Method: q.Method, Kind: q.Kind}, q.Limit, budget)
	r := auditReply{ID: n.id, Name: ans.Broker, Left: ans.Left, Err: ans.Err}
	for _, l := range ans.Lines {
		r.Lines = append(r.Lines, l)
	}
	data, err := json.Marshal(r)
	if err != nil { // a line that is not JSON: answer without lines
		r.Lines, r.Err = nil, "unreadable records"
		data, _ = json.Marshal(r)
	}
	if err := m.Respond(data); err != nil {
		n.log.Warn("audit answer not sent", "to", q.From, "err", err)
	}
}

// AuditRemote implements broker.AuditFederation.
func (n *Node) AuditRemote(f audit.Filter, limit int, maxBytes int64) ([]broker.AuditAnswer, []string) {
	n.mu.Lock()
	want := make(map[string]string, len(n.remotes))
	for id, r := range n.remotes {
		want[id] = r.name
	}
	n.mu.Unlock()
	if len(want) == 0 {
		return nil, nil
	}
	var answers []broker.AuditAnswer
	inbox := n.nc.NewInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err == nil {
		defer sub.Unsubscribe()
		data, _ := json.Marshal(auditRequest{From: n.id, Since: f.Since, Until: f.Until, Target: f.Target,
			Method: f.Method, Kind: f.Kind, Limit: limit, Max: maxBytes})
		err = n.nc.PublishRequest(n.auditSubject(), inbox, data)
	}
	deadline := time.Now().Add(AuditWait)
	for err == nil && len(want) > 0 {
		var m *nats.Msg
		if m, err = sub.NextMsg(time.Until(deadline)); err != nil {
			break
		}
		var r auditReply
		if json.Unmarshal(m.Data, &r) != nil {
			n.stats.bad.Add(1)
			continue
		}
		if _, ok := want[r.ID]; !ok {
			continue // a broker not known yet, or a second answer
		}
		delete(want, r.ID)
		a := broker.AuditAnswer{Broker: r.Name, Left: r.Left, Err: r.Err}
		for _, l := range r.Lines {
			a.Lines = append(a.Lines, l)
		}
		answers = append(answers, a)
	}
	var missing []string
	for _, name := range want {
		missing = append(missing, name)
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		n.log.Warn("audit query: brokers did not answer", "brokers", missing, "err", err)
	}
	return answers, missing
}
