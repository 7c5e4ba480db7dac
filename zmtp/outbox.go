package zmtp

import (
	"sync"
	"sync/atomic"
	"time"
)

// Overflow says what an Outbox does with a message that does not fit.
type Overflow int

const (
	// OverflowDefault (the zero value) leaves the choice to the owner of
	// the limits: a Server or Dealer without a policy rejects (see
	// OverflowReject); the ZCCP broker drops oldest.
	OverflowDefault Overflow = iota
	// OverflowReject refuses the new message with ErrQueueFull.
	OverflowReject
	// OverflowDropOldest drops the oldest droppable messages to make room
	// (down to three quarters of the limits, so that a consumer that stays
	// behind does not cost a compaction per message); messages that are
	// not droppable are never dropped, and if they alone fill the queue the
	// new message is refused with ErrQueueFull.
	OverflowDropOldest
	// OverflowDisconnect refuses the message and marks the queue failed
	// with ErrSlowConsumer, which closes the connection.
	OverflowDisconnect
)

// String returns the policy name as used in configuration.
func (o Overflow) String() string {
	switch o {
	case OverflowDefault:
		return "default"
	case OverflowReject:
		return "reject"
	case OverflowDropOldest:
		return "drop-oldest"
	case OverflowDisconnect:
		return "disconnect"
	}
	return "unknown"
}

// Limits bound an Outbox. Zero fields take the defaults below.
type Limits struct {
	MaxBytes    int      // queued bytes (encoded frames), not counting the batch being written
	MaxMessages int      // queued messages
	Overflow    Overflow // what to do when full
	// Patience bounds how long a queue past its high-water mark keeps
	// asking its producers to pause (StateHigh) while its writer makes no
	// progress (takes nothing and puts no chunk of its batch on the wire);
	// after that the queue is left to its overflow policy until the writer
	// takes the queue again. Default 100 ms.
	Patience time.Duration
	// Budget, if set, bounds the bytes queued (and being written) by every
	// outbox that shares it; see Budget.
	Budget *Budget
}

// Default outbox limits.
const (
	DefaultMaxQueuedBytes    = 8 << 20
	DefaultMaxQueuedMessages = 100_000
	DefaultPatience          = 100 * time.Millisecond
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxQueuedBytes
	}
	if l.MaxMessages <= 0 {
		l.MaxMessages = DefaultMaxQueuedMessages
	}
	if l.Overflow == OverflowDefault {
		l.Overflow = OverflowReject
	}
	if l.Patience <= 0 {
		l.Patience = DefaultPatience
	}
	return l
}

// mark records where a queued message ends and whether it may be dropped.
// A message queued with AppendDeadline also has a deadline (unix ns),
// the offset from its start of a 10-digit TTL field to refresh at write
// time, and the owner's tag to report if it expires first.
type mark struct {
	end       int
	droppable bool
	patch     int32 // offset of the TTL digits from the message start; 0: none
	deadline  int64
	tag       uint64
	reported  uint64  // drops this message reports to the peer (AppendReport); owed again if it is dropped
	seg       *Shared // written after the message's own bytes (AppendShared); nil: none
}

// segAt places a shared segment in a batch: it is written after the
// first at bytes of the batch's own buffer.
type segAt struct {
	at int
	s  *Shared
}

// batch is what the writer takes: the queued bytes and, between them,
// the shared segments of the messages queued with AppendShared.
type batch struct {
	b    []byte
	segs []segAt
}

// TTLDigits is the width of the TTL field AppendDeadline refreshes: ten
// decimal digits of milliseconds, zero-padded.
const TTLDigits = 10

// maxSpare is the largest buffer kept for reuse after a write.
const maxSpare = 1 << 20

