package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/match"
	"github.com/zccp-go/zccp/zmtp"
)

// Broker is a ZCCP broker. Create it with New, bind it with Listen (or
// Serve a listener), stop it with Shutdown or Close.
type Broker struct {
	cfg   Config
	log   *slog.Logger
	srv   *zmtp.Server
	index *match.Index[*sessionRef] // client subscriptions
	sys   *match.Index[*sessionRef] // subscriptions to broker events (^\$…)

	mu      sync.RWMutex
	byIdent map[string]*session                             // addressable sessions by identifier; guarded by mu
	peers   map[*peer]struct{}                              // every connection; guarded by mu
	nsess   int                                             // live sessions; guarded by mu
	retired struct{ published, deliveries, dropped uint64 } // counters of closed connections; guarded by mu

	reqMu   sync.Mutex
	reqs    map[uint64]*request // outstanding requests by tag; guarded by reqMu
	nextTag uint64              // guarded by reqMu
	pairs   map[pairKey]int     // requests outstanding per (device, requester); guarded by reqMu

	refusals *refusalLog           // rate-limited log of refused connections and sessions
	perHost  map[string]int        // live sessions by remote IP (MaxSessionsPerHost); guarded by mu
	perKey   map[zmtp.CurveKey]int // live sessions by CURVE client key (MaxSessionsPerKey, perkey.go); guarded by mu

	nextSession atomic.Uint64
	nextPeer    atomic.Uint64
	stats       counters
	latency     latencies    // request latency histograms
	bytes       byteTotals   // bytes in/out of ended connections (bytecount.go)
	budget      *zmtp.Budget // MaxQueuedTotal, shared by every connection's queue
	ret         retainer     // last values (retain.go)
	keys        *keyBinding  // identifiers bound to CURVE keys (keybind.go); nil: off
	enrol       *enrolment   // CURVE key enrolment (enrol.go); nil: off
	audit       *auditor     // the audit log (audit.go); nil: off
	fed         fedState     // other brokers' interest and the link to them (federation.go)
	pol         policyState  // permission policy (policy_enforce.go)

	stopTick chan struct{}
	tickDone chan struct{}
	stopOnce sync.Once
	ready    chan struct{}
}

// counters are broker-wide totals.
type counters struct {
	connections   atomic.Uint64 // connections accepted
	sessions      atomic.Uint64 // sessions started
	directs       atomic.Uint64 // DIRECT commands delivered
	noRecipient   atomic.Uint64 // DIRECT to an unknown identifier
	refused       atomic.Uint64 // deliveries refused by a full queue
	invalid       atomic.Uint64 // INVALID answers
	expired       atomic.Uint64 // connections expired
	malformed     atomic.Uint64 // undecodable commands
	requests      atomic.Uint64 // requests to one device
	groupReqs     atomic.Uint64 // group requests
	expiredCmds   atomic.Uint64 // commands dropped because their TTL ran out
	stalls        atomic.Uint64 // reader pauses for a recipient past its high-water mark
	stallTimeouts atomic.Uint64 // pauses that ended at Config.StallWait
	stallNanos    atomic.Uint64 // time spent in pauses
	budgetRefused atomic.Uint64 // large PUBLISHes refused: the budget was full and nothing could be cut
	budgetLog     atomic.Int64  // unix ns of the last budget log line (budget.go)
	budgetQuiet   atomic.Uint64 // budget refusals not logged since
}

// Stats is a snapshot of broker-wide counters.
type Stats struct {
	Connections   int           // open connections
	Sessions      int           // live sessions
	Subscriptions int           // expressions held (each session's counted once)
	Accepted      uint64        // connections accepted since start
	Started       uint64        // sessions started since start
	Published     uint64        // PUBLISH commands routed
	Deliveries    uint64        // DELIVERs queued for PUBLISH
	Directs       uint64        // DIRECT commands delivered
	NoRecipient   uint64        // DIRECT commands to an unknown identifier
	Refused       uint64        // deliveries refused because a queue was full
	Dropped       uint64        // notifications dropped by the overflow policy
	Invalid       uint64        // INVALID answers
	Expired       uint64        // connections expired for silence
	Malformed     uint64        // undecodable commands
	Requests      uint64        // requests to one device (DIRECT with zccp-request-id)
	GroupRequests uint64        // group requests (PUBLISH with zccp-request-id)
	ExpiredCmds   uint64        // commands dropped because their TTL ran out
	Inflight      int           // requests awaiting an answer
	Stalls        uint64        // publisher reads paused for a recipient's queue (flow control)
	StallTimeouts uint64        // pauses that ran to Config.StallWait
	StallTime     time.Duration // total time publishers' reads were paused
	QueuedBytes   int64         // bytes held by all queues (the MaxQueuedTotal budget's use)
	BudgetCuts    uint64        // queues cut (oldest notifications dropped, or disconnected) to keep within the budget
	BudgetRefused uint64        // large PUBLISHes refused because the budget was full and nothing could be cut
	BytesIn       uint64        // bytes read from client connections, handshakes included
	BytesOut      uint64        // bytes written to client connections (before CURVE encryption)
}

