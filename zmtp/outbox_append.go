package zmtp

import "time"

// Class says how a queued message is treated when its queue is full.
type Class uint8

const (
	// Command messages are never dropped once queued: when the queue
	// (or its budget) is full they are refused with ErrQueueFull, and the
	// producer must tell whoever sent them.
	Command Class = iota
	// Notification messages may be dropped by the overflow policy; a
	// notification refused or dropped is counted (Dropped, TakeDropped,
	// AppendReport).
	Notification
	// Control messages (a PONG, a PING, a heartbeat) ignore the limits and
	// the budget, so that a peer whose queue is full of data is still
	// answered; they fail only when the outbox is closed.
	Control
)

// State describes the queue after a successful Append.
type State uint8

const (
	// StateFirst: the queue was empty before this message, so its writer
	// may be idle and must be woken (Flush). Producers that queue a batch
	// keep the outboxes that returned it and flush them at the end.
	StateFirst State = 1 << iota
	// StateHigh: the queue (or its budget) is past three quarters of its
	// limits. A producer that can slow its own source should flush and
	// wait, a bounded time, on Stalled before queueing more. It is not
	// reported again once the overflow policy has acted, until the writer
	// has taken the queue.
	StateHigh
)

// Append queues one message that enc appends to dst. size must bound the
// bytes enc appends; enc runs with the outbox locked and must not block or
// call the outbox. The lock is released when Append returns, whatever
// enc does. The error is ErrQueueFull, ErrSlowConsumer or ErrClosed.
func (o *Outbox) Append(size int, class Class, enc func(dst []byte) []byte) (State, error) {
	return o.append(size, class, 0, 0, false, nil, func(dst []byte, _ uint64) ([]byte, int) { return enc(dst), -1 })
}

// AppendReport is Append for a message that tells the peer how many
// notifications it missed: enc gets the number dropped since the last
// report and must put it into the message (0: nothing to report). The
// count travels with that message: if it is dropped in turn before it is
// written, the count is owed again and goes with the next report, so the
// reports a peer receives add up to every drop.
func (o *Outbox) AppendReport(size int, class Class, enc func(dst []byte, missed uint64) []byte) (State, error) {
	return o.append(size, class, 0, 0, true, nil, func(dst []byte, missed uint64) ([]byte, int) { return enc(dst, missed), -1 })
}

// AppendShared is AppendReport for a message whose last frames are a
// shared segment: enc appends the message's own first part (whose last
// frame header says MORE) and seg follows it on the wire, written from
// the segment itself (a vectored write), not copied into this queue.
// size bounds what enc appends. The queue's limits count size plus
// seg.Len(); the budget only size, since seg was charged once when it was
// made. The queue holds a reference to seg until the message is written,
// dropped or discarded.
func (o *Outbox) AppendShared(size int, class Class, seg *Shared, enc func(dst []byte, missed uint64) []byte) (State, error) {
	return o.append(size, class, 0, 0, true, seg, func(dst []byte, missed uint64) ([]byte, int) { return enc(dst, missed), -1 })
}

// AppendDeadline queues a command that must not be written after
// deadline: when the writer comes to it too late it is dropped instead
// and the expire handler gets tag. enc returns the message and the offset
// in the returned slice of a TTLDigits-wide field (or -1): just before the
// write those digits are overwritten with the milliseconds left, so the
// peer sees how long it has from the moment the bytes leave.
func (o *Outbox) AppendDeadline(size int, deadline time.Time, tag uint64, enc func(dst []byte) (b []byte, ttlAt int)) (State, error) {
	return o.append(size, Command, deadline.UnixNano(), tag, false, nil, func(dst []byte, _ uint64) ([]byte, int) { return enc(dst) })
}

func (o *Outbox) append(size int, class Class, deadline int64, tag uint64, report bool, seg *Shared, enc func([]byte, uint64) ([]byte, int)) (State, error) {
	if class != Control && o.budget.excess(size) > 0 {
		o.budget.Reclaim(size) // cut the largest queues first (this one included), without o.mu
	}
	st, err, failed := o.appendLocked(size, class, deadline, tag, report, seg, enc)
	if failed && o.onFail != nil { // set before the outbox is shared, never changed
		o.onFail(err)
	}
	return st, err
}

