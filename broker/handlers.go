package broker

import (
	"errors"
	"strconv"
	"strings"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// extensions is the list announced in HELLO-OK (zccp-extensions).
const extensions = "notices,cancel,direct,missed,ping,goodbye-stats,requests,presence,clients,retain"

// hello starts a session for the identifier in v.
func (p *peer) hello(v codec.View) {
	b := p.b
	if !p.labelsAllowed(v) {
		return
	}
	ident := string(v.Identifier)
	if reservedIdentifier(v.Identifier) { // ext.go: no client may speak as the broker
		p.notice(codec.ErrCodeReserved, "identifiers starting with $ are reserved for the broker; HELLO refused", "HELLO", ident)
		return
	}
	if !p.keyAccepted(ident) || !p.keyMayUse(ident) { // enrol.go, keybind.go
		return
	}
	s := &session{
		num:       b.nextSession.Add(1),
		ident:     ident,
		identB:    []byte(ident),
		labels:    v.Headers.Map(),
		anonymous: ident == "" || strings.HasPrefix(ident, "$"),
		peer:      p,
		out:       p.out,
		since:     p.fx.now(),
		droppedAt: p.out.Dropped(),
		heartbeat: declaredHeartbeat(v.Headers, b.cfg.PingInterval),
		host:      zmtp.HostOf(p.fx.remote()),
	}
	s.ref = newSessionRef(s)
	old, err := b.register(s)
	if err != nil {
		p.refuseSession(err, s)
		return
	}
	b.stats.sessions.Add(1)
	p.setSession(s)
	props := codec.Headers{
		codec.HdrBroker:       b.cfg.Name,
		codec.HdrVersion:      Version,
		codec.HdrExtensions:   extensions,
		codec.HdrPingInterval: strconv.FormatInt(b.cfg.PingInterval.Milliseconds(), 10),
		codec.HdrTimeout:      strconv.FormatInt(b.cfg.Timeout.Milliseconds(), 10),
		codec.HdrMaxMessage:   strconv.FormatInt(b.cfg.MaxMessageSize, 10),
		codec.HdrSession:      strconv.FormatUint(s.num, 10),
	}
	p.heartbeatProps(s, props)
	if elsewhere := b.claimIdentity(s); elsewhere != "" && old == nil { // federation_ident.go
		props[codec.HdrReplaced] = "1"
	}
	if old != nil {
		props[codec.HdrReplaced] = "1"
		b.log.Warn("identifier taken over by a newer session", "identifier", ident,
			"old_remote", addrString(old.peer.fx.remote()), "new_remote", addrString(p.fx.remote()))
		b.notify(old, noticeMessage(codec.ErrCodeTakenOver,
			"identifier "+strconv.Quote(ident)+" was claimed by a newer session from "+addrString(p.fx.remote()), "HELLO", ident))
		b.endSession(old, ReasonTakenOver)
	}
	b.presence(codec.AddrPresenceJoin, s, 0)
	if s.anonymous && ident != "" {
		props[codec.HdrReason] = "identifiers starting with $ are reserved; this session cannot be addressed by DIRECT"
	}
	p.reply(codec.Message{ID: codec.HelloOK, Headers: props})
}

// labelsAllowed enforces the bounds on a HELLO's labels (its headers),
// which the session keeps for its life and the clients method lists:
// MaxHeaders entries and MaxLabelBytes encoded bytes. It tells the client
// and returns false on refusal.
func (p *peer) labelsAllowed(v codec.View) bool {
	cfg := &p.b.cfg
	if n := v.Headers.Len(); n > cfg.MaxHeaders {
		p.notice(codec.ErrCodeTooManyHeaders, "HELLO has "+strconv.Itoa(n)+" headers, limit "+strconv.Itoa(cfg.MaxHeaders), "HELLO", "")
		return false
	}
	if n := len(v.Headers); n > cfg.MaxLabelBytes {
		p.notice(codec.ErrCodeTooLarge, "HELLO labels take "+strconv.Itoa(n)+" bytes, limit "+strconv.Itoa(cfg.MaxLabelBytes), "HELLO", string(v.Identifier))
		return false
	}
	return true
}

// refuseSession tells the client why its HELLO was refused; a refusal for
// its address's limit is also logged (rate-limited).
func (p *peer) refuseSession(err error, s *session) {
	if p.refuseKeySession(err, s) { // perkey.go
		return
	}
	if errors.Is(err, errTooManySessions) {
		p.b.refusals.note(p.fx.remote(), err)
		p.notice(codec.ErrCodeTooManyClients, "limit of "+strconv.Itoa(p.b.cfg.MaxSessionsPerHost)+" sessions from "+s.host+" reached", "HELLO", s.ident)
		return
	}
	p.notice(codec.ErrCodeTooManyClients, "the broker is at its limit of "+strconv.Itoa(p.b.cfg.MaxClients)+" clients", "HELLO", s.ident)
}

// subscribe adds or cancels one expression.
func (p *peer) subscribe(s *session, v codec.View) {
	b := p.b
	if p.subscribeLast(s, v) { // retain.go: with zccp-last, SUBSCRIBE-OK, the last values, then live
		return
	}
	expr := string(v.Expression)
	ix := b.index
	if isSysExpr(expr) {
		ix = b.sys
	}
	if c, ok := v.Headers.Get(codec.HdrCancel); ok && string(c) == "1" {
		if ix.Remove(s.ref, expr) {
			s.subs.Add(-1)
		}
		p.reply(codec.Message{ID: codec.SubscribeOK})
		return
	}
	if !p.maySubscribe(s, expr) { // policy_enforce.go: notice, then SUBSCRIBE-OK as for any refusal
	} else if n := v.Headers.Len(); n > b.cfg.MaxHeaders {
		p.notice(codec.ErrCodeTooManyHeaders, "SUBSCRIBE has "+strconv.Itoa(n)+" headers, limit "+strconv.Itoa(b.cfg.MaxHeaders), "SUBSCRIBE", expr)
	} else if s.subs.Load() >= int64(b.cfg.MaxSubscriptions) && !ix.Has(s.ref, expr) {
		// At the limit only a new expression is refused; one already held
		// is stored once anyway.
		p.notice(codec.ErrCodeTooManySubs, "limit of "+strconv.Itoa(b.cfg.MaxSubscriptions)+" subscriptions per session reached", "SUBSCRIBE", expr)
	} else if added, err := ix.Add(s.ref, expr); err != nil {
		// The notice goes before SUBSCRIBE-OK: an original client, which
		// discards DELIVERs while it waits for SUBSCRIBE-OK, is not
		// confused, and a client that knows notices sees the error first.
		p.notice(codec.ErrCodeBadExpression, err.Error(), "SUBSCRIBE", expr)
	} else if added {
		s.subs.Add(1)
		if s.ended.Load() {
			// Ended concurrently (takeover, expiry) after RemoveAll ran:
			// do not leave the expression behind.
			ix.RemoveAll(s.ref)
		}
	}
	p.reply(codec.Message{ID: codec.SubscribeOK})
}

// publish routes a PUBLISH to every other session with a matching
// expression, once per session. This is the hot path: no allocation.
func (p *peer) publish(s *session, v codec.View, content [][]byte) {
	b := p.b
	e, ok := p.checkHeaders(v, "PUBLISH")
	if !ok {
		return
	}
	if len(v.Address) > 0 && v.Address[0] == '$' {
		p.notice(codec.ErrCodeReserved, "addresses starting with $ are reserved for the broker", "PUBLISH", string(v.Address))
		return
	}
	if !p.mayPublish(s, v.Address, &e) { // policy_enforce.go
		return
	}
	defer p.retainPublish(s, v, content)() // retain.go: a retained value is stored, then delivered, under one lock
	inc(&s.published)
	if e.requestID != nil {
		p.groupRequest(s, v, content, &e)
		return
	}
	inc(&p.published)
	rs := b.index.Match(v.Address)
	f := b.newDeliverFilter(v.Address)                       // policy_enforce.go
	seg, ok := p.shareContent(s, v.Address, content, rs, &f) // share.go: large content is queued once for every recipient
	if !ok {
		return
	}
	n := 0
	for _, r := range rs {
		t := r.get()
		if t == s || t == nil || !f.allows(t) {
			continue
		}
		if p.deliverShared(t, s.identB, v.Address, v.Headers, content, seg, true) {
			n++
		}
	}
	seg.Release()
	p.deliveries.Store(p.deliveries.Load() + uint64(n)) // single writer: this reader
	p.forward(s, v, content)                            // federation.go: to remote brokers with matching interest
}

// direct routes a DIRECT to the session whose identifier is the address.
func (p *peer) direct(s *session, v codec.View, content [][]byte) {
	b := p.b
	e, ok := p.checkHeaders(v, "DIRECT")
	if !ok {
		return
	}
	inc(&s.directs)
	if string(v.Address) == codec.NoticeSender {
		p.brokerAPI(s, &e)
		return
	}
	if !p.mayDirect(s, v.Address, &e) { // policy_enforce.go
		return
	}
	t := b.lookup(v.Address)
	if t == nil && p.forwardDirect(s, v, content, &e) { // federation_direct.go: held by another broker
		return
	}
	if t == nil {
		b.stats.noRecipient.Add(1)
		reason := "no client with identifier " + strconv.Quote(string(v.Address)) + " is connected"
		if e.requestID != nil {
			call{start: p.fx.now(), a: p.auditReq(s, v.Address, &e)}.end(b, OutcomeNoRecipient)
			p.reply(requestError(string(e.requestID), string(v.Address), codec.ErrCodeNoSuchClient, reason))
		} else {
			p.notice(codec.ErrCodeNoSuchClient, reason, "DIRECT", string(v.Address))
		}
		return
	}
	if e.requestID != nil {
		p.directRequest(s, t, v, content, &e)
		return
	}
	if !p.deliver(t, s.identB, v.Address, v.Headers, content, false) {
		p.notice(codec.ErrCodeQueueFull, "the queue of "+strconv.Quote(string(v.Address))+" is full; the message was not queued", "DIRECT", string(v.Address))
		return
	}
	b.stats.directs.Add(1)
	switch {
	case e.replyTo != nil:
		b.answered(s, t, e.replyTo, e.status, p.fx.now())
	case e.cancel != nil:
		b.cancelled(t, s, e.cancel)
	}
}

// checkHeaders enforces the header limit, keeps broker-set headers out of
// client messages and picks out the extension headers; it tells the
// client and returns false on refusal.
func (p *peer) checkHeaders(v codec.View, cmd string) (ext, bool) {
	n := v.Headers.Len()
	if n == 0 {
		return ext{}, true
	}
	if n > p.b.cfg.MaxHeaders {
		p.notice(codec.ErrCodeTooManyHeaders, cmd+" has "+strconv.Itoa(n)+" headers, limit "+strconv.Itoa(p.b.cfg.MaxHeaders), cmd, string(v.Address))
		return ext{}, false
	}
	e := scanExt(v.Headers)
	if name := e.brokerOwned(); name != "" { // ext.go
		p.notice(codec.ErrCodeReserved, "header "+name+" is set by the broker only (zccp-error and zccp-reason: on replies only)", cmd, string(v.Address))
		return ext{}, false
	}
	return e, true
}

// goodbye answers GOODBYE-OK with the session's statistics and ends it.
func (p *peer) goodbye(s *session) {
	stats := codec.Headers{
		codec.HdrStatPublished: strconv.FormatUint(s.published.Load(), 10),
		codec.HdrStatDirects:   strconv.FormatUint(s.directs.Load(), 10),
		codec.HdrStatDelivered: strconv.FormatUint(s.delivered(), 10),
		codec.HdrStatDropped:   strconv.FormatUint(s.dropped(), 10),
		codec.HdrStatSubs:      strconv.FormatInt(s.subs.Load(), 10),
		codec.HdrStatDuration:  strconv.FormatInt(p.fx.now().Sub(s.since).Milliseconds(), 10),
	}
	p.b.endSession(s, ReasonGoodbye)
	p.setSession(nil)
	p.reply(codec.Message{ID: codec.GoodbyeOK, Headers: stats})
}

// refuseTooLarge tells the client that a message was skipped.
func (p *peer) refuseTooLarge(err error) {
	if p.session() != nil {
		p.notice(codec.ErrCodeTooLarge, err.Error(), "", "")
	}
}