// New returns a broker with cfg (zero fields take defaults).
func New(cfg Config) (*Broker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Broker{
		cfg: cfg,
		log: cfg.Logger,
		// Regexps compiled once at SUBSCRIBE and kept: a bounded regexp
		// cache lets thousands of wildcard expressions make every publish
		// to a new address recompile them (memory is bounded by
		// MaxSubscriptions per session instead).
		index:    match.NewIndex[*sessionRef](match.WithCacheSize(cfg.CacheSize), match.WithRegexpCacheSize(-1)),
		sys:      match.NewIndex[*sessionRef](match.WithCacheSize(64)),
		reqs:     map[uint64]*request{},
		byIdent:  map[string]*session{},
		perHost:  map[string]int{},
		perKey:   map[zmtp.CurveKey]int{},
		refusals: &refusalLog{log: cfg.Logger, every: refusalEvery},
		peers:    map[*peer]struct{}{},
		stopTick: make(chan struct{}),
		tickDone: make(chan struct{}),
		ready:    make(chan struct{}),
		budget:   zmtp.NewBudget(cfg.MaxQueuedTotal),
	}
	queue := cfg.Queue
	queue.Budget = b.budget
	b.srv = &zmtp.Server{
		Options: zmtp.Options{
			Type:           zmtp.TypeRouter,
			MaxMessageSize: cfg.MaxMessageSize,
			MaxFrames:      cfg.MaxFrames,
			Queue:          queue,
		},
		Handler:         b.serveConn,
		OnError:         b.handshakeFailed, // audit.go: refusals.note, and the audit log for a refused key
		MaxConnsPerHost: cfg.MaxConnsPerHost,
	}
	b.pol.cur.Store(cfg.Policy) // policy_enforce.go
	go b.tickLoop()
	return b, nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Listen binds endpoint (tcp://host:port, ipc://path, ipc://@name) and
// serves it in the background. It returns the bound endpoint, with the
// real port when the port was 0.
func (b *Broker) Listen(endpoint string) (string, error) {
	ln, err := zmtp.Listen(endpoint)
	if err != nil {
		return "", err
	}
	go b.Serve(ln)
	return zmtp.EndpointOf(ln), nil
}

// Serve accepts connections on ln until the broker stops.
func (b *Broker) Serve(ln net.Listener) error {
	b.log.Info("listening", "endpoint", zmtp.EndpointOf(ln))
	err := b.srv.Serve(ln)
	if errors.Is(err, zmtp.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, sends what is queued to every
// client, and closes everything; when ctx ends first the rest is closed
// at once.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.stopTicker()
	err := b.srv.Shutdown(ctx)
	b.log.Info("stopped", "reason", "shutdown")
	return err
}

// Close stops the broker at once, discarding queued messages.
func (b *Broker) Close() error {
	b.stopTicker()
	return b.srv.Close()
}

func (b *Broker) stopTicker() {
	b.stopOnce.Do(func() { close(b.stopTick) })
	<-b.tickDone
}

// Stats returns a snapshot of the broker's counters.
func (b *Broker) Stats() Stats {
	b.mu.RLock()
	conns, sess := len(b.peers), b.nsess
	published, deliveries, dropped := b.retired.published, b.retired.deliveries, b.retired.dropped
	bytesIn, bytesOut := b.bytes.totals()
	for p := range b.peers {
		published += p.published.Load()
		deliveries += p.deliveries.Load()
		dropped += p.out.Dropped()
		bytesIn += p.conn.BytesReceived()
		bytesOut += p.conn.BytesSent()
	}
	b.mu.RUnlock()
	return Stats{
		Connections:   conns,
		Sessions:      sess,
		Subscriptions: b.index.Stats().Subscriptions + b.sys.Stats().Subscriptions,
		Accepted:      b.stats.connections.Load(),
		Started:       b.stats.sessions.Load(),
		Published:     published,
		Deliveries:    deliveries,
		Dropped:       dropped,
		Directs:       b.stats.directs.Load(),
		NoRecipient:   b.stats.noRecipient.Load(),
		Refused:       b.stats.refused.Load(),
		Invalid:       b.stats.invalid.Load(),
		Expired:       b.stats.expired.Load(),
		Malformed:     b.stats.malformed.Load(),
		Requests:      b.stats.requests.Load(),
		GroupRequests: b.stats.groupReqs.Load(),
		ExpiredCmds:   b.stats.expiredCmds.Load(),
		Inflight:      b.inflight(),
		Stalls:        b.stats.stalls.Load(),
		StallTimeouts: b.stats.stallTimeouts.Load(),
		StallTime:     time.Duration(b.stats.stallNanos.Load()),
		QueuedBytes:   b.budget.Used(),
		BudgetCuts:    b.budget.Cuts(),
		BudgetRefused: b.stats.budgetRefused.Load(),
		BytesIn:       bytesIn,
		BytesOut:      bytesOut,
	}
}

func (b *Broker) inflight() int {
	b.reqMu.Lock()
	defer b.reqMu.Unlock()
	return len(b.reqs)
}

// tickLoop drives every connection's liveness machine.
func (b *Broker) tickLoop() {
	defer close(b.tickDone)
	period := b.cfg.PingInterval / 4
	if b.cfg.Timeout > 0 && (period == 0 || b.cfg.Timeout/8 < period) {
		period = b.cfg.Timeout / 8
	}
	if period <= 0 {
		<-b.stopTick
		return
	}
	period = max(period, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var peers []*peer
	for {
		select {
		case <-b.stopTick:
			return
		case now := <-t.C:
			peers = b.snapshotPeers(peers[:0])
			for _, p := range peers {
				p.out.Trim()
				p.out.Expire()
				p.step(input{kind: inTick, now: now})
			}
			clear(peers)
			b.sweepRequests(now)
			b.refusals.flush(now)
			b.auditFlush(now)
		}
	}
}

func (b *Broker) snapshotPeers(dst []*peer) []*peer {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for p := range b.peers {
		dst = append(dst, p)
	}
	return dst
}

// register makes s the session for its identifier and returns the
// session it replaced, if any. It refuses (errTooManyClients,
// errTooManySessions) when the broker, or s's remote address, is at its
// session limit; taking over an identifier is never refused.
func (b *Broker) register(s *session) (old *session, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !s.anonymous {
		old = b.byIdent[s.ident]
	}
	if old == nil && b.nsess >= b.cfg.MaxClients {
		return nil, errTooManyClients
	}
	if old == nil && s.host != "" && b.perHost[s.host] >= b.cfg.MaxSessionsPerHost {
		return nil, errTooManySessions
	}
	if !b.keyRoomLocked(s) && old == nil { // perkey.go
		return nil, errTooManyKeySessions
	}
	if s.host != "" {
		b.perHost[s.host]++
	}
	b.countKeyLocked(s, 1)
	if !s.anonymous {
		b.byIdent[s.ident] = s
	}
	// Every session counts once from here to its endSession, a taken-over
	// one included: the count is right whatever order a takeover and the
	// old connection's end happen in.
	b.nsess++
	return old, nil
}

// errTooManyClients: HELLO refused at the broker's session limit.
var errTooManyClients = errors.New("too many sessions")

// lookup returns the live session for an identifier, or nil.
func (b *Broker) lookup(ident []byte) *session {
	b.mu.RLock()
	s := b.byIdent[string(ident)]
	b.mu.RUnlock()
	return s
}

// endSession ends s once: it drops its subscriptions and its identifier
// (unless a newer session holds it now). Safe from any goroutine.
func (b *Broker) endSession(s *session, why CloseReason) {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	b.index.RemoveAll(s.ref)
	b.sys.RemoveAll(s.ref)
	s.ref.s.Store(nil) // cached match results keep only the empty handle
	b.mu.Lock()
	b.nsess--
	if s.host != "" {
		if b.perHost[s.host]--; b.perHost[s.host] <= 0 {
			delete(b.perHost, s.host)
		}
	}
	b.countKeyLocked(s, -1)
	held := !s.anonymous && b.byIdent[s.ident] == s
	if held {
		delete(b.byIdent, s.ident)
	}
	b.mu.Unlock()
	if held {
		b.releaseIdentity(s) // federation_ident.go
	}
	b.sessionRequestsEnded(s, why)
	if why == ReasonExpired {
		b.presence(codec.AddrPresenceExpire, s, why)
	} else {
		b.presence(codec.AddrPresenceLeave, s, why)
	}
	b.log.Debug("session ended", "session", s.num, "identifier", s.ident, "reason", why.String(),
		"published", s.published.Load(), "delivered", s.delivered(), "dropped", s.dropped())
}