// Outbox is a bounded queue of encoded frames waiting to be written to one
// peer. Producers append whole messages under a short lock and never do
// I/O; a single writer goroutine takes everything queued in one swap and
// writes it with one syscall, so bursts coalesce.
//
// Memory: at most Limits.MaxBytes queued plus one batch in flight (the
// previous swap) and two spare buffers of up to 1 MiB. A single message
// larger than MaxBytes is accepted when the queue is empty. Shared
// segments (AppendShared) count in full against MaxBytes but are held
// once however many queues refer to them.
type Outbox struct {
	mu        sync.Mutex
	pending   []byte  // encoded messages not yet taken by the writer
	marks     []mark  // one per message in pending
	spare     []byte  // buffer returned by the writer, reused for pending
	spare2    []byte  // a second one (only when spare is set): see release
	front     int     // insertion point for SendFirst (end of the prefix inserted so far)
	segBytes  int     // bytes of the shared segments of the queued messages (counted by the limits, not by pending)
	nsegs     int     // queued messages with a shared segment
	segs      []segAt // the writer's scratch list, reused between batches
	limits    Limits
	dropped   uint64        // droppable messages dropped, total
	unreport  uint64        // dropped since the last TakeDropped
	closing   bool          // drain what is pending, then stop
	closed    bool          // stop now
	budget    *Budget       // shared bound on the bytes of many outboxes (nil: none)
	stall     chan struct{} // closed when the writer next takes the queue; nil unless a producer was told StateHigh
	behind    bool          // the overflow policy acted, or patience ran out, since the writer last took the queue: no more StateHigh
	highSince int64         // unix ns of the first StateHigh since the writer last took the queue (0: none)
	failed    error         // reason the queue stopped accepting
	onFail    func(error)   // told (without the lock) when the queue fails; set by the owning Conn
	queued    uint64        // messages committed, total
	deadlines int           // queued messages with a deadline
	onExpire  func(tag uint64)
	expired   []uint64 // scratch for take
	wake      chan struct{}
}

// NewOutbox returns an empty outbox with the given limits.
func NewOutbox(l Limits) *Outbox {
	l = l.withDefaults()
	return &Outbox{limits: l, budget: l.Budget, wake: make(chan struct{}, 1)}
}

// Limits returns the outbox's limits.
func (o *Outbox) Limits() Limits { return o.limits }

// room makes pending able to take size more bytes without the append
// reallocating: it starts from the spare buffer and grows by doubling
// (append alone grows large slices by a quarter, copying far more often).
// Called with o.mu held.
func (o *Outbox) room(size int) {
	if o.pending == nil {
		o.pending, o.spare, o.spare2 = o.spare[:0], o.spare2, nil
	}
	need := len(o.pending) + size
	if need <= cap(o.pending) {
		return
	}
	nb := make([]byte, len(o.pending), max(need, 2*cap(o.pending), 4096))
	copy(nb, o.pending)
	o.pending = nb
}

// Expire drops the queued commands whose deadline has passed and tells
// the expire handler, without waiting for the writer to reach them (it
// may be blocked on a peer that does not read). Owners call it now and
// then (the broker does on each liveness tick).
func (o *Outbox) Expire() {
	o.mu.Lock()
	if o.deadlines == 0 {
		o.mu.Unlock()
		return
	}
	tags := o.expireLocked(time.Now().UnixNano(), nil)
	f := o.onExpire
	o.mu.Unlock()
	if f != nil {
		for _, t := range tags {
			f(t)
		}
	}
}

// SetExpireHandler sets the function told about commands dropped because
// their deadline passed before they were written. It is called from the
// writer goroutine, without the outbox lock, and must not block.
func (o *Outbox) SetExpireHandler(f func(tag uint64)) {
	o.mu.Lock()
	o.onExpire = f
	o.mu.Unlock()
}

