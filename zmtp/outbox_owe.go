package zmtp

// Owe adds n to the notifications this peer is owed a report of, as if n
// droppable messages had been dropped here: the next AppendReport hands
// the total to its encoder (zccp-missed), exactly as a local drop is
// reported. It is for losses upstream of the queue (a federation link
// that lost forwarded notifications); Dropped does not count them.
func (o *Outbox) Owe(n uint64) {
	o.mu.Lock()
	o.unreport += n
	o.mu.Unlock()
}
