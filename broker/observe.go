package broker

import (
	"encoding/json"
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
	bySession := map[uint64]*session{}
	for _, s := range b.liveSessions() {
		bySession[s.num] = s
	}
	infos := b.Clients("")
	out := make([]ClientView, 0, len(infos))
	for _, ci := range infos {
		s := bySession[ci.Session]
		if s == nil {
			continue // ended in between
		}
		v := ClientView{ClientInfo: ci, LastSeen: s.peer.fx.lastReceived()}
		v.QueuedMessages, v.QueuedBytes = s.out.Len()
		out = append(out, v)
	}
	return out
}

// StatsRecord is the first frame of the broker API method "stats".
type StatsRecord struct {
	Broker    Stats       `json:"broker"`
	Retain    RetainStats `json:"retain"`
	Version   string      `json:"version"`
	Time      time.Time   `json:"time"`
	Truncated bool        `json:"truncated,omitempty"` // not every session fitted in one message
}

// statsAPI answers the broker API method "stats": the counters, then one
// JSON frame per session (ClientView), as many as fit in half the
// largest message.
func (b *Broker) statsAPI(s *session, id string) codec.Message {
	rec := StatsRecord{Broker: b.Stats(), Retain: b.RetainStats(), Version: Version, Time: time.Now()}
	frames := [][]byte{nil}
	size := 0
	for _, v := range b.Observe() {
		line, _ := json.Marshal(v)
		if size += len(line) + 16; int64(size) > b.cfg.MaxMessageSize/2 {
			rec.Truncated = true
			break
		}
		frames = append(frames, line)
	}
	frames[0], _ = json.Marshal(rec)
	return brokerDeliver(s.ident, codec.Headers{codec.HdrReplyTo: id, codec.HdrStatus: codec.StatusOK}, frames, "")
}