// expireLocked drops the messages whose deadline has passed and refreshes
// the TTL field of the others; it returns the tags of those dropped.
// Called with o.mu held when o.deadlines > 0.
func (o *Outbox) expireLocked(now int64, expired []uint64) []uint64 {
	before := len(o.pending)
	out := o.pending[:0]
	w, prev, live := 0, 0, 0
	for _, m := range o.marks {
		if m.deadline != 0 && now >= m.deadline {
			expired = append(expired, m.tag)
			o.unreport += m.reported // the drops it reported are owed again
			o.dropSegLocked(m)
			prev = m.end
			continue
		}
		start := len(out)
		out = append(out, o.pending[prev:m.end]...) // never overtakes the read position
		if m.deadline != 0 {
			live++
			if m.patch > 0 {
				putDigits(out[start+int(m.patch):start+int(m.patch)+TTLDigits], (m.deadline-now)/1e6)
			}
		}
		prev = m.end
		m.end = len(out)
		o.marks[w] = m
		w++
	}
	clear(o.marks[w:]) // no stale reference keeps a dropped segment alive
	o.pending, o.marks = out, o.marks[:w]
	o.budget.add(len(o.pending) - before)
	o.deadlines = live
	return expired
}

// bytesLocked returns the bytes queued, shared segments included.
func (o *Outbox) bytesLocked() int { return len(o.pending) + o.segBytes }

// segLen returns the size of m's shared segment (0: none).
func (m *mark) segLen() int {
	if m.seg == nil {
		return 0
	}
	return m.seg.Len()
}

// dropSegLocked lets go of the shared segment of a message taken out of
// the queue (dropped, expired or discarded).
func (o *Outbox) dropSegLocked(m mark) {
	if m.seg != nil {
		o.segBytes -= m.seg.Len()
		o.nsegs--
		m.seg.Release()
	}
}

