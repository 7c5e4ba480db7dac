package broker

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/match"
)

// Federation carries notifications from this broker to the other brokers
// of a cluster (package federation implements it over NATS; see
// docs/architecture.md, "Federation"). Forward is called from client
// readers' goroutines, on the publish path: it must not block, and it
// must copy what it keeps (deliver and content are reused after it
// returns).
type Federation interface {
	// Forward sends one notification to the remote broker remote: deliver
	// is frame 1 of the DELIVER exactly as a local subscriber would get it
	// (sender, address, headers), content the content frames. It is called
	// once per remote broker whose advertised expressions match the
	// address, however many of them match.
	Forward(remote string, deliver []byte, content [][]byte)
}

// fedState is the broker's side of a federation: the link and the other
// brokers' interest. Each remote broker is one pseudo-session in an index
// of its own (the same match.Index as local sessions use), so that the
// local index holds exactly the local interest, which is what this broker
// advertises, and an expression a remote broker advertises is never
// advertised back.
type fedState struct {
	link   atomic.Pointer[fedLink]
	remote *match.Index[*remoteBroker] // built on first use; guarded by mu until then
	mu     sync.Mutex
	byID   map[string]*remoteBroker // guarded by mu
	idents map[string]*remoteBroker // identifiers held by remote brokers (federation_direct.go); guarded by mu
	once   sync.Once
	req    fedRequests // requests across brokers (federation_request.go)
}

type fedLink struct{ f Federation }

// linkAs returns the federation as T, one of its optional sides; ok is
// false when the broker is not federated or its federation lacks T.
func linkAs[T any](b *Broker) (f T, ok bool) {
	if l := b.fed.link.Load(); l != nil {
		f, ok = l.f.(T)
	}
	return f, ok
}

// remoteBroker is one other broker, as a pseudo-session of fedState.remote.
// gone is set when it is dropped, since cached match results may still
// hold it.
type remoteBroker struct {
	id     string
	n      int                 // expressions held; guarded by fedState.mu
	idents map[string]struct{} // identifiers held; guarded by fedState.mu
	gone   atomic.Bool
}

// MaxRemoteExpressions bounds the expressions held for one remote broker.
const MaxRemoteExpressions = 1 << 20

func (f *fedState) index() *match.Index[*remoteBroker] {
	f.once.Do(func() {
		f.remote = match.NewIndex[*remoteBroker](match.WithCacheSize(DefaultCacheSize), match.WithRegexpCacheSize(-1))
		f.byID = map[string]*remoteBroker{}
		f.idents = map[string]*remoteBroker{}
	})
	return f.remote
}

// SetFederation links the broker to a federation (nil: unlinks it). From
// then on every PUBLISH whose address matches a remote broker's interest
// is also handed to f.Forward.
func (b *Broker) SetFederation(f Federation) {
	if f == nil {
		b.fed.link.Store(nil)
		return
	}
	b.fed.index()
	b.fed.link.Store(&fedLink{f: f})
}

// LocalInterest returns the distinct expressions this broker's sessions
// subscribe to (broker events, ^\$…, excluded), sorted, and the
// generation they were read at (see InterestGeneration).
func (b *Broker) LocalInterest() (exprs []string, gen uint64) {
	gen = b.index.Generation()
	return b.index.Expressions(), gen
}

// InterestGeneration changes whenever a local subscription is added or
// removed: a federation polls it to advertise changes promptly without a
// hook on every SUBSCRIBE.
func (b *Broker) InterestGeneration() uint64 { return b.index.Generation() }

// ChangeRemoteInterest adds and removes expressions of remote broker id,
// creating its pseudo-session on first use. Invalid expressions are
// skipped and reported in the error; the others are applied.
func (b *Broker) ChangeRemoteInterest(id string, add, del []string) error {
	ix := b.fed.index()
	b.fed.mu.Lock()
	defer b.fed.mu.Unlock()
	rb := b.fed.byID[id]
	if rb == nil {
		rb = &remoteBroker{id: id}
		b.fed.byID[id] = rb
	}
	for _, e := range del {
		if ix.Remove(rb, e) {
			rb.n--
		}
	}
	var errs []error
	for _, e := range add {
		if rb.n >= MaxRemoteExpressions {
			errs = append(errs, fmt.Errorf("remote broker %s: more than %d expressions", id, MaxRemoteExpressions))
			break
		}
		added, err := ix.Add(rb, e)
		if err != nil {
			errs = append(errs, fmt.Errorf("remote broker %s: expression %q: %w", id, e, err))
		} else if added {
			rb.n++
		}
	}
	return errors.Join(errs...)
}

// DropRemote withdraws every expression of remote broker id (it left or
// is presumed dead).
func (b *Broker) DropRemote(id string) {
	ix := b.fed.index()
	defer b.dropProxies(id) // federation_request.go: after fed.mu is released
	b.fed.mu.Lock()
	defer b.fed.mu.Unlock()
	if rb := b.fed.byID[id]; rb != nil {
		delete(b.fed.byID, id)
		b.fed.dropIdentsLocked(rb)
		rb.gone.Store(true)
		ix.RemoveAll(rb)
	}
}

// RemoteInterest returns how many expressions each known remote broker
// holds here.
func (b *Broker) RemoteInterest() map[string]int {
	b.fed.index()
	b.fed.mu.Lock()
	defer b.fed.mu.Unlock()
	out := make(map[string]int, len(b.fed.byID))
	for id, rb := range b.fed.byID {
		out[id] = rb.n
	}
	return out
}

// forward hands a local PUBLISH to the federation, once per remote broker
// with a matching expression. Called by the publishing client's reader.
func (p *peer) forward(s *session, v codec.View, content [][]byte) {
	l := p.b.fed.link.Load()
	if l == nil {
		return
	}
	refs := p.b.fed.remote.Match(v.Address)
	if len(refs) == 0 {
		return
	}
	frame := codec.AppendDeliver(make([]byte, 0, codec.DeliverSize(s.identB, v.Address, v.Headers, nil)), s.identB, v.Address, v.Headers, nil)
	for _, rb := range refs {
		if !rb.gone.Load() {
			l.f.Forward(rb.id, frame, content)
		}
	}
}

// ErrNotDeliver: InjectDeliver was handed something other than a DELIVER.
var ErrNotDeliver = errors.New("broker: federated message is not a DELIVER")

// InjectDeliver delivers a notification that a remote broker forwarded
// (frame 1 of a DELIVER and its content) to every local session whose
// expressions match its address, once per session. It is never forwarded
// again. It returns how many sessions it was queued to.
func (b *Broker) InjectDeliver(frame []byte, content [][]byte) (int, error) {
	return b.InjectStream(nil, frame, content) // federation_loss.go
}

// injectTo queues one forwarded notification to t (droppable, like any
// notification; a drop is reported to t with zccp-missed) and wakes its
// writer. Forwarded traffic never pauses: NATS, not a client reader,
// is the producer.
func injectTo(t *session, v codec.View, content [][]byte) bool {
	d := delivery{sender: v.Sender, address: v.Address, headers: v.Headers, content: content}
	if _, err := appendDeliver(t.out, d, true); err != nil { // effects.go
		return false
	}
	t.out.Flush()
	t.deliveries.Add(1)
	return true
}
