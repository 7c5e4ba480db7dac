package broker

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/zmtp"
)

// refusalEvery is how often each kind of refused connection is logged: a
// peer that reconnects in a loop would otherwise write one line per
// attempt.
const refusalEvery = 30 * time.Second

// refusalKind groups handshake failures for logging.
type refusalKind uint8

const (
	refusedVersion         refusalKind = iota // speaks no ZMTP version we accept
	refusedIncompatible                       // socket type or mechanism cannot talk to us
	refusedTimeout                            // did not finish the handshake in time
	refusedOther                              // anything else (resets, malformed frames)
	refusedConnsPerHost                       // over MaxConnsPerHost: closed before the handshake
	refusedSessionsPerHost                    // HELLO over MaxSessionsPerHost
	refusedSessionsPerKey                     // HELLO over MaxSessionsPerKey
	refusedCurve                              // CURVE handshake failed: wrong server key, garbage, replay
	refusedUnauthorized                       // CURVE key refused (--client-keys, rejected or revoked)
	refusedPolicy                             // an operation refused by the permission policy
	refusalKinds
)

var refusalMessages = [refusalKinds]string{
	refusedVersion:         "connection refused: the peer speaks neither ZMTP 3.x nor ZMTP 2.0 (RFC 23/15); is it a ZeroMQ client?",
	refusedIncompatible:    "connection refused: incompatible peer",
	refusedTimeout:         "connection refused: handshake not completed in time",
	refusedOther:           "connection refused",
	refusedConnsPerHost:    "connection refused: too many connections from this address (--max-conns-per-host)",
	refusedSessionsPerHost: "HELLO refused: too many sessions from this address (--max-sessions-per-host)",
	refusedSessionsPerKey:  "HELLO refused: too many sessions with this CURVE key (--max-sessions-per-key)",
	refusedCurve:           "connection refused: CURVE handshake failed (a client with another server key, or malformed, replayed or forged handshake data)",
	refusedUnauthorized:    "connection refused: CURVE client key not authorised",
	refusedPolicy:          "operation refused by the permission policy (notice not-authorized sent)",
}

// errTooManySessions is what refusalLog is told for a HELLO refused by
// MaxSessionsPerHost.
var errTooManySessions = errors.New("too many sessions from one address")

func kindOf(err error) refusalKind {
	switch {
	case errors.Is(err, zmtp.ErrTooManyConnections):
		return refusedConnsPerHost
	case errors.Is(err, errTooManySessions):
		return refusedSessionsPerHost
	case errors.Is(err, errTooManyKeySessions):
		return refusedSessionsPerKey
	case errors.Is(err, errNotAuthorized):
		return refusedPolicy
	case errors.Is(err, zmtp.ErrUnauthorized):
		return refusedUnauthorized
	case errors.Is(err, zmtp.ErrCurve):
		return refusedCurve
	case errors.Is(err, zmtp.ErrUnsupportedVersion):
		return refusedVersion
	case errors.Is(err, zmtp.ErrIncompatible):
		return refusedIncompatible
	case errors.Is(err, os.ErrDeadlineExceeded):
		return refusedTimeout
	}
	return refusedOther
}

// refusalLog logs refused connections at most once per kind and interval:
// the first one of a kind at once, later ones counted and reported with
// the next line of that kind. Its memory is fixed (one slot per kind).
type refusalLog struct {
	log   *slog.Logger
	every time.Duration
	seen  atomic.Uint64 // refusals noted, logged or not

	mu    sync.Mutex
	slots [refusalKinds]struct {
		last       time.Time // when a line of this kind was last written
		suppressed int       // refusals since then, not logged
	}
}

// note records one refused connection and logs it unless a line of its
// kind was written less than an interval ago.
func (r *refusalLog) note(remote net.Addr, err error) {
	r.seen.Add(1)
	k := kindOf(err)
	now := time.Now()
	r.mu.Lock()
	slot := &r.slots[k]
	if !slot.last.IsZero() && now.Sub(slot.last) < r.every {
		slot.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := slot.suppressed
	slot.last, slot.suppressed = now, 0
	r.mu.Unlock()
	attrs := []any{"remote", addrString(remote), "err", err}
	if suppressed > 0 {
		attrs = append(attrs, "similar_since_last_line", suppressed)
	}
	r.log.Warn(refusalMessages[k], attrs...)
}

// flush writes a summary line for every kind whose refusals since its
// last line went unlogged and whose interval has passed, so that a burst
// that stopped is still accounted for. The broker's ticker calls it.
func (r *refusalLog) flush(now time.Time) {
	for k := range r.slots {
		r.mu.Lock()
		slot := &r.slots[k]
		n := slot.suppressed
		if n == 0 || now.Sub(slot.last) < r.every {
			r.mu.Unlock()
			continue
		}
		slot.last, slot.suppressed = now, 0
		r.mu.Unlock()
		r.log.Warn(refusalMessages[k], "suppressed", n, "over", r.every.String())
	}
}
