package broker

import (
	"time"
)

// inputKind says what happened to a connection.
type inputKind uint8

const (
	inMessage  inputKind = iota // a message arrived: frames
	inTooLarge                  // a message over the size or frame limits was skipped: err
	inTick                      // the liveness clock ticked: now
	inClosed                    // the connection ended: reason
)

// input is one thing that happens to a connection. It is a plain value
// (no interface boxing) so that stepping a message does not allocate.
type input struct {
	kind   inputKind
	frames [][]byte    // inMessage: frame 1 is the command, the rest content
	err    error       // inTooLarge: the reader's *zmtp.TooLargeError
	now    time.Time   // inTick
	reason CloseReason // inClosed
}

// step is the connection's protocol machine: it applies one input and
// acts only through p.fx (effects.go), whose calls are its outputs —
// replies and notices to this connection, DELIVERs to other sessions,
// PING, close. Over a socket, the reader goroutine steps the messages it
// reads and the connection's end, and the broker's ticker steps ticks;
// the transcripts' mem run steps all three itself with a recording
// effects and a fake clock, without sockets.
//
// Unlike raft's Step, outputs are not returned for the caller to write
// later: each is queued when the handler decides on it, because handlers
// act on the outcome (a full queue gets a notice, a refused command is not
// tracked as a request) and because a connection's queue is shared with
// other goroutines' writes, against which the protocol promises an order
// (a receipt before any device's reply, SUBSCRIBE-OK before the last
// values and any live message). Deferred outputs would also cost the
// fan-out a copy per delivery.
func (p *peer) step(in input) {
	switch in.kind {
	case inMessage:
		p.handle(in.frames)
	case inTooLarge:
		p.refuseTooLarge(in.err)
	case inTick:
		p.tick(in.now)
	case inClosed:
		if s := p.sess; s != nil {
			p.b.endSession(s, in.reason)
		}
	}
}
