package zmtp

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Budget bounds the bytes held by many outboxes together (a broker's
// queues to all its clients): their queued messages, the batches their
// writers are writing, and the shared segments they refer to (each
// counted once, however many queues refer to it; see Shared). Each outbox
// charges what it appends and refunds what it writes, drops or discards.
//
// Past three quarters of the limit, Append reports StateHigh so that the
// producer can pause. A message that would pass the limit first makes the
// budget cut the slowest consumers (Reclaim: the queues of connections
// holding the most bytes, each by its own overflow policy); if that does
// not make room, the message is handled as if its own queue were full
// (see Limits.Overflow), and a message that still does not fit is
// refused. Control messages are never refused for the budget.
type Budget struct {
	limit int64
	used  atomic.Int64

	reclaiming atomic.Bool   // one Reclaim at a time; the others do not wait
	fruitless  atomic.Int64  // unix ns until which Reclaim does not try again: the last one could cut nothing
	cuts       atomic.Uint64 // queues cut by Reclaim, total
	mu         sync.Mutex    // guards members; a leaf: no outbox lock is taken under it
	members    map[*Outbox]struct{}
}

// NewBudget returns a budget of limit bytes; limit must be positive.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes currently charged.
func (b *Budget) Used() int64 { return b.used.Load() }

// Cuts returns how many times Reclaim cut a queue (dropped its oldest
// notifications or disconnected it).
func (b *Budget) Cuts() uint64 { return b.cuts.Load() }

func (b *Budget) add(n int) {
	if b != nil && n != 0 {
		b.used.Add(int64(n))
	}
}

// excess returns by how many bytes adding n would pass the limit (≤ 0: fits).
func (b *Budget) excess(n int) int64 {
	if b == nil {
		return 0
	}
	return b.used.Load() + int64(n) - b.limit
}

// high reports whether the budget is past its high-water mark.
func (b *Budget) high() bool { return b != nil && b.used.Load() > b.limit/4*3 }

// join makes o a candidate for Reclaim (a connection's own queue); leave
// takes it out when the connection ends.
func (b *Budget) join(o *Outbox) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if b.members == nil {
		b.members = make(map[*Outbox]struct{})
	}
	b.members[o] = struct{}{}
	b.mu.Unlock()
}

func (b *Budget) leave(o *Outbox) {
	if b == nil {
		return
	}
	b.mu.Lock()
	delete(b.members, o)
	b.mu.Unlock()
}

// reclaimRounds bounds how many times Reclaim goes over the queues: each
// round cuts every queue it reaches by what is still missing, so a
// segment shared by all of them is let go within one round.
const reclaimRounds = 4

// reclaimBackoff is how long Reclaim rests after a scan that could cut
// nothing (the bytes are all in batches being written, or in queues that
// do not drop): meanwhile messages past the budget are refused at once.
const reclaimBackoff = 10 * time.Millisecond

// Reclaim makes room for n more bytes by cutting the slowest consumers:
// the queues holding the most bytes first, each by its own policy
// (OverflowDropOldest: its oldest notifications are dropped, counted and
// reported with the next message as for any drop; OverflowDisconnect: the
// queue fails and its connection closes; OverflowReject queues are left
// alone). It frees an eighth of the budget more than needed, so that the
// next messages do not each start a reclaim. It reports whether n bytes
// now fit. Only one Reclaim runs at a time; a concurrent call returns at
// once. It must be called without any outbox lock held.
func (b *Budget) Reclaim(n int) bool {
	if b == nil || b.excess(n) <= 0 {
		return true
	}
	if time.Now().UnixNano() < b.fruitless.Load() || !b.reclaiming.CompareAndSwap(false, true) {
		return b.excess(n) <= 0
	}
	defer b.reclaiming.Store(false)
	type cand struct {
		o     *Outbox
		bytes int
	}
	b.mu.Lock()
	cands := make([]cand, 0, len(b.members))
	for o := range b.members {
		cands = append(cands, cand{o: o})
	}
	b.mu.Unlock()
	for i := range cands {
		_, cands[i].bytes = cands[i].o.Len()
	}
	slices.SortFunc(cands, func(x, y cand) int { return y.bytes - x.bytes })
	margin := n + int(b.limit/8)
	for round := 0; round < reclaimRounds; round++ {
		cut := false
		for _, c := range cands {
			need := b.excess(margin)
			if need <= 0 {
				return true
			}
			if c.bytes > 0 && c.o.cut(int(need)) {
				b.cuts.Add(1)
				cut = true
			}
		}
		if !cut {
			if round == 0 { // every queue is empty or uncuttable: do not scan them again for each message
				b.fruitless.Store(time.Now().Add(reclaimBackoff).UnixNano())
			}
			break
		}
	}
	return b.excess(n) <= 0
}
