package broker

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// Requests across brokers. Each broker keeps its own accounting with the
// same request records as for local requests; the party on the other
// broker is a proxy session (session.remote set): no connection, no
// outbox, one per (remote broker, identifier). On the requester's broker
// (A) the device is a proxy: limits, requester gone, cancel and the
// group's "one final reply per recipient" work unchanged, and when the
// device's broker leaves the federation every request to its proxies ends
// with disconnected. On the device's broker (C) the requester is a proxy:
// the device's limits, TTL expiry in its queue and the device's session
// end work unchanged, and what the broker would tell the requester
// (notify) travels back to A on the same NATS subject as the device's
// replies, in order with them.

// fedRequests holds the proxies.
type fedRequests struct {
	mu        sync.Mutex
	proxies   map[proxyKey]*session // guarded by mu
	pruneAt   int                   // prune idle proxies when there are this many; guarded by mu
	calls     uint64                // group calls sent from here (their ids); guarded by mu
	held      map[heldKey]*heldCall // group calls resolved here for another broker (federation_group.go); guarded by mu
	heldBytes int                   // their size; guarded by mu
}

type proxyKey struct{ broker, ident string }

// MaxProxies bounds the proxies a broker keeps (clients of other brokers
// with requests outstanding here or to there).
const MaxProxies = 1 << 20

// proxy returns the proxy for ident on remote broker, creating it when
// create is set (nil at MaxProxies).
func (b *Broker) proxy(remote, ident string, create bool) *session {
	f := &b.fed.req
	f.mu.Lock()
	s := f.proxies[proxyKey{remote, ident}]
	prune := false
	if s == nil && create {
		if f.proxies == nil {
			f.proxies = map[proxyKey]*session{}
			f.pruneAt = 1024
		}
		prune = len(f.proxies) >= f.pruneAt
		if len(f.proxies) < MaxProxies {
			s = &session{ident: ident, identB: []byte(ident), remote: remote, since: time.Now()}
			f.proxies[proxyKey{remote, ident}] = s
		}
	}
	f.mu.Unlock()
	if prune {
		b.pruneProxies()
	}
	return s
}

// pruneProxies forgets proxies with no request outstanding, and sets the
// next prune at twice what remains (so pruning costs O(1) per proxy made).
// A proxy forgotten while a request is being tracked to it is rebuilt by
// the next message for it; that request's replies then find no record and
// the record is swept (Config.RequestGrace).
func (b *Broker) pruneProxies() {
	b.reqMu.Lock()
	busy := map[*session]bool{}
	for _, r := range b.reqs {
		busy[r.requester], busy[r.device] = true, true
	}
	b.reqMu.Unlock()
	f := &b.fed.req
	f.mu.Lock()
	for k, s := range f.proxies {
		if !busy[s] {
			delete(f.proxies, k)
		}
	}
	f.pruneAt = max(1024, 2*len(f.proxies))
	f.mu.Unlock()
}

// dropProxies ends every request to or from a client of remote broker id
// (it left the federation or is presumed dead): requesters here get
// disconnected for each request to a device there.
func (b *Broker) dropProxies(id string) {
	f := &b.fed.req
	f.mu.Lock()
	var gone []*session
	for k, s := range f.proxies {
		if k.broker == id {
			gone = append(gone, s)
			delete(f.proxies, k)
		}
	}
	b.dropHeldLocked(id)
	f.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	var orphans []*request
	b.reqMu.Lock()
	for _, s := range gone {
		s.ended.Store(true)
		for _, r := range s.inflight {
			orphans = append(orphans, r)
			b.untrackLocked(r)
			b.ended(r, OutcomeDisconnected)
		}
	}
	for _, r := range b.reqs {
		if r.requester.remote == id {
			b.untrackLocked(r)
			b.ended(r, OutcomeRequesterGone)
		}
	}
	b.reqMu.Unlock()
	for _, r := range orphans {
		if !r.requester.ended.Load() {
			b.notify(r.requester, requestError(r.id, r.device.ident, codec.ErrCodeDisconnected,
				"the device's broker left the federation or stopped answering while the request was outstanding"))
		}
	}
}

// remoteRequest routes a request to a device on another broker: tracked
// here against a proxy of the device, then forwarded with the TTL left.
func (p *peer) remoteRequest(s *session, v codec.View, content [][]byte, e *ext, df DirectFederation, remote string) {
	b := p.b
	c := call{start: time.Now(), a: p.auditReq(s, v.Address, e)}
	id, to := string(e.requestID), string(v.Address)
	deadline, refused := p.admitRequest(s, e)
	if refused != "" {
		c.end(b, OutcomeRefused)
		p.reply(requestError(id, to, codec.ErrCodeBadRequest, refused))
		return
	}
	dev := b.proxy(remote, to, true)
	if dev == nil {
		c.end(b, OutcomeRefused)
		p.reply(requestError(id, to, codec.ErrCodeTooManyRequests, "the broker tracks too many clients of other brokers"))
		return
	}
	b.stats.requests.Add(1)
	frame := remoteCommand(s.identB, v.Address, v.Headers, deadline)
	p.sendRemote(s, dev, e.requestID, deadline, c, func() error { return df.ForwardDirect(remote, frame, content) })
}

