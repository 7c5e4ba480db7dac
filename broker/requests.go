package broker

import (
	"strconv"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// request is one command routed to one device and not yet answered. The
// broker keeps it so that the requester can be told at once when the
// command expires in the device's queue or the device goes away.
type request struct {
	tag       uint64
	requester *session
	device    *session
	id        string
	deadline  time.Time  // zero: no TTL
	touched   time.Time  // routed, or last progress
	start     time.Time  // the request reached the broker (latency histograms)
	group     *groupCall // the group request it is part of; nil for a request to one device
	a         *reqAudit  // a request to one device: its audit record's data; nil: auditing off
}

// requestKey names a request on its device: requester and request id.
type requestKey struct {
	requester *session
	id        string
}

// pairKey names what one requester has outstanding at one device.
type pairKey struct{ device, requester *session }

// admitRequest checks a request before it is routed: its sender must be
// able to receive replies (an identifier: replies are DIRECTs to it) and
// its TTL must be a number no longer than MaxTTL. It returns the deadline,
// or why the request is refused.
func (p *peer) admitRequest(s *session, e *ext) (time.Time, string) {
	if s.ident == "" {
		return time.Time{}, "a session without an identifier cannot receive replies; say HELLO with an identifier to make requests"
	}
	return e.deadline(p.fx.now(), p.b.cfg.MaxTTL)
}

// track records a request routed to device; it fails (saying why) when
// the device has MaxInflight requests outstanding, or this requester
// MaxInflightPerRequester at this device. A repeated id from the same
// requester replaces the earlier entry (a retry). now is the routing
// peer's clock (fx.now), the request's first sign of life.
func (b *Broker) track(device, requester *session, id []byte, deadline, now time.Time, c call) (uint64, string) {
	b.reqMu.Lock()
	defer b.reqMu.Unlock()
	key := requestKey{requester, string(id)}
	pair := pairKey{device, requester}
	if old := device.inflight[key]; old != nil {
		b.untrackLocked(old)
		b.ended(old, OutcomeReplaced)
	} else if len(device.inflight) >= b.cfg.MaxInflight {
		return 0, "the device has " + strconv.Itoa(b.cfg.MaxInflight) + " requests outstanding"
	} else if b.pairs[pair] >= b.cfg.MaxInflightPerRequester {
		return 0, "you have " + strconv.Itoa(b.cfg.MaxInflightPerRequester) + " requests outstanding at this device"
	}
	if device.inflight == nil {
		device.inflight = map[requestKey]*request{}
	}
	if b.pairs == nil {
		b.pairs = map[pairKey]int{}
	}
	b.nextTag++
	r := &request{tag: b.nextTag, requester: requester, device: device, id: key.id, deadline: deadline, touched: now,
		start: c.start, group: c.group, a: c.a}
	device.inflight[key] = r
	b.reqs[r.tag] = r
	b.pairs[pair]++
	requester.asked++
	return r.tag, ""
}

// untrackLocked forgets r; called with b.reqMu held.
func (b *Broker) untrackLocked(r *request) {
	delete(b.reqs, r.tag)
	delete(r.device.inflight, requestKey{r.requester, r.id})
	pair := pairKey{r.device, r.requester}
	if b.pairs[pair]--; b.pairs[pair] <= 0 {
		delete(b.pairs, pair)
	}
}

// untrack forgets the request with tag (routing failed after tracking).
func (b *Broker) untrack(tag uint64) {
	b.reqMu.Lock()
	if r := b.reqs[tag]; r != nil {
		b.untrackLocked(r)
		b.ended(r, OutcomeRefused)
	}
	b.reqMu.Unlock()
}

// answered notes a reply from device to requester: a final one ends the
// request, a progress report keeps it alive from now (the answering
// peer's clock).
func (b *Broker) answered(device, requester *session, id, status []byte, now time.Time) {
	b.reqMu.Lock()
	defer b.reqMu.Unlock()
	r := device.inflight[requestKey{requester, string(id)}]
	if r == nil {
		return
	}
	if string(status) == codec.StatusProgress {
		r.touched = now
		return
	}
	b.untrackLocked(r)
	b.ended(r, outcomeOf(status))
}

// cancelled forgets a request its requester cancelled.
func (b *Broker) cancelled(device, requester *session, id []byte) {
	b.reqMu.Lock()
	if r := device.inflight[requestKey{requester, string(id)}]; r != nil {
		b.untrackLocked(r)
		b.ended(r, OutcomeCancelled)
	}
	b.reqMu.Unlock()
}

// onExpired is the outbox expire handler: the command with tag sat in a
// device's queue past its deadline and was dropped unwritten.
func (b *Broker) onExpired(tag uint64) {
	b.reqMu.Lock()
	r := b.reqs[tag]
	if r != nil {
		b.untrackLocked(r)
		b.ended(r, OutcomeExpired)
	}
	b.reqMu.Unlock()
	b.stats.expiredCmds.Add(1)
	if r == nil {
		return
	}
	b.notify(r.requester, requestError(r.id, r.device.ident, codec.ErrCodeExpired,
		"the command's TTL ran out while it waited in the device's queue; it was not delivered"))
}

// sessionRequestsEnded fails every request outstanding to s (it was a
// device) and forgets those s asked for (it was a requester).
func (b *Broker) sessionRequestsEnded(s *session, why CloseReason) {
	b.reqMu.Lock()
	var orphans []*request
	for _, r := range s.inflight {
		orphans = append(orphans, r)
		b.untrackLocked(r)
		b.ended(r, OutcomeDisconnected)
	}
	if s.asked > 0 {
		for _, r := range b.reqs {
			if r.requester == s {
				b.untrackLocked(r)
				b.ended(r, OutcomeRequesterGone)
			}
		}
	}
	b.reqMu.Unlock()
	for _, r := range orphans {
		if r.requester == s || r.requester.ended.Load() {
			continue
		}
		b.notify(r.requester, requestError(r.id, s.ident, codec.ErrCodeDisconnected,
			"the device's session ended ("+why.String()+") while the request was outstanding"))
	}
}

// sweepRequests forgets requests long past their deadline or last sign of
// life; called by the ticker.
func (b *Broker) sweepRequests(now time.Time) {
	b.reqMu.Lock()
	defer b.reqMu.Unlock()
	for _, r := range b.reqs {
		last := r.touched
		if r.deadline.After(last) {
			last = r.deadline
		}
		if now.Sub(last) > b.cfg.RequestGrace {
			b.untrackLocked(r)
			b.ended(r, OutcomeForgotten)
		}
	}
}

// requestError builds the broker's final reply to a request on behalf of
// a device that cannot answer: a notice with zccp-reply-to and
// zccp-status: error.
func requestError(id, recipient, code, reason string) codec.Message {
	h := codec.Headers{
		codec.HdrError:   code,
		codec.HdrReason:  reason,
		codec.HdrReplyTo: id,
		codec.HdrStatus:  codec.StatusError,
	}
	if recipient != "" {
		h[codec.HdrRecipient] = recipient
	}
	return brokerDeliver(codec.AddrError, h, nil, reason)
}

// brokerDeliver builds a DELIVER the broker originates (sender $zccp).
// Every such DELIVER carries at least one content frame: original
// clients (CZMQ's zccp_msg) abort on a DELIVER without content, so when
// content is empty the frame holds filler (the reason text of a notice,
// the identifier of a presence event; see docs/protocol.md §6).
func brokerDeliver(address string, h codec.Headers, content [][]byte, filler string) codec.Message {
	if len(content) == 0 {
		content = [][]byte{[]byte(filler)}
	}
	return codec.Message{ID: codec.Deliver, Sender: codec.NoticeSender, Address: address, Headers: h, Content: content}
}

// notify queues a broker message to s from any goroutine and wakes its
// writer (no batching: used off the hot path).
func (b *Broker) notify(s *session, m codec.Message) {
	if s.remote != "" {
		b.tellRemote(s, m) // federation_request.go: a requester on another broker
		return
	}
	frames, err := m.Frames()
	if err != nil {
		b.log.Error("encoding notice", "err", err)
		return
	}
	if !s.peer.fx.notify(frames, false) {
		b.log.Debug("notice not queued", "identifier", s.ident)
		return
	}
	s.deliveries.Add(1)
}

// directRequest routes a request (DIRECT with zccp-request-id) to t.
func (p *peer) directRequest(s, t *session, v codec.View, content [][]byte, e *ext) {
	b := p.b
	c := call{start: time.Now(), a: p.auditReq(s, t.identB, e)}
	id := string(e.requestID)
	deadline, refused := p.admitRequest(s, e)
	if refused != "" {
		c.end(b, OutcomeRefused)
		p.reply(requestError(id, t.ident, codec.ErrCodeBadRequest, refused))
		return
	}
	b.stats.requests.Add(1)
	p.sendCommand(s, t, v.Address, v.Headers, content, e, deadline, c)
}

// sendCommand tracks and delivers one command to t, answering the
// requester itself when that is not possible.
func (p *peer) sendCommand(s, t *session, address []byte, headers codec.RawHeaders, content [][]byte, e *ext, deadline time.Time, c call) bool {
	b := p.b
	id := string(e.requestID)
	now := p.fx.now()
	if !deadline.IsZero() && !now.Before(deadline) {
		b.stats.expiredCmds.Add(1)
		c.end(b, OutcomeExpired)
		p.reply(requestError(id, t.ident, codec.ErrCodeExpired, "the command's TTL ran out before it could be delivered"))
		return false
	}
	tag, full := b.track(t, s, e.requestID, deadline, now, c)
	if full != "" {
		c.end(b, OutcomeRefused)
		p.reply(requestError(id, t.ident, codec.ErrCodeTooManyRequests, full))
		return false
	}
	if !p.deliverCommand(t, s.identB, address, headers, content, deadline, tag) {
		b.untrack(tag)
		p.reply(requestError(id, t.ident, codec.ErrCodeQueueFull, "the device's queue is full; the command was not queued"))
		return false
	}
	return true
}

// deliverCommand is deliver for commands: never droppable, and with a
// deadline the TTL field is re-encoded as ten digits that the device's
// outbox refreshes when it writes the command (or drops it, if late).
func (p *peer) deliverCommand(t *session, sender, address []byte, headers codec.RawHeaders, content [][]byte, deadline time.Time, tag uint64) bool {
	d := delivery{sender: sender, address: address, headers: headers, content: content, deadline: deadline, tag: tag}
	if !p.fx.deliver(t, d, false) {
		p.b.stats.refused.Add(1)
		return false
	}
	t.deliveries.Add(1)
	return true
}

// groupRequest routes a request published to an address (PUBLISH with
// zccp-request-id) to every session subscribed to it and/or carrying the
// selected labels, after telling the requester exactly who they are.
func (p *peer) groupRequest(s *session, v codec.View, content [][]byte, e *ext) {
	b := p.b
	id := string(e.requestID)
	g := &groupCall{start: time.Now(), a: p.auditGroupStart(s, v.Address, e)}
	deadline, refused := p.admitRequest(s, e)
	if refused != "" {
		b.latency[1][OutcomeRefused].observe(time.Since(g.start))
		b.auditGroupEnd(g, OutcomeRefused)
		p.reply(requestError(id, "", codec.ErrCodeBadRequest, refused))
		return
	}
	b.stats.groupReqs.Add(1)
	recipients := b.resolveGroup(s, v.Address, e.sel)
	far := p.resolveFar(s, v, content, deadline) // federation_group.go: the other brokers' recipients
	total := len(recipients) + far.count()
	g.pending.Store(int32(total))
	g.a.setRecipients(recipients)
	far.audit(g.a)
	h := codec.Headers{
		codec.HdrReplyTo:    id,
		codec.HdrStatus:     codec.StatusOK,
		codec.HdrRecipients: strconv.Itoa(total),
	}
	if e.dryRun {
		h[codec.HdrDryRun] = "1"
	}
	names := make([][]byte, len(recipients))
	for i, r := range recipients {
		names[i] = r.identB
	}
	names = far.appendNames(names)
	// No recipients: one empty frame (zccp-recipients: 0 says it names nobody).
	receipt := brokerDeliver(codec.AddrReceipt, h, names, "")
	// The receipt is queued before the command goes anywhere, so that no
	// reply can reach the requester ahead of it.
	p.reply(receipt)
	if e.dryRun {
		b.auditDryRun(g) // audit.go: who asked whom would be reached
		return           // not a call: nothing is observed
	}
	if total == 0 {
		b.latency[1][OutcomeNoRecipient].observe(time.Since(g.start))
		b.auditGroupEnd(g, OutcomeNoRecipient)
	}
	for _, r := range recipients {
		p.sendCommand(s, r, v.Address, v.Headers, content, e, deadline, call{start: g.start, group: g})
	}
	p.commitFar(s, far, e.requestID, deadline, call{start: g.start, group: g})
}

// resolveGroup returns the live sessions, other than s, that a group
// request reaches: declared members (HELLO header zccp-serves: 1),
// subscribed to address (when it is not empty) and carrying every
// selected label. Taps, plain subscribers and original clients never
// declare, so they are never recipients.
func (b *Broker) resolveGroup(s *session, address, sel []byte) []*session {
	var out []*session
	f := b.newDeliverFilter(address) // policy_enforce.go: a member receives only what its role may
	keep := func(t *session) {
		if t != s && !t.ended.Load() && t.serves() && labelsMatch(t.labels, sel) && (len(address) == 0 || f.allows(t)) {
			out = append(out, t)
		}
	}
	if len(address) > 0 {
		for _, t := range subscribers(b.index, address) {
			keep(t)
		}
		return out
	}
	for _, t := range b.liveSessions() {
		keep(t)
	}
	return out
}

// liveSessions returns every live session.
func (b *Broker) liveSessions() []*session {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]*session, 0, b.nsess)
	for p := range b.peers {
		if s := p.cur.Load(); s != nil && !s.ended.Load() {
			out = append(out, s)
		}
	}
	return out
}

// serves reports whether the session declared at HELLO that it serves
// requests (zccp-serves: 1), which makes it a member of group requests.
func (s *session) serves() bool { return s.labels[codec.HdrServes] == "1" }
