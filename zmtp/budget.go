package zmtp

import "sync/atomic"

// Budget bounds the bytes held by many outboxes together (a broker's
// queues to all its clients): their queued messages and the batches their
// writers are writing. Each outbox charges what it appends and refunds
// what it writes, drops or discards.
//
// Past three quarters of the limit, Append reports StateHigh so that the
// producer can pause; at the limit a message is handled as if its own queue
// were full (see Limits.Overflow), and a message that still does not fit
// is refused. Control messages are never refused for the budget.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes; limit must be positive.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Limit returns the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes currently charged.
func (b *Budget) Used() int64 { return b.used.Load() }

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