// sendRemote is sendCommand for a device on another broker: expired,
// over the limits, or refused by NATS, the requester is answered here;
// otherwise send forwards the command.
func (p *peer) sendRemote(s, dev *session, id []byte, deadline time.Time, c call, send func() error) bool {
	b := p.b
	now := p.fx.now()
	if !deadline.IsZero() && !now.Before(deadline) {
		b.stats.expiredCmds.Add(1)
		c.end(b, OutcomeExpired)
		p.reply(requestError(string(id), dev.ident, codec.ErrCodeExpired, "the command's TTL ran out before it could be delivered"))
		return false
	}
	tag, full := b.track(dev, s, id, deadline, now, c)
	if full != "" {
		c.end(b, OutcomeRefused)
		p.reply(requestError(string(id), dev.ident, codec.ErrCodeTooManyRequests, full))
		return false
	}
	if err := send(); err != nil {
		b.untrack(tag)
		p.reply(requestError(string(id), dev.ident, codec.ErrCodeQueueFull, "the command could not be forwarded to the device's broker: "+err.Error()))
		return false
	}
	return true
}

// remoteCommand is frame 1 of a command as the device will get it, with
// the TTL left (milliseconds) in place of the requester's zccp-ttl: the
// device's broker computes its own deadline from it, so the brokers'
// clocks need not agree.
func remoteCommand(sender, address []byte, headers codec.RawHeaders, deadline time.Time) []byte {
	var replace []codec.Header
	if !deadline.IsZero() {
		left := max(time.Until(deadline).Milliseconds(), 1)
		replace = []codec.Header{{Name: codec.HdrTTL, Value: strconv.FormatInt(left, 10)}}
	}
	return codec.AppendDeliverReplacing(nil, sender, address, headers, replace)
}

// settleRemote notes a reply or cancel a local client sent to a client of
// another broker (already forwarded): it ends the request it answers.
func (p *peer) settleRemote(s *session, remote, to string, e *ext) {
	switch {
	case e.replyTo != nil:
		if rq := p.b.proxy(remote, to, false); rq != nil {
			p.b.answered(s, rq, e.replyTo, e.status, p.fx.now())
		}
	case e.cancel != nil:
		if dev := p.b.proxy(remote, to, false); dev != nil {
			p.b.cancelled(dev, s, e.cancel)
		}
	}
}

// outstandingRemote is outstanding for a client of another broker: e
// replies to a request its proxy made of s, or cancels one s made of it.
func (b *Broker) outstandingRemote(s *session, target []byte, e *ext) bool {
	rb := b.fed.holder(target)
	if rb == nil {
		return false
	}
	px := b.proxy(rb.id, string(target), false)
	return px != nil && b.outstanding(s, px, e)
}

// tellRemote sends what the broker tells a requester (an error reply on a
// device's behalf) to the requester's broker: a DELIVER from $zccp whose
// address is the requester's identifier, on the direct subject.
func (b *Broker) tellRemote(s *session, m codec.Message) {
	df, ok := linkAs[DirectFederation](b)
	if !ok {
		return
	}
	m.Sender, m.Address = codec.NoticeSender, s.ident
	frames, err := m.Frames()
	if err != nil {
		b.log.Error("encoding notice", "err", err)
		return
	}
	if err := df.ForwardDirect(s.remote, frames[0], frames[1:]); err != nil {
		b.log.Debug("reply not forwarded", "identifier", s.ident, "broker", s.remote, "err", err)
	}
}

// InjectDirectFrom delivers a DIRECT that broker origin forwarded (see
// InjectDirect): a request is tracked against a proxy of its requester; a
// reply or cancel settles the request it ends; a DELIVER from $zccp is the
// origin's reply on behalf of one of its devices. Errors for requests go
// back to the origin as replies; the error returned (as InjectDirect's)
// is for a plain DIRECT, reply or cancel.
func (b *Broker) InjectDirectFrom(origin string, frame []byte, content [][]byte) (sender string, err error) {
	v, err := codec.Parse(frame)
	if err != nil {
		return "", fmt.Errorf("broker: federated DIRECT: %w", err)
	}
	if v.ID != codec.Deliver {
		return "", ErrNotDeliver
	}
	if string(v.Sender) == codec.NoticeSender {
		return "", b.injectBrokerReply(origin, v, content)
	}
	if len(v.Sender) == 0 || v.Sender[0] == '$' {
		return "", fmt.Errorf("broker: federated DIRECT from %q", v.Sender)
	}
	e := scanExt(v.Headers)
	if e.requestID != nil {
		b.injectRequest(origin, v, content, &e)
		return string(v.Sender), nil
	}
	sender, err = b.injectDirect(v, content)
	if err != nil {
		return sender, err
	}
	switch t := b.lookup(v.Address); {
	case t == nil:
	case e.replyTo != nil:
		if dev := b.proxy(origin, sender, false); dev != nil {
			b.answered(dev, t, e.replyTo, e.status, time.Now()) // from NATS: no peer, the real clock
		}
	case e.cancel != nil:
		if rq := b.proxy(origin, sender, false); rq != nil {
			b.cancelled(t, rq, e.cancel)
		}
	}
	return sender, nil
}

