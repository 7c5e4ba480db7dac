package broker

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// DirectFederation is implemented by a Federation that also carries
// DIRECTs to identifiers held on other brokers. ForwardDirect must not
// block and must copy what it keeps; an error means the DIRECT did not
// leave this broker (its sender is told).
type DirectFederation interface {
	ForwardDirect(remote string, deliver []byte, content [][]byte) error
}

// Errors InjectDirect returns: the sender's broker turns them into
// notices for the sender.
var (
	ErrNoSuchClient = errors.New("no such client")
	ErrQueueFull    = errors.New("queue full")
)

// LocalIdentifiers returns the identifiers of this broker's addressable
// sessions, sorted, and the IdentityGeneration they were read at.
func (b *Broker) LocalIdentifiers() ([]string, uint64) {
	gen := b.IdentityGeneration()
	b.mu.RLock()
	out := make([]string, 0, len(b.byIdent))
	for id := range b.byIdent {
		out = append(out, id)
	}
	b.mu.RUnlock()
	slices.Sort(out)
	return out, gen
}

// IdentityGeneration changes when sessions start or end (so, whenever
// the set of identifiers may have changed): a federation polls it.
func (b *Broker) IdentityGeneration() uint64 {
	b.mu.RLock()
	n := uint64(b.nsess)
	b.mu.RUnlock()
	return b.stats.sessions.Load()*1_000_003 + n
}

// ChangeRemoteIdentifiers records identifiers held by remote broker id
// (added) or no longer (del). When two brokers claim one identifier the
// later claim wins here until one of them withdraws it.
func (b *Broker) ChangeRemoteIdentifiers(id string, add, del []string) {
	b.fed.index()
	b.fed.mu.Lock()
	defer b.fed.mu.Unlock()
	rb := b.fed.byID[id]
	if rb == nil {
		rb = &remoteBroker{id: id}
		b.fed.byID[id] = rb
	}
	if rb.idents == nil {
		rb.idents = map[string]struct{}{}
	}
	for _, ident := range del {
		delete(rb.idents, ident)
		if b.fed.idents[ident] == rb {
			delete(b.fed.idents, ident)
		}
	}
	for _, ident := range add {
		if len(rb.idents) >= MaxRemoteExpressions {
			break
		}
		rb.idents[ident] = struct{}{}
		b.fed.idents[ident] = rb
	}
}

// dropIdentsLocked forgets rb's identifiers; called with fed.mu held.
func (f *fedState) dropIdentsLocked(rb *remoteBroker) {
	for ident := range rb.idents {
		if f.idents[ident] == rb {
			delete(f.idents, ident)
		}
	}
}

// holder returns the remote broker that holds ident, or nil.
func (f *fedState) holder(ident []byte) *remoteBroker {
	if f.link.Load() == nil {
		return nil // also: never used, idents not built
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idents[string(ident)]
}

// forwardDirect handles a DIRECT to an identifier with no local session:
// when a remote broker holds it, the DIRECT goes there and it returns
// true. A request goes through remoteRequest; a reply or a cancel also
// settles the request it ends (federation_request.go).
func (p *peer) forwardDirect(s *session, v codec.View, content [][]byte, e *ext) bool {
	df, ok := linkAs[DirectFederation](p.b)
	if !ok {
		return false
	}
	rb := p.b.fed.holder(v.Address)
	if rb == nil || rb.gone.Load() {
		return false
	}
	to := string(v.Address)
	if e.requestID != nil {
		p.remoteRequest(s, v, content, e, df, rb.id)
		return true
	}
	frame := codec.AppendDeliver(make([]byte, 0, codec.DeliverSize(s.identB, v.Address, v.Headers, nil)), s.identB, v.Address, v.Headers, nil)
	if err := df.ForwardDirect(rb.id, frame, content); err != nil {
		p.notice(codec.ErrCodeQueueFull, "the DIRECT to "+strconv.Quote(to)+" could not be forwarded to its broker: "+err.Error(), "DIRECT", to)
		return true
	}
	p.b.stats.directs.Add(1)
	p.settleRemote(s, rb.id, to, e)
	return true
}

// InjectDirect delivers a DIRECT another broker forwarded (frame 1 of a
// DELIVER whose address is the recipient's identifier) to that local
// session, as a command: never dropped. It returns the sender and
// ErrNoSuchClient or ErrQueueFull when it was not queued.
func (b *Broker) InjectDirect(frame []byte, content [][]byte) (sender string, err error) {
	v, err := codec.Parse(frame)
	if err != nil {
		return "", fmt.Errorf("broker: federated DIRECT: %w", err)
	}
	if v.ID != codec.Deliver {
		return "", ErrNotDeliver
	}
	return b.injectDirect(v, content)
}

// injectDirect queues a forwarded DIRECT (parsed) to its recipient.
func (b *Broker) injectDirect(v codec.View, content [][]byte) (sender string, err error) {
	t := b.lookup(v.Address)
	if t == nil {
		return string(v.Sender), ErrNoSuchClient
	}
	size := codec.DeliverSize(v.Sender, v.Address, v.Headers, nil)
	// Append, not AppendReport: a DIRECT does not carry zccp-missed, so it
	// must leave any owed count to the next notification.
	_, err = t.out.Append(zmtp.FrameHeaderSize(size)+size+zmtp.FramesSize(content), zmtp.Command, func(buf []byte) []byte {
		buf = zmtp.AppendFrameHeader(buf, size, len(content) > 0, false)
		buf = codec.AppendDeliver(buf, v.Sender, v.Address, v.Headers, nil)
		return zmtp.AppendFrames(buf, content)
	})
	if err != nil {
		b.stats.refused.Add(1)
		return string(v.Sender), ErrQueueFull
	}
	t.out.Flush()
	t.deliveries.Add(1)
	b.stats.directs.Add(1)
	return string(v.Sender), nil
}

// Notify sends the local session ident (if it is here) a notice about a
// DIRECT it sent that another broker could not deliver.
func (b *Broker) Notify(ident, code, reason, address string) {
	if t := b.lookup([]byte(ident)); t != nil {
		b.notify(t, noticeMessage(code, reason, "DIRECT", address))
	}
}

// RemoteHolder returns the id of the remote broker that holds ident, or
// "" when none does (as far as this broker knows).
func (b *Broker) RemoteHolder(ident string) string {
	if rb := b.fed.holder([]byte(ident)); rb != nil {
		return rb.id
	}
	return ""
}