// putDigits writes v as len(dst) zero-padded decimal digits.
func putDigits(dst []byte, v int64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// overflowLocked applies the overflow policy so that a message of size
// bytes (charge of them new to the budget) fits; called with o.mu held. A
// droppable message that is refused
// (under OverflowReject, or under OverflowDropOldest when the queue holds
// only messages that are not droppable) is counted as dropped like the
// others, so that the peer is told about it.
func (o *Outbox) overflowLocked(size, charge int, droppable bool) error {
	switch o.limits.Overflow {
	case OverflowDropOldest:
		if o.dropOldestLocked(size, charge) {
			return nil
		}
		if droppable {
			o.dropped++
			o.unreport++
		}
		return ErrQueueFull
	case OverflowDisconnect:
		o.failed = ErrSlowConsumer
		o.unstallLocked()
		o.signal()
		return ErrSlowConsumer
	default:
		if droppable { // refused: as good as dropped, and reported as such
			o.dropped++
			o.unreport++
		}
		return ErrQueueFull
	}
}

// dropOldestLocked drops the oldest droppable messages until the queue
// with the new message is at three quarters of its limits; it reports
// whether the new message (charge of its size new to the budget) now
// fits. It compacts pending in place. Called with o.mu held.
func (o *Outbox) dropOldestLocked(size, charge int) bool {
	targetBytes := o.limits.MaxBytes*3/4 - size
	targetMsgs := o.limits.MaxMessages*3/4 - 1
	if ex := o.budget.excess(charge); ex > 0 {
		// Make room in the shared budget too, and a quarter of this queue
		// more, so that a queue at the budget does not compact per message.
		targetBytes = min(targetBytes, o.bytesLocked()*3/4-int(ex))
	}
	o.dropWhileLocked(func(bytes, msgs int) bool { return bytes > targetBytes || msgs > targetMsgs })
	fits := len(o.marks) == 0 ||
		o.bytesLocked()+size <= o.limits.MaxBytes && len(o.marks)+1 <= o.limits.MaxMessages
	return fits && o.budget.excess(charge) <= 0
}

// dropWhileLocked drops droppable messages, oldest first, while more says
// so of the queue's bytes (shared segments included) and messages left;
// it counts them as dropped (owed to the peer, with the drops they were
// to report) and returns how many it dropped. It compacts pending in
// place. Called with o.mu held.
func (o *Outbox) dropWhileLocked(more func(bytes, msgs int) bool) int {
	bytes, msgs := o.bytesLocked(), len(o.marks)
	before, n := len(o.pending), 0
	out := o.pending[:0]
	w, prev := 0, 0
	for _, m := range o.marks {
		end := m.end
		if m.droppable && more(bytes, msgs) {
			bytes -= end - prev + m.segLen()
			msgs--
			n++
			o.dropped++
			o.unreport += 1 + m.reported // it, and the drops it was to report
			o.dropSegLocked(m)
		} else {
			out = append(out, o.pending[prev:end]...) // never overtakes the read position
			m.end = len(out)
			o.marks[w] = m
			w++
		}
		prev = end
	}
	clear(o.marks[w:]) // no stale reference keeps a dropped segment alive
	o.pending, o.marks = out, o.marks[:w]
	o.budget.add(len(o.pending) - before)
	return n
}

// cut is Budget.Reclaim's work on this queue, by its overflow policy:
// OverflowDropOldest drops its oldest notifications, need bytes of them
// at least (shared segments counted in full, though one frees budget only
// when its last queue lets go); OverflowDisconnect fails the queue, which
// discards it and closes the connection; OverflowReject is left alone.
// It reports whether it cut anything. Called without o.mu.
func (o *Outbox) cut(need int) bool {
	o.mu.Lock()
	if o.closed || o.failed != nil || len(o.marks) == 0 {
		o.mu.Unlock()
		return false
	}
	switch o.limits.Overflow {
	case OverflowDropOldest:
		floor := o.bytesLocked() - need
		n := o.dropWhileLocked(func(bytes, _ int) bool { return bytes > floor })
		o.mu.Unlock()
		return n > 0
	case OverflowDisconnect:
		o.failed = ErrSlowConsumer
		o.discardLocked()
		o.signal()
		o.mu.Unlock()
		if o.onFail != nil {
			o.onFail(ErrSlowConsumer)
		}
		return true
	}
	o.mu.Unlock()
	return false
}

// Send queues one message (not droppable) and wakes the writer.
func (o *Outbox) Send(frames [][]byte) error {
	if _, err := o.Append(MessageSize(frames), Command, func(b []byte) []byte { return AppendMessage(b, frames) }); err != nil {
		return err
	}
	o.Flush()
	return nil
}

// SendFirst queues one message ahead of everything already queued (after
// earlier SendFirst messages), ignoring the limits; it is meant for the
// handshake of a new connection (e.g. a protocol HELLO) that must precede
// messages queued while disconnected.
func (o *Outbox) SendFirst(frames [][]byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	msg := AppendMessage(nil, frames)
	n := len(msg)
	o.queued++
	buf := make([]byte, 0, len(o.pending)+n)
	buf = append(buf, o.pending[:o.front]...)
	buf = append(buf, msg...)
	buf = append(buf, o.pending[o.front:]...)
	marks := make([]mark, 0, len(o.marks)+1)
	i := 0
	for ; i < len(o.marks) && o.marks[i].end <= o.front; i++ {
		marks = append(marks, o.marks[i])
	}
	marks = append(marks, mark{end: o.front + n})
	for ; i < len(o.marks); i++ {
		m := o.marks[i]
		m.end += n
		marks = append(marks, m)
	}
	o.pending, o.marks = buf, marks
	o.front += n
	o.budget.add(n)
	return nil
}

// Flush wakes the writer if it is idle. Producers that queue many messages
// in a batch call it once at the end of the batch.
func (o *Outbox) Flush() { o.signal() }

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Len returns the number of queued messages and bytes (not counting the
// batch being written).
func (o *Outbox) Len() (messages, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.marks), o.bytesLocked()
}

// Dropped returns how many droppable messages were dropped in total.
func (o *Outbox) Dropped() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}

// Queued returns how many messages were ever queued (committed).
func (o *Outbox) Queued() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queued
}

// TakeDropped returns how many messages were dropped since its last call
// (or since the last AppendReport) and resets that count.
func (o *Outbox) TakeDropped() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.unreport
	o.unreport = 0
	return n
}

// Err returns why the outbox stopped accepting messages, or nil.
func (o *Outbox) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed
}

