package broker

import "time"

// beat is what the liveness machine asks for on a tick.
type beat uint8

const (
	beatNone   beat = iota
	beatPing        // send PING: nothing has gone to the peer for a ping interval
	beatExpire      // the peer has been silent past the timeout: end it
)

// liveness is the heartbeat state machine of one connection. It is pure:
// it sees time only through its arguments, so tests drive it with a fake
// clock. It is only used by the broker's ticker goroutine.
type liveness struct {
	interval time.Duration // ping after this much outbound silence; 0 disables PING
	timeout  time.Duration // expire after this much inbound silence; 0 disables expiry
	pinged   time.Time     // when we last asked for a PING (zero: never)
}

// tick decides, at time now, given when the peer last sent us anything
// and when we last sent it anything, whether to ping or expire it.
// Connections without a session are never pinged (ZCCP has no PING before
// HELLO) and expire a timeout after they last had one (sessionless is
// when that was, or when they connected), whatever bytes they send: ZMTP
// heartbeats alone do not keep a connection that never says HELLO.
func (l *liveness) tick(now, lastRecv, lastSent, sessionless time.Time, hasSession bool) beat {
	if l.timeout > 0 && now.Sub(lastRecv) >= l.timeout {
		return beatExpire
	}
	if !hasSession {
		if l.timeout > 0 && now.Sub(sessionless) >= l.timeout {
			return beatExpire
		}
		return beatNone
	}
	if l.interval <= 0 {
		return beatNone
	}
	// Ping when either direction has been quiet for an interval: outbound
	// silence would make an original client re-HELLO (its presence
	// timeout), inbound silence is what a PING-OK refreshes (a pure
	// subscriber never sends otherwise). At most once per interval.
	quiet := now.Sub(lastSent) >= l.interval || now.Sub(lastRecv) >= l.interval
	if quiet && now.Sub(l.pinged) >= l.interval {
		l.pinged = now
		return beatPing
	}
	return beatNone
}
