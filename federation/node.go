// Package federation links zccpd brokers over a NATS cluster: each broker
// advertises the distinct expressions its sessions hold, and a PUBLISH on
// one broker is forwarded, once, to each other broker whose expressions
// match its address, which delivers it to its own matching sessions.
// docs/architecture.md ("Federation") describes the design and what is
// not built yet (DIRECT across brokers, group requests, security).
package federation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/broker"
)

// Node is one broker's membership of a federation.
type Node struct {
	b     *broker.Broker
	o     Options
	id    string
	idRaw [8]byte // id, undecoded: the origin field of forwarded messages
	log   *slog.Logger
	nc    *nats.Conn

	subjInterest string
	subjDeliver  string // this node's own deliver subject
	subjDirect   string // this node's own direct subject
	subjNotice   string // this node's own notice subject

	stats struct {
		forwarded, lost, received, injected, bad, withdrawn, adverts, gaps, directs, told, presence atomic.Uint64
	}
	lastLossLog atomic.Int64 // unix ns of the last "lost" log line
	groups      groupStats   // request.go

	mu      sync.Mutex
	remotes map[string]*remote // other brokers by id; guarded by mu

	outMu sync.Mutex
	out   map[outKey]*outSeq // per destination: the sequence of forwarded messages; guarded by outMu

	inSeq         map[[8]byte]uint64         // per origin: the last sequence number received; owned by onDeliver
	inSeqDirect   map[[8]byte]uint64         // the same for DIRECTs; owned by onDirect
	streams       map[[8]byte]*broker.Stream // per origin: who to tell of its gaps (loss.go); owned by onDeliver
	inSeqPresence map[[8]byte]uint64         // the same for presence events; owned by onPresence
	reg           *registry                  // the identity registry (registry.go); nil without JetStream
	keys          *keyShare                  // key states and bindings shared (secure_keys.go); nil when not
	pol           policyCheck                // the other brokers' policy digests (secure_policy.go)

	// Owned by the run goroutine.
	sets []*localSet // what this broker advertises
	seq  uint64

	subs     []*nats.Subscription
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// remote is what a node knows of another broker.
type remote struct {
	name string
	seen time.Time
	sets map[string]*remoteSet // by advert.Set
}

// remoteSet is one of a remote broker's advertised sets.
type remoteSet struct {
	items   map[string]struct{}
	pending []string // parts of a full advert being received
	pendSeq uint64
}

// set returns the remote's set name, creating it.
func (r *remote) set(name string) *remoteSet {
	s := r.sets[name]
	if s == nil {
		s = &remoteSet{items: map[string]struct{}{}}
		r.sets[name] = s
	}
	return s
}

// Start connects to NATS and joins b to the federation. It fails when no
// NATS server can be reached now; once connected, the client reconnects
// on its own for as long as the node runs.
func Start(ctx context.Context, b *broker.Broker, o Options) (*Node, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		b: b, o: o, log: o.Logger.With("component", "federation"),
		out: map[outKey]*outSeq{}, inSeq: map[[8]byte]uint64{}, inSeqDirect: map[[8]byte]uint64{},
		streams: map[[8]byte]*broker.Stream{}, inSeqPresence: map[[8]byte]uint64{},
		subjInterest: o.Prefix + ".fed.interest",
		remotes:      map[string]*remote{},
		kick:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	rand.Read(n.idRaw[:]) // never fails (crypto/rand)
	n.id = hex.EncodeToString(n.idRaw[:])
	n.subjDeliver = n.deliverSubject(n.id)
	n.subjDirect = n.directSubject(n.id)
	n.subjNotice = n.noticeSubject(n.id)
	n.sets = []*localSet{
		{name: setExprs, read: b.LocalInterest, gen: b.InterestGeneration},
		{name: setIdents, read: b.LocalIdentifiers, gen: b.IdentityGeneration},
		{name: setSys, read: b.LocalSysInterest, gen: b.SysGeneration}, // presence.go
	}
	opts := append([]nats.Option{
		nats.Name("zccpd " + o.Name + " " + n.id),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { n.log.Info("NATS reconnected"); n.wake() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.log.Warn("NATS disconnected", "err", err) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { n.log.Warn("NATS error", "err", err) }),
	}, o.NATS...)
	if n.nc, err = connect(ctx, o.URLs, opts); err != nil {
		return nil, err
	}
	n.useRegistry(ctx) // registry_node.go
	n.useKeyShare(ctx) // secure_keys.go
	if err := n.subscribe(); err != nil {
		n.nc.Close()
		return nil, err
	}
	if err := n.subscribeAudit(); err != nil { // secure_audit.go
		n.nc.Close()
		return nil, err
	}
	b.SetFederation(n)
	n.claimExisting() // registry_node.go
	n.publishAdvert(advert{Kind: kindHello})
	n.advertiseFull()
	go n.run()
	n.log.Info("joined federation", "id", n.id, "name", o.Name, "nats", n.nc.ConnectedUrlRedacted(), "prefix", o.Prefix)
	return n, nil
}

// connect dials NATS, giving up when ctx ends.
func connect(ctx context.Context, urls []string, opts []nats.Option) (*nats.Conn, error) {
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(strings.Join(urls, ","), opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("federation: connect to NATS %v: %w", urls, r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("federation: connect to NATS %v: %w", urls, ctx.Err())
	}
}

func (n *Node) subscribe() error {
	si, err := n.nc.Subscribe(n.subjInterest, n.onAdvert)
	if err != nil {
		return fmt.Errorf("federation: subscribe %s: %w", n.subjInterest, err)
	}
	sd, err := n.nc.Subscribe(n.subjDeliver, n.onDeliver)
	if err != nil {
		return fmt.Errorf("federation: subscribe %s: %w", n.subjDeliver, err)
	}
	sx, err := n.nc.Subscribe(n.subjDirect, n.onDirect)
	if err != nil {
		return fmt.Errorf("federation: subscribe %s: %w", n.subjDirect, err)
	}
	sn, err := n.nc.Subscribe(n.subjNotice, n.onNotice)
	if err != nil {
		return fmt.Errorf("federation: subscribe %s: %w", n.subjNotice, err)
	}
	sp, err := n.nc.Subscribe(n.presenceSubject(n.id), n.onPresence) // presence.go
	if err != nil {
		return fmt.Errorf("federation: subscribe presence: %w", err)
	}
	n.subs = []*nats.Subscription{si, sd, sx, sn, sp}
	if err := n.subscribeGroups(); err != nil { // request.go
		return err
	}
	// The subscriptions must be known to the server before anyone is told
	// this broker exists.
	return n.nc.Flush()
}

func (n *Node) deliverSubject(id string) string { return n.o.Prefix + ".fed.deliver." + id }
func (n *Node) directSubject(id string) string  { return n.o.Prefix + ".fed.direct." + id }
func (n *Node) noticeSubject(id string) string  { return n.o.Prefix + ".fed.notice." + id }

// ID returns this node's broker id (random per run): the last token of
// its deliver subject.
func (n *Node) ID() string { return n.id }

func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Close withdraws this broker's interest (a bye advert), leaves the
// federation and closes the NATS connection.
func (n *Node) Close() error {
	n.halt()
	n.publishAdvert(advert{Kind: kindBye})
	n.nc.Flush()
	n.nc.Close()
	return nil
}

// Abort leaves at once without telling the other brokers, as a crashed
// process would: they withdraw its interest after DeadAfter. For failure
// tests and for a broker that must stop now.
func (n *Node) Abort() {
	n.halt()
	n.nc.Close()
}

func (n *Node) halt() {
	n.stopOnce.Do(func() { close(n.stop) })
	<-n.done
	n.b.SetFederation(nil)
	if n.reg != nil {
		n.reg.close()
	}
	if n.keys != nil {
		n.keys.close()
	}
	for _, s := range n.subs {
		s.Unsubscribe()
	}
	n.mu.Lock()
	for id := range n.remotes {
		n.b.DropRemote(id)
	}
	clear(n.remotes)
	n.mu.Unlock()
}

// Stats are a node's counters.
type Stats struct {
	Forwarded uint64 // notifications handed to NATS (one per remote broker)
	Directs   uint64 // DIRECTs handed to NATS for an identifier on another broker
	Lost      uint64 // notifications NATS refused (disconnected past its buffer, too large, closed)
	Received  uint64 // forwarded notifications received from other brokers
	Gaps      uint64 // notifications other brokers forwarded here that never arrived (sequence gaps)
	Told      uint64 // sessions owed a zccp-missed for such gaps (one per session per gap)
	Injected  uint64 // local deliveries made from them
	Bad       uint64 // malformed messages or adverts received
	Withdrawn uint64 // remote brokers presumed dead (DeadAfter)
	Adverts   uint64 // adverts sent
	Presence  uint64 // presence events forwarded (one per remote broker with broker-event subscribers)
	Remotes   int    // remote brokers known now
	Dropped   int    // messages the NATS client dropped for this node (slow consumer)
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	r := len(n.remotes)
	n.mu.Unlock()
	dropped := 0
	for _, s := range n.subs {
		if d, err := s.Dropped(); err == nil {
			dropped += d
		}
	}
	return Stats{
		Forwarded: n.stats.forwarded.Load(), Directs: n.stats.directs.Load(), Lost: n.stats.lost.Load(),
		Received: n.stats.received.Load(), Gaps: n.stats.gaps.Load(), Told: n.stats.told.Load(), Injected: n.stats.injected.Load(),
		Bad: n.stats.bad.Load(), Withdrawn: n.stats.withdrawn.Load(),
		Adverts: n.stats.adverts.Load(), Presence: n.stats.presence.Load(), Remotes: r, Dropped: dropped,
	}
}
