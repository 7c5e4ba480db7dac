package federation

import "github.com/zccp-go/zccp/broker"

// deliverSeq checks a forwarded notification's sequence number and
// delivers it. When notifications of its origin went missing before it,
// every local session that origin's stream has delivered to is owed them
// first (broker.StreamLost), so this very message, where it reaches such
// a session, carries zccp-missed. Called by onDeliver only (the streams
// map and the sequence map are its own).
func (n *Node) deliverSeq(w *wireMessage) error {
	ok, gap := n.inOrderGap(n.inSeq, w.origin, w.seq)
	if !ok {
		return nil
	}
	st := n.streams[w.origin]
	if st == nil {
		st = broker.NewStream()
		n.streams[w.origin] = st
	}
	if gap > 0 {
		n.stats.told.Add(uint64(n.b.StreamLost(st, gap)))
	}
	k, err := n.b.InjectStream(st, w.deliver, w.content)
	n.stats.injected.Add(uint64(k))
	return err
}
