package broker

import (
	"strconv"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// beat is what the liveness machine asks for on a tick.
type beat uint8

const (
	beatNone   beat = iota
	beatPing        // send PING
	beatExpire      // the peer has been silent past the timeout: end it
)

// maxHeartbeat bounds the interval a client may declare in HELLO.
const maxHeartbeat = 10 * time.Minute

// liveness is the heartbeat state machine of one connection. It is pure:
// it sees time only through its arguments, so tests drive it with a fake
// clock. It is only used by the broker's ticker goroutine.
type liveness struct {
	interval time.Duration // ping after this much outbound silence; 0 disables PING
	timeout  time.Duration // expire after this much inbound silence; 0 disables expiry
	pinged   time.Time     // when we last asked for a PING (zero: never)
}

// forSession returns the machine's settings for a session that declared
// heartbeat in HELLO (0: none): it is pinged after that much silence
// instead of the broker's interval, and expires that much later.
func (l liveness) forSession(heartbeat time.Duration) (interval, timeout time.Duration) {
	if heartbeat <= l.interval || l.interval <= 0 {
		return l.interval, l.timeout
	}
	if l.timeout <= 0 {
		return heartbeat, 0
	}
	return heartbeat, heartbeat + l.timeout
}

// tick decides, at time now, given when the peer last sent us anything
// and when we last sent it anything, whether to ping or expire it.
// Connections without a session are never pinged (ZCCP has no PING before
// HELLO) and expire a timeout after they last had one (sessionless is
// when that was, or when they connected), whatever bytes they send: ZMTP
// heartbeats alone do not keep a connection that never says HELLO.
// heartbeat is what the session declared in HELLO (0: nothing).
func (l *liveness) tick(now, lastRecv, lastSent, sessionless time.Time, hasSession bool, heartbeat time.Duration) beat {
	interval, timeout := l.forSession(heartbeat)
	if timeout > 0 && now.Sub(lastRecv) >= timeout {
		return beatExpire
	}
	if !hasSession {
		if l.timeout > 0 && now.Sub(sessionless) >= l.timeout {
			return beatExpire
		}
		return beatNone
	}
	if interval <= 0 {
		return beatNone
	}
	// Ping when nothing has gone to the peer for an interval (an original
	// client re-HELLOs after 3 s without traffic), or when nothing has come
	// from it for long enough that a PING-OK is needed before the timeout
	// (half the broker's timeout before it). A session busy both ways is
	// never pinged; one that only receives is pinged rarely. At most once
	// per interval.
	quiet := now.Sub(lastSent) >= interval
	if timeout > 0 && now.Sub(lastRecv) >= max(interval, timeout-l.timeout/2) {
		quiet = true
	}
	if quiet && now.Sub(l.pinged) >= interval {
		l.pinged = now
		return beatPing
	}
	return beatNone
}

// declaredHeartbeat reads zccp-heartbeat from HELLO's headers: the
// interval in milliseconds, clamped to [ping interval, maxHeartbeat]; 0
// when absent or not a whole number.
func declaredHeartbeat(h codec.RawHeaders, ping time.Duration) time.Duration {
	v, ok := h.Get(codec.HdrHeartbeat)
	if !ok {
		return 0
	}
	ms, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		return 0
	}
	return min(max(time.Duration(ms)*time.Millisecond, ping), maxHeartbeat)
}

// heartbeatProps puts a session's liveness settings into its HELLO-OK
// when it declared a heartbeat.
func (p *peer) heartbeatProps(s *session, props codec.Headers) {
	if s.heartbeat <= 0 {
		return
	}
	interval, timeout := p.live.forSession(s.heartbeat)
	props[codec.HdrHeartbeat] = strconv.FormatInt(interval.Milliseconds(), 10)
	props[codec.HdrPingInterval] = strconv.FormatInt(interval.Milliseconds(), 10)
	props[codec.HdrTimeout] = strconv.FormatInt(timeout.Milliseconds(), 10)
}
