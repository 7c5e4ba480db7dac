package broker

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/policy"
)

// Permissions (package policy). With a policy installed, each session's
// grant is resolved from its CURVE key, identifier, labels and ipc uid,
// lazily and again after every SetPolicy (a reload applies to live
// sessions from their next operation). An operation the grant does not
// allow is refused through notAuthorized; deliveries are filtered at
// delivery instead, silently: a subscriber never learns what it may not
// see. Without a policy nothing here costs more than one atomic load.

// Policy operations, the op label of zccp_not_authorized_total.
const (
	OpPublish      = "publish"       // PUBLISH to an address outside the publish rules
	OpSubscribe    = "subscribe"     // SUBSCRIBE by a role that may receive nothing
	OpDirect       = "direct"        // plain DIRECT to an identifier outside the direct rules
	OpRequest      = "request"       // request to one device (target or method not allowed)
	OpGroupRequest = "group-request" // request to an address (target or method not allowed)
	OpAPI          = "api"           // broker API method ($zccp) not allowed
)

var policyOps = [...]string{OpPublish, OpSubscribe, OpDirect, OpRequest, OpGroupRequest, OpAPI}

// errNotAuthorized marks policy refusals in the refusal log.
var errNotAuthorized = errors.New("operation not authorized by the policy")

// policyState is the broker's side of permissions.
type policyState struct {
	cur     atomic.Pointer[policy.Policy]
	refused [len(policyOps)]atomic.Uint64
}

// sessionGrant is a session's grant under one policy.
type sessionGrant struct {
	pol *policy.Policy
	g   *policy.Grant
}

// SetPolicy installs a permission policy; nil allows everything. Live
// sessions follow it from their next operation.
func (b *Broker) SetPolicy(p *policy.Policy) {
	b.pol.cur.Store(p)
	if p != nil {
		b.log.Info("permission policy in force", "policy", p.Source, "summary", p.Summary())
	} else {
		b.log.Info("no permission policy: every operation allowed")
	}
}

// Policy returns the policy in force (nil: none).
func (b *Broker) Policy() *policy.Policy { return b.pol.cur.Load() }

// grant returns s's grant, nil without a policy.
func (b *Broker) grant(s *session) *policy.Grant {
	pol := b.pol.cur.Load()
	if pol == nil {
		return nil
	}
	return grantUnder(pol, s)
}

// grantUnder returns s's grant under pol, resolving it once per policy.
// Two goroutines may resolve it at once; both get the same answer.
func grantUnder(pol *policy.Policy, s *session) *policy.Grant {
	if sg := s.grant.Load(); sg != nil && sg.pol == pol {
		return sg.g
	}
	sub := policy.Subject{Key: s.peer.fx.peerKey(), Ident: s.ident, Labels: s.labels, UID: -1}
	if c := s.peer.conn; c != nil { // nil: the transcripts' mem run
		if cred, ok := c.PeerCred(); ok {
			sub.UID = cred.UID
		}
	}
	g := pol.Resolve(sub)
	s.grant.Store(&sessionGrant{pol: pol, g: g})
	return g
}

// deliverFilter answers "may address be delivered to t" during one
// routing of one address. Sessions of a role without {id} share a grant,
// so the last few grants' answers are kept: a publish to a thousand
// subscribers of three roles evaluates the policy three times.
type deliverFilter struct {
	pol     *policy.Policy // nil: no policy, everything passes
	address []byte
	grants  [4]*policy.Grant
	answers [4]bool
	next    int
}

func (b *Broker) newDeliverFilter(address []byte) deliverFilter {
	return deliverFilter{pol: b.pol.cur.Load(), address: address}
}

// allows reports whether the filter's address may be delivered to t.
func (f *deliverFilter) allows(t *session) bool {
	if f.pol == nil {
		return true
	}
	g := grantUnder(f.pol, t)
	for i, c := range f.grants {
		if c == g {
			return f.answers[i]
		}
	}
	ok := g.MayDeliver(f.address)
	i := f.next % len(f.grants)
	f.grants[i], f.answers[i] = g, ok
	f.next++
	return ok
}

// mayReceive keeps, in place, the targets that may receive address.
func (b *Broker) mayReceive(targets []*session, address []byte) []*session {
	f := b.newDeliverFilter(address)
	if f.pol == nil {
		return targets
	}
	out := targets[:0]
	for _, t := range targets {
		if f.allows(t) {
			out = append(out, t)
		}
	}
	return out
}

// mayDeliver is allows for one session outside a routing loop.
func (b *Broker) mayDeliver(t *session, address []byte) bool {
	g := b.grant(t)
	return g == nil || g.MayDeliver(address)
}