// injectRequest queues a request from a client of broker origin to a
// local device, tracked against the requester's proxy.
func (b *Broker) injectRequest(origin string, v codec.View, content [][]byte, e *ext) {
	id, to := string(e.requestID), string(v.Address)
	rq := b.proxy(origin, string(v.Sender), true)
	if rq == nil {
		rq = &session{ident: string(v.Sender), remote: origin} // only to answer
		b.notify(rq, requestError(id, to, codec.ErrCodeTooManyRequests, "the device's broker tracks too many clients of other brokers"))
		return
	}
	t := b.lookup(v.Address)
	if t == nil {
		b.notify(rq, requestError(id, to, codec.ErrCodeNoSuchClient, "no client with identifier "+strconv.Quote(to)+" is connected to broker "+b.cfg.Name))
		return
	}
	deadline, refused := e.deadline(time.Now(), b.cfg.MaxTTL)
	if refused != "" {
		b.notify(rq, requestError(id, to, codec.ErrCodeBadRequest, refused))
		return
	}
	b.commandFor(rq, t, v.Address, v.Headers, content, e.requestID, deadline)
}

// commandFor is sendCommand for a requester on another broker (rq, a
// proxy): tracked, queued to t, or answered through rq's broker.
func (b *Broker) commandFor(rq, t *session, address []byte, headers codec.RawHeaders, content [][]byte, id []byte, deadline time.Time) {
	now := time.Now() // from NATS: no peer, the real clock
	if !deadline.IsZero() && !now.Before(deadline) {
		b.stats.expiredCmds.Add(1)
		b.notify(rq, requestError(string(id), t.ident, codec.ErrCodeExpired, "the command's TTL ran out before it could be delivered"))
		return
	}
	tag, full := b.track(t, rq, id, deadline, now, call{})
	if full != "" {
		b.notify(rq, requestError(string(id), t.ident, codec.ErrCodeTooManyRequests, full))
		return
	}
	d := delivery{sender: rq.identB, address: address, headers: headers, content: content, deadline: deadline, tag: tag}
	var err error
	if deadline.IsZero() {
		_, err = appendDeliver(t.out, d, false)
	} else {
		_, err = appendRequest(t.out, d)
	}
	if err != nil {
		b.stats.refused.Add(1)
		b.untrack(tag)
		b.notify(rq, requestError(string(id), t.ident, codec.ErrCodeQueueFull, "the device's queue is full; the command was not queued"))
		return
	}
	t.out.Flush()
	t.deliveries.Add(1)
	if t.ended.Load() { // ended after the lookup: its requests may have been failed already
		b.sessionRequestsEnded(t, ReasonDisconnected)
	}
}

// injectBrokerReply delivers what broker origin told a local requester on
// behalf of one of origin's devices (an error reply: expired,
// disconnected, no-such-client ...) and ends the request it answers.
func (b *Broker) injectBrokerReply(origin string, v codec.View, content [][]byte) error {
	h := v.Headers.Map()
	id, dev := h[codec.HdrReplyTo], h[codec.HdrRecipient]
	if id == "" || h[codec.HdrStatus] != codec.StatusError {
		return fmt.Errorf("broker: federated notice without zccp-reply-to and zccp-status: error")
	}
	t := b.lookup(v.Address)
	if t == nil {
		return nil // the requester has gone: nobody to tell
	}
	if d := b.proxy(origin, dev, false); d != nil {
		b.settle(d, t, id, outcomeOfCode(h[codec.HdrError]))
	}
	b.notify(t, codec.Message{ID: codec.Deliver, Sender: codec.NoticeSender, Address: codec.AddrError, Headers: h, Content: content})
	return nil
}

// settle ends the request (requester, id) to device with outcome o.
func (b *Broker) settle(device, requester *session, id string, o Outcome) {
	b.reqMu.Lock()
	if r := device.inflight[requestKey{requester, id}]; r != nil {
		b.untrackLocked(r)
		b.ended(r, o)
	}
	b.reqMu.Unlock()
}

// outcomeOfCode maps the error code of a broker's reply to an outcome.
func outcomeOfCode(code string) Outcome {
	switch code {
	case codec.ErrCodeExpired:
		return OutcomeExpired
	case codec.ErrCodeDisconnected:
		return OutcomeDisconnected
	case codec.ErrCodeNoSuchClient:
		return OutcomeNoRecipient
	}
	return OutcomeRefused
}
