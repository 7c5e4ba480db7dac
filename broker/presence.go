package broker

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// sysPrefix marks expressions that select broker events ($zccp.…
// addresses). They live in their own index: broad expressions such as
// `.*` must not start receiving presence events, and client PUBLISHes
// can never reach a $ address anyway.
const sysPrefix = `^\$`

func isSysExpr(expr string) bool { return strings.HasPrefix(expr, sysPrefix) }

// presence publishes a join, leave or expire event about s to the
// sessions subscribed to it (expressions starting with ^\$).
func (b *Broker) presence(address string, s *session, why CloseReason) {
	if s.anonymous && s.ident == "" {
		return
	}
	targets := subscribers(b.sys, []byte(address))
	fwd := b.presenceLink() // federation_presence.go
	if len(targets) == 0 && fwd == nil {
		return
	}
	h := appLabels(s.labels)
	h[codec.HdrIdentifier] = s.ident
	h[codec.HdrSession] = strconv.FormatUint(s.num, 10)
	h[codec.HdrSince] = s.since.UTC().Format(time.RFC3339Nano)
	if why != 0 {
		h[codec.HdrReason] = why.String()
	}
	if fwd != nil {
		h[codec.HdrBroker] = b.cfg.Name // which broker of the federation the session is on
	}
	m := brokerDeliver(address, h, nil, s.ident)
	frames, err := m.Frames()
	if err != nil {
		return
	}
	if fwd != nil {
		fwd.ForwardPresence(frames)
	}
	deliverEvent(b.mayReceive(targets, []byte(address)), frames, s) // policy_enforce.go
}

// deliverEvent queues a broker event to targets (except one session).
func deliverEvent(targets []*session, frames [][]byte, except *session) int {
	n := 0
	for _, t := range targets {
		if t == except || t.ended.Load() {
			continue
		}
		// Events are notifications: droppable under the overflow policy.
		if t.peer.fx.notify(frames, true) {
			t.deliveries.Add(1)
			n++
		}
	}
	return n
}

// Clients returns the live sessions whose labels match sel ("k=v,...";
// empty: all), sorted by identifier.
func (b *Broker) Clients(sel string) []codec.ClientInfo {
	var out []codec.ClientInfo
	for _, s := range b.liveSessions() {
		if !labelsMatch(s.labels, []byte(sel)) {
			continue
		}
		out = append(out, codec.ClientInfo{
			Identifier: s.ident, Labels: appLabels(s.labels), Since: s.since, Session: s.num, Serves: s.serves(),
			Remote:    addrString(s.peer.fx.remote()),
			Published: s.published.Load(), Directs: s.directs.Load(),
			Delivered: s.delivered(), Dropped: s.dropped(), Subscriptions: s.subs.Load(),
		})
		securityInfo(&out[len(out)-1], s.peer.conn) // keybind.go: CURVE key, ipc credentials
		if g := b.grant(s); g != nil {
			out[len(out)-1].Role = g.Role // policy_enforce.go
		}
	}
	sortClients(out)
	return out
}

func sortClients(c []codec.ClientInfo) {
	slices.SortFunc(c, func(a, b codec.ClientInfo) int {
		return cmp.Or(strings.Compare(a.Identifier, b.Identifier), cmp.Compare(a.Session, b.Session))
	})
}

// brokerAPI answers a DIRECT addressed to the broker itself ($zccp): a
// request whose zccp-method names a broker function. The answer is a
// reply like a device's: sender $zccp, zccp-reply-to, zccp-status.
func (p *peer) brokerAPI(s *session, e *ext) {
	if e.requestID == nil {
		p.notice(codec.ErrCodeBadRequest, "a DIRECT to "+codec.NoticeSender+" must be a request (zccp-request-id, zccp-method)", "DIRECT", codec.NoticeSender)
		return
	}
	if !p.mayCall(s, e) { // policy_enforce.go
		return
	}
	if p.keysAPI(s, e) { // enrol.go: keys.*
		return
	}
	if p.auditAPI(s, e) { // audit_api.go: audit
		return
	}
	id := string(e.requestID)
	switch string(e.method) {
	case codec.MethodClients:
		lines, left := p.b.clientLines(string(e.sel))
		h := codec.Headers{codec.HdrReplyTo: id, codec.HdrStatus: codec.StatusOK}
		if left > 0 {
			h[codec.HdrTruncated] = strconv.Itoa(left)
		}
		// No client matched: one empty frame, which stands for none.
		p.reply(brokerDeliver(s.ident, h, lines, ""))
	case codec.MethodLast:
		p.reply(p.b.lastAPI(s, id, string(e.sel), p.fx.now())) // retain_api.go
	case codec.MethodStats:
		p.reply(p.b.statsAPI(s, id)) // observe.go
	default:
		p.reply(requestError(id, codec.NoticeSender, codec.ErrCodeNoSuchMethod,
			"the broker has no method "+strconv.Quote(string(e.method))+" (it has: "+codec.MethodClients+", "+codec.MethodLast+", "+codec.MethodStats+")"))
	}
}

// appLabels returns a copy of labels without the zccp- declarations
// (such as zccp-serves): the application's own labels.
func appLabels(labels codec.Headers) codec.Headers {
	h := make(codec.Headers, len(labels))
	for k, v := range labels {
		if !strings.HasPrefix(k, "zccp-") {
			h[k] = v
		}
	}
	return h
}

// clientLines encodes the clients records for sel, one JSON line each, up
// to MaxMessageSize bytes in all, and returns how many were left out.
// Labels are bounded at HELLO, so each line is too; the cap bounds the
// reply however many sessions there are.
func (b *Broker) clientLines(sel string) (lines [][]byte, left int) {
	all := b.Clients(sel)
	total := int64(0)
	for i, c := range all {
		line, _ := json.Marshal(c)
		if total += int64(len(line)) + 9; total > b.cfg.MaxMessageSize {
			return lines, len(all) - i
		}
		lines = append(lines, line)
	}
	return lines, 0
}
