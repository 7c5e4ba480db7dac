package broker

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
)

// Group requests across brokers. The requester's broker (A) resolves its
// own recipients, then asks every other broker whose interest could match
// the address (every other broker for an empty address) for theirs, with
// a bounded wait (GroupFederation.Resolve); each answers with its
// recipients and holds the command. The receipt lists them all; A tracks
// each remote recipient against a proxy (federation_request.go), then
// commits, and each broker sends the command to its recipients. Replies
// and the brokers' error replies come back like single requests'; a
// broker withdrawn mid-call yields disconnected for its recipients from
// A (dropProxies). A broker that does not answer in time is left out.

// GroupFederation is implemented by a Federation that also carries group
// requests to other brokers.
type GroupFederation interface {
	DirectFederation
	// Resolve sends the call (frame 1 of the command as recipients will
	// get it, and its content) to each of remotes and waits, bounded,
	// for the identifiers of the recipients each holds it for. A broker
	// that did not answer in time, or refused, is absent from the result.
	Resolve(remotes []string, call string, deliver []byte, content [][]byte) map[string][]string
	// Commit tells remote to send the call it holds to recipients.
	Commit(remote, call string, recipients []string) error
}

// Bounds on group calls held for other brokers between resolve and commit.
const (
	HoldFor        = 30 * time.Second // a call not committed by then is forgotten
	MaxHeldCalls   = 4096
	MaxHeldBytes   = 64 << 20
	errHeldTooMany = "too many group calls held for other brokers"
)

type heldKey struct{ origin, call string }

// heldCall is a group call resolved here for broker origin's requester.
type heldCall struct {
	v          codec.View // frame 1 as the recipients get it (aliases frame)
	content    [][]byte
	e          ext
	deadline   time.Time
	recipients map[string]*session
	until      time.Time
	size       int
}

// farGroup is what a group call's other brokers answered.
type farGroup struct {
	gf    GroupFederation
	call  string
	parts []farPart // sorted by broker id
	n     int
}

type farPart struct {
	remote string
	names  []string
}

func (g *farGroup) count() int {
	if g == nil {
		return 0
	}
	return g.n
}

// appendNames appends every remote recipient's identifier.
func (g *farGroup) appendNames(names [][]byte) [][]byte {
	if g == nil {
		return names
	}
	for _, part := range g.parts {
		for _, n := range part.names {
			names = append(names, []byte(n))
		}
	}
	return names
}

// audit adds the remote recipients to a group request's audit record.
func (g *farGroup) audit(ga *groupAudit) {
	if g == nil || ga == nil {
		return
	}
	ga.n += g.n
	for _, part := range g.parts {
		for _, name := range part.names {
			if len(ga.recipients) < audit.MaxRecipients {
				ga.recipients = append(ga.recipients, audit.Clip(name))
			}
		}
	}
}