// appendLocked admits, encodes and records one message under o.mu; failed
// says this call made the queue fail (OverflowDisconnect).
func (o *Outbox) appendLocked(size int, class Class, deadline int64, tag uint64, report bool, seg *Shared,
	enc func([]byte, uint64) ([]byte, int)) (st State, err error, failed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	qsize := size
	if seg != nil {
		qsize += seg.Len()
	}
	if err := o.admitLocked(qsize, size, class); err != nil {
		return 0, err, err == ErrSlowConsumer && o.failed == err
	}
	if len(o.marks) == 0 {
		st |= StateFirst
	}
	o.room(size)
	start := len(o.pending)
	var missed uint64
	if report {
		missed, o.unreport = o.unreport, 0
	}
	b, ttlAt := enc(o.pending, missed)
	m := mark{end: len(b), droppable: class == Notification, reported: missed, deadline: deadline, tag: tag}
	if deadline != 0 {
		o.deadlines++
		if ttlAt > start && ttlAt+TTLDigits <= len(b) {
			m.patch = int32(ttlAt - start) // from the message start
		}
	}
	o.budget.add(len(b) - start)
	if seg != nil {
		seg.acquire()
		m.seg = seg
		o.segBytes += seg.Len()
		o.nsegs++
	}
	o.pending = b
	o.marks = append(o.marks, m)
	o.queued++
	if class != Control && !o.behind && o.highLocked() && o.patientLocked() {
		st |= StateHigh
		if o.stall == nil {
			o.stall = make(chan struct{})
		}
	}
	return st, nil, false
}

// admitLocked checks that a message of size bytes (charge of them new to
// the budget) may be queued, applying the overflow policy if the queue or
// the budget is full.
func (o *Outbox) admitLocked(size, charge int, class Class) error {
	if o.closed || o.closing || o.failed != nil {
		if o.failed != nil {
			return o.failed
		}
		return ErrClosed
	}
	if class == Control {
		return nil
	}
	full := len(o.marks) > 0 && (o.bytesLocked()+size > o.limits.MaxBytes || len(o.marks)+1 > o.limits.MaxMessages)
	if !full && o.budget.excess(charge) <= 0 {
		return nil
	}
	o.behind = true
	return o.overflowLocked(size, charge, class == Notification)
}

// highLocked reports whether the queue or its budget is past three
// quarters of its limits.
func (o *Outbox) highLocked() bool {
	return o.bytesLocked() > o.limits.MaxBytes/4*3 || len(o.marks) > o.limits.MaxMessages/4*3 || o.budget.high()
}

// patientLocked reports whether the queue may still ask its producers to
// pause: its writer has taken the queue, or put a chunk of its batch on
// the wire (progressed), within Limits.Patience.
func (o *Outbox) patientLocked() bool {
	now := time.Now().UnixNano()
	if o.highSince == 0 {
		o.highSince = now
		return true
	}
	if now-o.highSince <= int64(o.limits.Patience) {
		return true
	}
	o.behind = true
	return false
}

// progressed tells the outbox that its writer has just put another chunk
// of the batch it took on the wire: a writer busy with a large batch for
// a consumer that reads steadily is making progress, so the patience of a
// queue past its high-water mark starts again. Only a writer that puts
// nothing on the wire for Limits.Patience leaves the queue to its policy.
func (o *Outbox) progressed() {
	o.mu.Lock()
	if o.highSince != 0 && !o.behind {
		o.highSince = time.Now().UnixNano()
	}
	o.mu.Unlock()
}

// Stalled returns a channel closed when the writer next takes the queue
// (or the outbox closes): a producer told StateHigh waits on it, for a
// bounded time, before queueing more. It returns nil when no producer was
// told StateHigh since the writer last took the queue.
func (o *Outbox) Stalled() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stall
}

// unstallLocked releases the producers waiting on Stalled.
func (o *Outbox) unstallLocked() {
	if o.stall != nil {
		close(o.stall)
		o.stall = nil
	}
	o.behind = false
	o.highSince = 0
}