// take blocks until there is something to write, then hands the whole
// pending buffer, and the shared segments between its messages, to the
// writer. ok is false when the writer must stop: the outbox was closed,
// failed, or is closing and has been drained.
func (o *Outbox) take(stop *atomic.Bool) (b batch, ok bool) {
	for {
		o.mu.Lock()
		if o.closed || o.failed != nil || stop.Load() {
			if o.closed || o.failed != nil {
				o.discardLocked()
			}
			o.mu.Unlock()
			return batch{}, false
		}
		if o.deadlines > 0 {
			o.expired = o.expireLocked(time.Now().UnixNano(), o.expired[:0])
			if len(o.expired) > 0 {
				tags, f := o.expired, o.onExpire
				o.expired = nil
				o.mu.Unlock()
				if f != nil {
					for _, t := range tags {
						f(t)
					}
				}
				continue
			}
		}
		if len(o.pending) > 0 {
			b = batch{b: o.pending, segs: o.takeSegsLocked()}
			o.pending = nil
			o.marks = o.marks[:0]
			o.front = 0
			o.deadlines = 0
			o.unstallLocked()
			o.mu.Unlock()
			return b, true
		}
		if o.closing {
			o.mu.Unlock()
			return batch{}, false
		}
		o.mu.Unlock()
		<-o.wake
	}
}

// takeSegsLocked lists the shared segments of the queued messages, in
// order, for the writer, which now holds their references.
func (o *Outbox) takeSegsLocked() []segAt {
	if o.nsegs == 0 {
		return nil
	}
	segs := o.segs[:0]
	o.segs = nil
	for i := range o.marks {
		if m := &o.marks[i]; m.seg != nil {
			segs = append(segs, segAt{at: m.end, s: m.seg})
			m.seg = nil
		}
	}
	o.segBytes, o.nsegs = 0, 0
	return segs
}

// release gives a written batch back for reuse, and lets go of its shared
// segments.
// Buffers up to twice the byte limit are kept, so that a busy peer's
// batches do not regrow from nothing (an allocation, clearing and a copy
// per doubling); Trim lets large ones go once the queue is idle. Two are
// kept: when the writer finishes a batch before the producer appends
// again it returns a second buffer while the first is still spare, and
// the next batch that overlaps a write needs it.
func (o *Outbox) release(bt batch) {
	b := bt.b
	o.budget.add(-len(b))
	for i := range bt.segs {
		bt.segs[i].s.Release()
		bt.segs[i].s = nil
	}
	o.mu.Lock()
	if bt.segs != nil {
		o.segs = bt.segs[:0]
	}
	if cap(b) <= max(maxSpare, 2*o.limits.MaxBytes) {
		switch {
		case o.spare == nil:
			o.spare = b[:0]
		case o.spare2 == nil:
			o.spare2 = b[:0]
		}
	}
	o.mu.Unlock()
}

// discardLocked drops everything queued (the outbox is closed or failed),
// refunding the budget and releasing stalled producers.
func (o *Outbox) discardLocked() {
	o.budget.add(-len(o.pending))
	for _, m := range o.marks {
		o.dropSegLocked(m)
	}
	clear(o.marks)
	o.pending, o.marks, o.front, o.deadlines = nil, o.marks[:0], 0, 0
	o.unstallLocked()
}

// Trim releases the spare buffers larger than 1 MiB when nothing is
// queued, so that many quiet connections do not each hold a large buffer.
// An owner calls it now and then (the broker does on each liveness tick).
func (o *Outbox) Trim() {
	o.mu.Lock()
	if len(o.pending) == 0 {
		if cap(o.spare2) > maxSpare {
			o.spare2 = nil
		}
		if cap(o.spare) > maxSpare {
			o.spare, o.spare2 = o.spare2, nil
		}
	}
	o.mu.Unlock()
}

// close stops the outbox. With drain, the writer first writes what is
// queued; without, queued messages are discarded.
func (o *Outbox) close(drain bool) {
	o.mu.Lock()
	if drain {
		o.closing = true
	} else {
		o.closed = true
		o.discardLocked()
	}
	o.mu.Unlock()
	o.signal()
}
