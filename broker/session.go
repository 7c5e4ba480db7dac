package broker

import (
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/match"
	"github.com/zccp-go/zccp/zmtp"
)

// session is one client's ZCCP session: from HELLO until GOODBYE, INVALID,
// takeover, expiry or disconnection. Its immutable fields are set at
// HELLO; counters are atomic because other goroutines read them.
type session struct {
	num       uint64 // broker-assigned, unique per broker run
	ident     string // HELLO identifier
	identB    []byte // ident as bytes, for encoding DELIVER senders
	labels    codec.Headers
	anonymous bool // not addressable by DIRECT (empty or reserved identifier)
	peer      *peer
	out       *zmtp.Outbox
	since     time.Time
	heartbeat time.Duration // declared in HELLO (zccp-heartbeat), clamped; 0: none
	ref       *sessionRef   // what the subscription indexes hold
	host      string        // remote IP address (tcp), counted against MaxSessionsPerHost
	key       zmtp.CurveKey // CURVE client key (zero: NULL), counted against MaxSessionsPerKey; set by register
	remote    string        // a proxy (federation_request.go): the broker id of a client on another broker; "" for a local session

	inflight map[requestKey]*request // requests outstanding to this session as a device; guarded by Broker.reqMu
	asked    int                     // requests this session ever made; guarded by Broker.reqMu

	grant atomic.Pointer[sessionGrant] // resolved under the policy in force (policy_enforce.go)

	ended     atomic.Bool
	subs      atomic.Int64  // expressions held (changed by the owning reader only)
	published atomic.Uint64 // PUBLISH received
	directs   atomic.Uint64 // DIRECT received

	deliveries atomic.Uint64 // DELIVERs queued to this session (notifications, commands, replies, notices, events)
	droppedAt  uint64        // the connection's drop count at HELLO
}

// sessionRef is what the subscription indexes hold instead of the
// session: the match result cache and its change log keep entries until
// they are overwritten, so they must not keep an ended session — with its
// connection and its queue — reachable. endSession clears the handle; a
// cached result then yields nil for it, and the handle alone (a few
// bytes) is what the cache keeps.
type sessionRef struct{ s atomic.Pointer[session] }

// newSessionRef returns the handle of s.
func newSessionRef(s *session) *sessionRef {
	r := &sessionRef{}
	r.s.Store(s)
	return r
}

// get returns the session, or nil once it has ended.
func (r *sessionRef) get() *session { return r.s.Load() }

// subscribers returns the live sessions whose subscriptions in ix match
// address, in a new slice (the publish hot path walks Match itself).
func subscribers(ix *match.Index[*sessionRef], address []byte) []*session {
	refs := ix.Match(address)
	out := make([]*session, 0, len(refs))
	for _, r := range refs {
		if s := r.get(); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// delivered returns how many DELIVERs were queued to this session: not
// the connection's other traffic (HELLO-OK, SUBSCRIBE-OK, PINGs) nor its
// earlier sessions.
func (s *session) delivered() uint64 { return s.deliveries.Load() }

// dropped returns how many notifications were dropped for this client
// since this session began.
func (s *session) dropped() uint64 {
	n := s.out.Dropped()
	if n < s.droppedAt {
		return 0
	}
	return n - s.droppedAt
}

// CloseReason says why a session or connection ended.
type CloseReason uint8

// Close reasons, reported in logs and statistics.
const (
	ReasonGoodbye      CloseReason = iota + 1 // the client said GOODBYE
	ReasonInvalid                             // the client sent a command the protocol forbids
	ReasonTakenOver                           // a newer session claimed the identifier
	ReasonExpired                             // silent past the timeout
	ReasonDisconnected                        // the connection went away
	ReasonShutdown                            // the broker is stopping
	ReasonSlowConsumer                        // its outbound queue overflowed (disconnect policy)
)

var reasonNames = [...]string{"", "goodbye", "invalid", "taken-over", "expired", "disconnected", "shutdown", "slow-consumer"}

// String returns the reason's name.
func (r CloseReason) String() string {
	if int(r) < len(reasonNames) && r > 0 {
		return reasonNames[r]
	}
	return "unknown"
}
