package zmtp

import "sync/atomic"

// Shared is a run of encoded frames (a large message's content) that many
// outboxes queue without copying: each queue holds a reference beside its
// own bytes for the message (frame 1, which differs per recipient), and
// its writer sends both with one vectored write. The bytes are immutable
// and owned by the garbage collector, so a reference never outlives its
// data; the count of references exists for accounting only: the budget is
// charged once, when the segment is made, and refunded when the last
// reference (the maker's or a queue's) is released.
//
// Each queue's own byte limit counts a segment in full (it bounds what
// that peer has to read); the shared budget counts it once.
type Shared struct {
	b      []byte
	refs   atomic.Int64
	budget *Budget
}

// NewShared encodes frames (each with its header, as AppendFrames: the
// last ends the message) into a new segment charged to budget (which may
// be nil). The caller holds the first reference and must Release it once
// it has queued the segment to every recipient.
func NewShared(budget *Budget, frames [][]byte) *Shared {
	b := AppendFrames(make([]byte, 0, FramesSize(frames)), frames)
	s := &Shared{b: b, budget: budget}
	s.refs.Store(1)
	budget.add(len(b))
	return s
}

// Len returns the segment's size in bytes.
func (s *Shared) Len() int { return len(s.b) }

// Bytes returns the encoded frames; they must not be modified.
func (s *Shared) Bytes() []byte { return s.b }

// acquire adds a reference; the caller already holds one (the maker's).
func (s *Shared) acquire() { s.refs.Add(1) }

// Release drops a reference; the last one refunds the budget. A nil
// segment is ignored.
func (s *Shared) Release() {
	if s != nil && s.refs.Add(-1) == 0 {
		s.budget.add(-len(s.b))
	}
}
