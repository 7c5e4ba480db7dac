package federation

import (
	"slices"

	"github.com/nats-io/nats.go"
)

// setSys is the advertised set of a broker's broker-event expressions
// (^\$…): presence events are forwarded only to brokers whose set is not
// empty. They are not matched per expression at the sender (events are
// rare); the receiving broker matches them against its own subscribers.
const setSys = "sys"

func (n *Node) presenceSubject(id string) string { return n.o.Prefix + ".fed.presence." + id }

// ForwardPresence implements broker.PresenceFederation: the event goes
// to every remote broker with a broker-event subscription, numbered on
// its presence subject like notifications.
func (n *Node) ForwardPresence(frames [][]byte) {
	if len(frames) == 0 {
		return
	}
	n.mu.Lock()
	var to []string
	for id, r := range n.remotes {
		if s := r.sets[setSys]; s != nil && len(s.items) > 0 {
			to = append(to, id)
		}
	}
	n.mu.Unlock()
	for _, id := range to {
		if err := n.send(n.outTo(id, outPresence), frames[0], frames[1:]); err != nil {
			n.lost(id, err)
			continue
		}
		n.stats.presence.Add(1)
	}
}

// onPresence delivers a presence event another broker forwarded to the
// local broker-event subscribers.
func (n *Node) onPresence(m *nats.Msg) {
	w, err := parseMessage(m.Data)
	if err == nil && !n.inOrder(n.inSeqPresence, w.origin, w.seq) {
		return
	}
	if err == nil {
		_, err = n.b.InjectPresence(append([][]byte{w.deliver}, w.content...))
	}
	if err != nil {
		n.stats.bad.Add(1)
		n.log.Warn("bad forwarded presence event", "bytes", len(m.Data), "err", err)
	}
}

// remoteGone tells local broker-event subscribers that the sessions of a
// remote broker that left or was presumed dead are gone (a leave event
// each, reason broker-lost): the identifiers it held as far as this
// broker knows (its advertised identifiers, or the registry's entries
// for it). Called with n.mu held.
func (n *Node) remoteGone(id string, r *remote) {
	var idents []string
	if n.reg != nil {
		idents = n.reg.brokerDown(id)
	} else if s := r.sets[setIdents]; s != nil {
		for ident := range s.items {
			idents = append(idents, ident)
		}
	}
	slices.Sort(idents)
	if k := n.b.RemoteLeft(r.name, idents); k > 0 || len(idents) > 0 {
		n.log.Info("sessions of a lost broker reported gone", "broker", id, "broker_name", r.name, "identifiers", len(idents), "events", k)
	}
}

// Listening reports whether remote broker id has advertised a
// broker-event subscription (so this broker forwards presence events to
// it).
func (n *Node) Listening(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.remotes[id]
	if r == nil {
		return false
	}
	s := r.sets[setSys]
	return s != nil && len(s.items) > 0
}