// notAuthorized refuses one operation of s under the policy. The client
// is told: a request gets its final error reply (zccp-reply-to, so the
// caller's wait ends), anything else a not-authorized notice. The
// refusal is counted per op and logged (rate-limited). Every refusal by
// the policy goes through here.
func (p *peer) notAuthorized(s *session, op, target string, e *ext) {
	b := p.b
	role := "(none)"
	if g := b.grant(s); g != nil {
		role = g.Role
	}
	method := ""
	if e != nil {
		method = string(e.method)
	}
	reason := "the policy does not allow role " + role + " to " + opVerb(op, method) + " " + strconv.Quote(target)
	for i, o := range policyOps {
		if o == op {
			b.pol.refused[i].Add(1)
		}
	}
	b.refusals.note(p.fx.remote(), fmt.Errorf("%w: identifier %q key %s: %s", errNotAuthorized, s.ident, keyString(p.fx.peerKey()), reason))
	if e != nil && e.requestID != nil {
		p.auditRequestRefused(s, opCommand(op), target, e, reason) // audit.go (a notice is audited in notice)
		recipient := ""
		switch op {
		case OpRequest:
			recipient = target
		case OpAPI:
			recipient = codec.NoticeSender
		}
		p.reply(requestError(string(e.requestID), recipient, codec.ErrCodeNotAuthorized, reason))
		return
	}
	p.notice(codec.ErrCodeNotAuthorized, reason, opCommand(op), target)
}

func opVerb(op, method string) string {
	switch op {
	case OpPublish:
		return "publish to"
	case OpSubscribe:
		return "receive anything; SUBSCRIBE to"
	case OpDirect:
		return "send a DIRECT to"
	case OpAPI:
		return "call the broker method"
	}
	return "call method " + strconv.Quote(method) + " of"
}

func opCommand(op string) string {
	switch op {
	case OpPublish, OpGroupRequest:
		return "PUBLISH"
	case OpSubscribe:
		return "SUBSCRIBE"
	}
	return "DIRECT"
}

// writePolicyMetrics writes zccp_not_authorized_total by op.
func (b *Broker) writePolicyMetrics(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# HELP zccp_not_authorized_total Operations refused by the permission policy (--policy), by operation.\n# TYPE zccp_not_authorized_total counter\n")
	for i, op := range policyOps {
		if err == nil {
			_, err = fmt.Fprintf(w, "zccp_not_authorized_total{op=%q} %d\n", op, b.pol.refused[i].Load())
		}
	}
	return err
}

// mayPublish checks a PUBLISH (plain, or a group request) against s's
// grant, refusing it when not allowed.
func (p *peer) mayPublish(s *session, address []byte, e *ext) bool {
	g := p.b.grant(s)
	switch {
	case g == nil:
		return true
	case e.requestID != nil:
		if g.MayGroup(address, e.method) {
			return true
		}
		p.notAuthorized(s, OpGroupRequest, string(address), e)
	case g.MayPublish(address):
		return true
	default:
		p.notAuthorized(s, OpPublish, string(address), e)
	}
	return false
}

// mayDirect checks a DIRECT to a client. A reply (zccp-reply-to) or a
// cancel (zccp-cancel-request) is always allowed when it concerns a
// request outstanding between the two sessions: a device answers its
// requester whatever its own direct rules say.
func (p *peer) mayDirect(s *session, target []byte, e *ext) bool {
	g := p.b.grant(s)
	if g == nil || g.MayDirect(target, e.method) {
		return true
	}
	if e.replyTo != nil || e.cancel != nil {
		if t := p.b.lookup(target); t != nil && p.b.outstanding(s, t, e) || p.b.outstandingRemote(s, target, e) { // federation_request.go
			return true
		}
	}
	op := OpDirect
	if e.requestID != nil {
		op = OpRequest
	}
	p.notAuthorized(s, op, string(target), e)
	return false
}

// outstanding reports whether e replies to a request t made of s, or
// cancels one s made of t.
func (b *Broker) outstanding(s, t *session, e *ext) bool {
	b.reqMu.Lock()
	defer b.reqMu.Unlock()
	if e.replyTo != nil {
		return s.inflight[requestKey{t, string(e.replyTo)}] != nil
	}
	return t.inflight[requestKey{s, string(e.cancel)}] != nil
}

// mayCall checks a broker API method.
func (p *peer) mayCall(s *session, e *ext) bool {
	g := p.b.grant(s)
	if g == nil || g.MayCall(string(e.method)) {
		return true
	}
	p.notAuthorized(s, OpAPI, string(e.method), e)
	return false
}

// maySubscribe refuses a SUBSCRIBE by a session that may receive
// nothing. Other expressions are accepted and filtered at delivery: an
// expression such as .* matches allowed and forbidden addresses alike.
func (p *peer) maySubscribe(s *session, expr string) bool {
	g := p.b.grant(s)
	if g == nil || !g.DeliversNothing() {
		return true
	}
	p.notAuthorized(s, OpSubscribe, expr, nil)
	return false
}
