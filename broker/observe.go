package broker

import (
	"time"

	"github.com/zccp-go/zccp/codec"
)

// ClientView is what an operator's view shows of one session: the wire
// record (ClientInfo) plus its connection's queue and last activity.
type ClientView struct {
	codec.ClientInfo
	QueuedMessages int       `json:"queued_messages"` // waiting in its outbound queue now
	QueuedBytes    int       `json:"queued_bytes"`
	LastSeen       time.Time `json:"last_seen"` // last byte received from it
}

// Observe returns every live session as ClientView, sorted like Clients.
// It reads counters only: safe to call often from any goroutine.
func (b *Broker) Observe() []ClientView {
	sessions := b.liveSessions()
	infos := make([]codec.ClientInfo, 0, len(sessions))
	bySession := make(map[uint64]*session, len(sessions))
	for _, s := range sessions {
		infos = append(infos, codec.ClientInfo{
			Identifier: s.ident, Labels: s.labels, Since: s.since, Session: s.num,
			Remote:    addrString(s.peer.conn.RemoteAddr()),
			Published: s.published.Load(), Directs: s.directs.Load(),
			Delivered: s.delivered(), Dropped: s.dropped(), Subscriptions: s.subs.Load(),
		})
		bySession[s.num] = s
	}
	sortClients(infos)
	out := make([]ClientView, len(infos))
	for i, ci := range infos {
		s := bySession[ci.Session]
		out[i].ClientInfo = ci
		out[i].QueuedMessages, out[i].QueuedBytes = s.out.Len()
		out[i].LastSeen = s.peer.conn.LastReceived()
	}
	return out
}
