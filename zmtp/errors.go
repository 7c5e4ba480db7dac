package zmtp

import (
	"errors"
	"fmt"
)

// Errors reported by this package. Wrapped errors carry details; compare
// with errors.Is.
var (
	// ErrProtocol means the peer violated ZMTP (bad greeting, malformed
	// command or frame, unexpected command during the handshake).
	ErrProtocol = errors.New("zmtp: protocol error")
	// ErrIncompatible means the peer's socket type or security mechanism
	// cannot talk to ours.
	ErrIncompatible = errors.New("zmtp: incompatible peer")
	// ErrTooLarge means a message exceeded the configured maximum size; it
	// was refused before its body was read.
	ErrTooLarge = errors.New("zmtp: message too large")
	// ErrQueueFull means an outbound queue is at its limit and the message
	// could not be queued.
	ErrQueueFull = errors.New("zmtp: outbound queue full")
	// ErrClosed means the connection or socket is closed.
	ErrClosed = errors.New("zmtp: closed")
	// ErrPeerError means the peer sent an ERROR command; the wrapped text is
	// its reason.
	ErrPeerError = errors.New("zmtp: peer reported an error")
)

// ErrSlowConsumer means a peer did not read fast enough, its outbound
// queue overflowed under the OverflowDisconnect policy, and the
// connection was closed.
var ErrSlowConsumer = errors.New("zmtp: slow consumer: outbound queue overflowed")

// TooLargeError reports an incoming message that exceeded the size or
// frame-count limit. The message was skipped without being held in
// memory and the connection remains usable; errors.Is(err, ErrTooLarge)
// is true.
type TooLargeError struct {
	Size   uint64 // bytes seen before the limit was crossed (0 if frames)
	Frames int    // frames seen before the limit was crossed (0 if size)
	Limit  int    // the limit that was crossed
}

// Error implements error.
func (e *TooLargeError) Error() string {
	if e.Frames > 0 {
		return fmt.Sprintf("zmtp: message refused: more than %d frames", e.Limit)
	}
	return fmt.Sprintf("zmtp: message refused: %d bytes or more, limit %d", e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }
