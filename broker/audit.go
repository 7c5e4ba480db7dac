package broker

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// The audit trail (package audit): every request and group request at
// its end, every key state change and identifier binding, every refused
// operation. Records are made where the broker already observes these
// things (call.end for requests, setKeyState and the bindings for keys,
// peer.notice for refusals) and handed to the audit log's writer without
// waiting; with auditing off (b.audit nil) each hook is one nil check.

// auditor is the broker's side of the audit log.
type auditor struct {
	log *audit.Log
	lim audit.Limiter // refusals, aggregated per client and kind

	// queries lets one audit query read the files at a time: a query
	// scans up to the whole trail, so clients asking in a loop cost the
	// broker one scan at a time, not one per connection.
	queries sync.Mutex
}

// EnableAudit makes the broker write its audit records to l. Call it
// before serving any endpoint.
func (b *Broker) EnableAudit(l *audit.Log) {
	b.audit = &auditor{log: l}
}

// reqAudit is what a request's record needs, captured when the request
// reached the broker; nil when auditing is off.
type reqAudit struct {
	by     audit.Actor
	target string // the device; a group's address
	method string
	id     string
	ttl    int64 // ms; -1: none
}

// groupAudit follows a group request for its record: the recipients of
// its receipt and how each one's part ended.
type groupAudit struct {
	reqAudit
	recipients []string // at most audit.MaxRecipients names
	n          int
	counts     [numOutcomes]atomic.Int32
}

// actor describes p's client: its session's identifier (or ident, before
// it has one), its CURVE key and its address.
func (p *peer) actor(s *session, ident string) audit.Actor {
	if s != nil {
		ident = s.ident
	}
	a := audit.Actor{Identifier: audit.Clip(ident), Remote: addrString(p.fx.remote())}
	if k := p.fx.peerKey(); !k.IsZero() {
		a.Key = k.String()
	}
	return a
}

// auditReq captures a request from s to target, or returns nil when
// auditing is off.
func (p *peer) auditReq(s *session, target []byte, e *ext) *reqAudit {
	if p.b.audit == nil {
		return nil
	}
	ra := &reqAudit{by: p.actor(s, ""), target: audit.Clip(string(target)), method: audit.Clip(string(e.method)),
		id: audit.Clip(string(e.requestID)), ttl: -1}
	if ms, err := strconv.ParseInt(string(e.ttl), 10, 64); err == nil && ms >= 0 {
		ra.ttl = ms
	}
	return ra
}

// record returns the request's record as it ended with o.
func (ra *reqAudit) record(kind string, start time.Time, o Outcome) audit.Record {
	r := audit.Record{Time: time.Now().UTC(), Kind: kind, By: ra.by, Target: ra.target, Method: ra.method,
		RequestID: ra.id, Start: start.UTC(), Outcome: o.String()}
	if ra.ttl >= 0 {
		ttl := ra.ttl
		r.TTLms = &ttl
	}
	return r
}

// auditSingle writes the record of a request to one device that ended.
func (b *Broker) auditSingle(c call, o Outcome) {
	if c.a != nil && b.audit != nil {
		b.audit.log.Add(c.a.record(audit.KindRequest, c.start, o))
	}
}

// auditGroupStart captures a group request, or returns nil when
// auditing is off.
func (p *peer) auditGroupStart(s *session, address []byte, e *ext) *groupAudit {
	ra := p.auditReq(s, address, e)
	if ra == nil {
		return nil
	}
	return &groupAudit{reqAudit: *ra}
}

// setRecipients notes the receipt's recipients (before any command is
// sent, so before any part can end).
func (ga *groupAudit) setRecipients(rs []*session) {
	if ga == nil {
		return
	}
	ga.n = len(rs)
	size := 0
	for _, r := range rs[:min(len(rs), audit.MaxRecipients)] {
		if size += len(r.ident); size > audit.MaxRecipientBytes {
			break
		}
		ga.recipients = append(ga.recipients, r.ident)
	}
}

// auditGroupEnd writes a group request's record: worst is its outcome
// (memberEnded's rule), the summary counts its recipients per outcome.
func (b *Broker) auditGroupEnd(g *groupCall, worst Outcome) {
	ga := g.a
	if ga == nil || b.audit == nil {
		return
	}
	r := ga.record(audit.KindGroup, g.start, worst)
	r.Recipients, r.NumRecip = ga.recipients, ga.n
	r.Summary = map[string]int{}
	for o := range numOutcomes {
		n := int(ga.counts[o].Load())
		if n == 0 {
			continue
		}
		r.Summary[o.String()] = n
		switch o {
		case OutcomeExpired, OutcomeDisconnected, OutcomeRefused, OutcomeForgotten:
			r.Summary["missing"] += n // no answer from the device: the broker answered for it
		}
	}
	b.audit.log.Add(r)
}

// auditNotice records a notice that refuses an operation (not-authorized,
// reserved), aggregated per client and kind by the limiter.
func (p *peer) auditNotice(code, reason, command, address string) {
	if p.b.audit == nil || (code != codec.ErrCodeNotAuthorized && code != codec.ErrCodeReserved) {
		return
	}
	s := p.session()
	ident := ""
	if command == "HELLO" {
		ident = address
	}
	p.b.auditRefusal(audit.Record{Time: time.Now().UTC(), Kind: audit.KindRefusal, By: p.actor(s, ident),
		Code: code, Command: command, Target: audit.Clip(address), Reason: audit.Clip(reason)})
}