// resolveFar asks the other brokers for their recipients of a group
// request (nil: not federated, or no other broker could have any).
func (p *peer) resolveFar(s *session, v codec.View, content [][]byte, deadline time.Time) *farGroup {
	gf, ok := linkAs[GroupFederation](p.b)
	if !ok {
		return nil
	}
	remotes := p.b.fed.groupRemotes(v.Address)
	if len(remotes) == 0 {
		return nil
	}
	f := &p.b.fed.req
	f.mu.Lock()
	f.calls++
	call := strconv.FormatUint(f.calls, 10)
	f.mu.Unlock()
	answers := gf.Resolve(remotes, call, remoteCommand(s.identB, v.Address, v.Headers, deadline), content)
	g := &farGroup{gf: gf, call: call}
	for remote, names := range answers {
		if len(names) > 0 {
			g.parts = append(g.parts, farPart{remote, names})
			g.n += len(names)
		}
	}
	slices.SortFunc(g.parts, func(a, b farPart) int { return cmpString(a.remote, b.remote) })
	return g
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// groupRemotes returns the remote brokers whose interest matches address
// (all of them for an empty address).
func (f *fedState) groupRemotes(address []byte) []string {
	var out []string
	if len(address) == 0 {
		f.mu.Lock()
		for id, rb := range f.byID {
			if !rb.gone.Load() {
				out = append(out, id)
			}
		}
		f.mu.Unlock()
		return out
	}
	for _, rb := range f.remote.Match(address) {
		if !rb.gone.Load() && !slices.Contains(out, rb.id) {
			out = append(out, rb.id)
		}
	}
	return out
}

// commitFar tracks every remote recipient of g against its proxy, then
// tells each broker to send the command. A recipient that cannot be
// tracked gets its final reply from here.
func (p *peer) commitFar(s *session, g *farGroup, id []byte, deadline time.Time, c call) {
	if g == nil {
		return
	}
	for _, part := range g.parts {
		var names []string
		var devs []*session
		for _, name := range part.names {
			dev := p.b.proxy(part.remote, name, true)
			if dev == nil {
				c.end(p.b, OutcomeRefused)
				p.reply(requestError(string(id), name, codec.ErrCodeTooManyRequests, "the broker tracks too many clients of other brokers"))
				continue
			}
			if p.sendRemote(s, dev, id, deadline, c, func() error { return nil }) {
				names, devs = append(names, name), append(devs, dev)
			}
		}
		if len(names) == 0 {
			continue
		}
		if err := g.gf.Commit(part.remote, g.call, names); err != nil {
			for _, dev := range devs {
				p.b.settle(dev, s, string(id), OutcomeRefused)
				p.reply(requestError(string(id), dev.ident, codec.ErrCodeQueueFull, "the command could not be forwarded to the device's broker: "+err.Error()))
			}
		}
	}
}

// HoldGroup resolves a group call that broker origin's requester made:
// frame is frame 1 of the command as the recipients get it (the
// requester as sender, the TTL left), content its content. It returns
// the identifiers of the local recipients (declared members subscribed
// to the address, with the selected labels; sessions without an
// identifier are recipients only on their own broker) and, unless it is a
// dry run, holds the call for them until CommitGroup or HoldFor.
func (b *Broker) HoldGroup(origin, call string, frame []byte, content [][]byte) ([]string, error) {
	v, err := codec.Parse(frame)
	if err != nil {
		return nil, fmt.Errorf("broker: federated group call: %w", err)
	}
	e := scanExt(v.Headers)
	if v.ID != codec.Deliver || len(v.Sender) == 0 || v.Sender[0] == '$' || (len(v.Address) > 0 && v.Address[0] == '$') || e.requestID == nil {
		return nil, errors.New("broker: federated group call is not a request DELIVER")
	}
	h := &heldCall{v: v, content: content, e: e, recipients: map[string]*session{}, until: time.Now().Add(HoldFor), size: len(frame) + 64}
	var names []string
	for _, t := range b.resolveGroup(nil, v.Address, e.sel) {
		if !t.anonymous && h.recipients[t.ident] == nil {
			h.recipients[t.ident] = t
			names = append(names, t.ident)
		}
	}
	if e.dryRun || len(names) == 0 {
		return names, nil
	}
	var refused string
	if h.deadline, refused = e.deadline(time.Now(), b.cfg.MaxTTL); refused != "" {
		return nil, errors.New(refused)
	}
	for _, c := range content {
		h.size += len(c)
	}
	if err := b.hold(heldKey{origin, call}, h); err != nil {
		return nil, err
	}
	return names, nil
}

// hold keeps h until its commit, forgetting calls held past HoldFor.
func (b *Broker) hold(k heldKey, h *heldCall) error {
	f := &b.fed.req
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[heldKey]*heldCall{}
	}
	now := time.Now()
	for k, old := range f.held {
		if now.After(old.until) {
			delete(f.held, k)
			f.heldBytes -= old.size
		}
	}
	if len(f.held) >= MaxHeldCalls || f.heldBytes+h.size > MaxHeldBytes {
		return errors.New(errHeldTooMany)
	}
	f.held[k] = h
	f.heldBytes += h.size
	return nil
}

// dropHeldLocked forgets the calls held for broker origin; fed.req.mu held.
func (b *Broker) dropHeldLocked(origin string) {
	f := &b.fed.req
	for k, h := range f.held {
		if k.origin == origin {
			delete(f.held, k)
			f.heldBytes -= h.size
		}
	}
}

// CommitGroup sends the call held for broker origin to recipients (those
// of its recipients that origin tracks). A recipient whose session has
// ended since gets disconnected, through origin.
func (b *Broker) CommitGroup(origin, call string, recipients []string) error {
	f := &b.fed.req
	f.mu.Lock()
	h := f.held[heldKey{origin, call}]
	if h != nil {
		delete(f.held, heldKey{origin, call})
		f.heldBytes -= h.size
	}
	f.mu.Unlock()
	if h == nil {
		return fmt.Errorf("broker: group call %s of broker %s is not held here (committed late?)", call, origin)
	}
	rq := b.proxy(origin, string(h.v.Sender), true)
	if rq == nil {
		rq = &session{ident: string(h.v.Sender), remote: origin} // only to answer
	}
	for _, name := range recipients {
		t := h.recipients[name]
		switch {
		case t == nil:
		case t.ended.Load():
			b.notify(rq, requestError(string(h.e.requestID), name, codec.ErrCodeDisconnected,
				"the device's session ended before the command could be sent"))
		default:
			b.commandFor(rq, t, h.v.Address, h.v.Headers, h.content, h.e.requestID, h.deadline)
		}
	}
	return nil
}
