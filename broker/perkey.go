package broker

import (
	"errors"
	"strconv"

	"github.com/zccp-go/zccp/codec"
)

// errTooManyKeySessions: HELLO refused at MaxSessionsPerKey.
var errTooManyKeySessions = errors.New("too many sessions with one CURVE key")

// keyRoomLocked records s's CURVE key (from its connection) in s and
// reports whether that key may hold one more session; a NULL session
// always may. Called by register with b.mu held, for every session (a
// takeover too, so that it is counted like the one it replaces).
func (b *Broker) keyRoomLocked(s *session) bool {
	if s.peer != nil {
		s.key = s.peer.fx.peerKey()
	}
	return s.key.IsZero() || b.perKey[s.key] < b.cfg.MaxSessionsPerKey
}

// countKeyLocked adds d to the sessions counted for s's key. Called with
// b.mu held, by register (+1) and endSession (-1).
func (b *Broker) countKeyLocked(s *session, d int) {
	if s.key.IsZero() {
		return
	}
	if b.perKey[s.key] += d; b.perKey[s.key] <= 0 {
		delete(b.perKey, s.key)
	}
}

// refuseKeySession tells a client refused for its key's limit why (and
// logs it, rate-limited); it reports whether err was that refusal.
func (p *peer) refuseKeySession(err error, s *session) bool {
	if !errors.Is(err, errTooManyKeySessions) {
		return false
	}
	p.b.refusals.note(p.fx.remote(), err)
	p.notice(codec.ErrCodeTooManyClients, "limit of "+strconv.Itoa(p.b.cfg.MaxSessionsPerKey)+
		" sessions with CURVE key "+s.key.String()+" reached", "HELLO", s.ident)
	return true
}
