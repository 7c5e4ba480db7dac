package broker

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/zccp-go/zccp/audit"
)

// The audit trail across a federation: each broker keeps its own log; the
// audit method asks the other brokers for their matching records (package
// federation: a request on <prefix>.fed.audit, answered by every broker
// from its own files) and merges them with its own, newest kept, each
// record naming its broker.

// AuditFederation is implemented by a Federation that can query the
// other brokers' audit logs.
type AuditFederation interface {
	// AuditRemote asks every other live broker for its newest records
	// matching f (at most limit, 0: no limit, and at most maxBytes of
	// lines each). It waits a bounded time and returns the answers that
	// came and the names of the brokers that did not answer.
	AuditRemote(f audit.Filter, limit int, maxBytes int64) (answers []AuditAnswer, missing []string)
}

// AuditAnswer is one broker's answer to an audit query.
type AuditAnswer struct {
	Broker string   `json:"n"`    // its name
	Lines  [][]byte `json:"l"`    // records, JSON, oldest first
	Left   int      `json:"left"` // older matching records it left out
	Err    string   `json:"err,omitempty"`
}

// auditLink returns the federation's audit side, or nil.
func (b *Broker) auditLink() AuditFederation {
	f, _ := linkAs[AuditFederation](b)
	return f
}

// AuditLocal answers another broker's audit query from this broker's
// log (an error when it has none).
func (b *Broker) AuditLocal(f audit.Filter, limit int, maxBytes int64) AuditAnswer {
	ans := AuditAnswer{Broker: b.cfg.Name}
	if b.audit == nil {
		ans.Err = "audit log off"
		return ans
	}
	b.audit.queries.Lock()
	defer b.audit.queries.Unlock()
	b.audit.log.Sync(time.Second)
	res, err := audit.Query(b.audit.log.Dir(), f, limit, maxBytes)
	if err != nil {
		ans.Err = err.Error()
		return ans
	}
	ans.Lines, ans.Left = res.Lines, res.Left
	return ans
}

// auditMerged adds the other brokers' records to this broker's (local)
// when the broker is federated: every record is tagged with its broker's
// name; the newest within limit and maxBytes are kept, oldest first; the
// rest count in left. missing names the brokers that did not answer.
func (b *Broker) auditMerged(local audit.Result, f audit.Filter, limit int, maxBytes int64) (lines [][]byte, left int, missing []string) {
	fed := b.auditLink()
	if fed == nil {
		return local.Lines, local.Left, nil
	}
	answers, missing := fed.AuditRemote(f, limit, maxBytes)
	type tagged struct {
		at   time.Time
		line []byte
	}
	var all []tagged
	add := func(ans AuditAnswer) {
		left += ans.Left
		for _, line := range ans.Lines {
			var r audit.Record
			if json.Unmarshal(line, &r) != nil {
				continue
			}
			r.Broker = ans.Broker
			out, _ := json.Marshal(&r)
			all = append(all, tagged{r.Time, out})
		}
		if ans.Err != "" {
			missing = append(missing, ans.Broker+" ("+ans.Err+")")
		}
	}
	add(AuditAnswer{Broker: b.cfg.Name, Lines: local.Lines, Left: local.Left})
	for _, ans := range answers {
		add(ans)
	}
	slices.SortStableFunc(all, func(x, y tagged) int { return x.at.Compare(y.at) })
	var size int64
	first := len(all)
	for first > 0 && (limit == 0 || len(all)-first < limit) {
		n := int64(len(all[first-1].line) + 9)
		if size+n > maxBytes {
			break
		}
		size += n
		first--
	}
	left += first
	for _, t := range all[first:] {
		lines = append(lines, t.line)
	}
	return lines, left, missing
}