// auditRefusal writes a refusal through the limiter.
func (b *Broker) auditRefusal(r audit.Record) {
	if b.audit == nil {
		return
	}
	for _, out := range b.audit.lim.Note(r) {
		b.audit.log.Add(out)
	}
}

// auditMethodRefused records a broker API request refused to p's client.
func (p *peer) auditMethodRefused(s *session, e *ext, code, reason string) {
	if p.b.audit == nil {
		return
	}
	p.b.auditRefusal(audit.Record{Time: time.Now().UTC(), Kind: audit.KindRefusal, By: p.actor(s, ""), Code: code,
		Command: "DIRECT", Target: codec.NoticeSender, Method: audit.Clip(string(e.method)), Reason: audit.Clip(reason)})
}

// auditFlush writes the refusal summaries of windows that ended; the
// ticker calls it.
func (b *Broker) auditFlush(now time.Time) {
	if b.audit == nil {
		return
	}
	for _, r := range b.audit.lim.Flush(now) {
		b.audit.log.Add(r)
	}
}

// auditKey records a change of a key's state or of an identifier's
// binding, done by by (an operator, or the client itself).
func (b *Broker) auditKey(by audit.Actor, key zmtp.CurveKey, ident, action, from string) {
	if b.audit == nil {
		return
	}
	r := audit.Record{Time: time.Now().UTC(), Kind: audit.KindKey, By: by, Identifier: audit.Clip(ident), Action: action, From: from}
	if !key.IsZero() {
		r.Key = key.String()
	}
	b.audit.log.Add(r)
}

// curveActor is the client of a CURVE handshake, before any session.
func curveActor(p zmtp.CurvePeer) audit.Actor {
	return audit.Actor{Key: p.Key.String(), Remote: addrString(p.Remote)}
}

// Actions of key records besides the key states.
const (
	auditBound    = "bound"    // an identifier bound to the key (From: its previous key)
	auditReleased = "released" // an identifier freed by its key's revocation or rejection
)

// keyFrom names a previous owner key ("" for none).
func keyFrom(k zmtp.CurveKey) string {
	if k.IsZero() {
		return ""
	}
	return k.String()
}

// auditKeyState records a key's new state and the identifiers it lost.
func (b *Broker) auditKeyState(by audit.Actor, key zmtp.CurveKey, state, from string, released []string) {
	b.auditKey(by, key, "", state, from)
	for _, ident := range released {
		b.auditKey(by, key, ident, auditReleased, "")
	}
}

// auditHandshakeRefused records a rejected or revoked key refused in the
// CURVE handshake (aggregated like every refusal).
func (b *Broker) auditHandshakeRefused(p zmtp.CurvePeer, state string) {
	b.auditRefusal(audit.Record{Time: time.Now().UTC(), Kind: audit.KindRefusal, By: curveActor(p),
		Code: codec.ErrCodeNotAuthorized, Command: "CURVE", Reason: "key " + state})
}

// auditRequestRefused records a request refused with an error reply
// rather than a notice (the policy's notAuthorized): the refusal names the
// method and request id.
func (p *peer) auditRequestRefused(s *session, command, target string, e *ext, reason string) {
	if p.b.audit == nil {
		return
	}
	p.b.auditRefusal(audit.Record{Time: time.Now().UTC(), Kind: audit.KindRefusal, By: p.actor(s, ""),
		Code: codec.ErrCodeNotAuthorized, Command: command, Target: audit.Clip(target), Method: audit.Clip(string(e.method)),
		RequestID: audit.Clip(string(e.requestID)), Reason: audit.Clip(reason)})
}

// auditDryRun records a group dry run: not a call, but it tells its
// requester who would be reached, so the log says who asked.
func (b *Broker) auditDryRun(g *groupCall) {
	ga := g.a
	if ga == nil || b.audit == nil {
		return
	}
	r := ga.record(audit.KindGroup, g.start, OutcomeOK)
	r.Outcome, r.Recipients, r.NumRecip = "dry_run", ga.recipients, ga.n
	b.audit.log.Add(r)
}

// handshakeFailed is the zmtp server's OnError: every refused connection
// is logged (rate-limited); a CURVE key refused by the Authorize hook of
// zccpd --client-keys is also a refusal in the audit log (with enrolment
// on, AuthorizeKey has recorded it with its key already).
func (b *Broker) handshakeFailed(remote net.Addr, err error) {
	b.refusals.note(remote, err)
	if b.audit != nil && b.enrol == nil && errors.Is(err, zmtp.ErrUnauthorized) {
		b.auditRefusal(audit.Record{Time: time.Now().UTC(), Kind: audit.KindRefusal, By: audit.Actor{Remote: addrString(remote)},
			Code: codec.ErrCodeNotAuthorized, Command: "CURVE", Reason: audit.Clip(err.Error())})
	}
}
