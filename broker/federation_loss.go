package broker

import (
	"fmt"

	"github.com/zccp-go/zccp/codec"
)

// Stream is the receiving side of one remote broker's forwarded
// notifications: it remembers the local sessions they were delivered to,
// so that notifications of that stream lost on the way (a gap in its
// sequence numbers) can be told to them with zccp-missed. Which of them
// the lost ones would have reached cannot be known (their addresses are
// lost with them), so every session the stream has delivered to since it
// began is told: a subscriber may be told of a loss that was not its own,
// never left untold of one that was. Losses before the stream has reached
// any live session (the first messages from that broker) are told to the
// sessions its next delivered message reaches. A Stream is used by one
// goroutine (the federation's subscription callback).
type Stream struct {
	refs    map[*sessionRef]struct{}
	pruneAt int
	unowned uint64 // lost while the stream had reached no live session: told to the first it reaches
}

// NewStream returns an empty stream.
func NewStream() *Stream { return &Stream{refs: map[*sessionRef]struct{}{}, pruneAt: 1024} }

// Sessions returns how many sessions the stream remembers (ended ones
// included until the next prune).
func (st *Stream) Sessions() int { return len(st.refs) }

// prune forgets ended sessions; the map is bounded by the live sessions
// (MaxClients) plus as many ended ones.
func (st *Stream) prune() {
	for r := range st.refs {
		if r.get() == nil {
			delete(st.refs, r)
		}
	}
	st.pruneAt = max(1024, 2*len(st.refs))
}

// InjectStream is InjectDeliver for a message of stream st (nil: none),
// which remembers the sessions it was queued to.
func (b *Broker) InjectStream(st *Stream, frame []byte, content [][]byte) (int, error) {
	v, err := codec.Parse(frame)
	if err != nil {
		return 0, fmt.Errorf("broker: federated message: %w", err)
	}
	if v.ID != codec.Deliver {
		return 0, ErrNotDeliver
	}
	if len(v.Address) > 0 && v.Address[0] == '$' {
		return 0, fmt.Errorf("broker: federated message to reserved address %q", v.Address)
	}
	n := 0
	f := b.newDeliverFilter(v.Address) // policy_enforce.go
	for _, r := range b.index.Match(v.Address) {
		t := r.get()
		if t == nil || !f.allows(t) {
			continue
		}
		if st != nil && st.unowned > 0 {
			t.out.Owe(st.unowned) // this message carries it
		}
		if injectTo(t, v, content) {
			n++
			if st != nil {
				st.refs[r] = struct{}{}
			}
		}
	}
	if st != nil && n > 0 {
		st.unowned = 0
	}
	if st != nil && len(st.refs) >= st.pruneAt {
		st.prune()
	}
	return n, nil
}

// StreamLost records that missed notifications of stream st never
// arrived: each live session the stream delivered to is owed them, and
// its next notification (of any origin) carries zccp-missed with them
// added, as a local drop is reported. It returns how many sessions were
// told; with none live, the count waits for the next sessions the stream
// reaches.
func (b *Broker) StreamLost(st *Stream, missed uint64) int {
	n := 0
	for r := range st.refs {
		s := r.get()
		if s == nil {
			delete(st.refs, r)
			continue
		}
		s.out.Owe(missed)
		n++
	}
	if n == 0 {
		st.unowned += missed
	}
	return n
}
