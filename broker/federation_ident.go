package broker

import (
	"strconv"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// IdentityFederation is implemented by a Federation that keeps a
// cluster-wide identity registry (package federation: a JetStream
// key-value bucket). Neither method may block.
type IdentityFederation interface {
	// Claim says that session (HELLO at since) holds ident on this broker
	// now; the newest claim in the cluster wins. It returns the name of
	// the broker that held ident before, as far as this broker knows,
	// or "" (none, or this one).
	Claim(ident string, session uint64, since time.Time) string
	// Release says that session no longer holds ident.
	Release(ident string, session uint64)
}

// identLink returns the federation's registry side, or nil.
func (b *Broker) identLink() IdentityFederation {
	f, _ := linkAs[IdentityFederation](b)
	return f
}

// claimIdentity tells the registry that s holds its identifier. It
// returns the broker that held it elsewhere ("" when none): the session
// there is taken over, and HELLO-OK says zccp-replaced as for a local
// takeover.
func (b *Broker) claimIdentity(s *session) string {
	f := b.identLink()
	if f == nil || s.anonymous {
		return ""
	}
	return f.Claim(s.ident, s.num, s.since)
}

// releaseIdentity tells the registry that s, which held its identifier
// here until now, has ended.
func (b *Broker) releaseIdentity(s *session) {
	if f := b.identLink(); f != nil {
		f.Release(s.ident, s.num)
	}
}

// TakeOver ends the local session number session of ident, if it still
// holds ident, because a newer session on broker by claimed it: it is
// told taken-over (the connection stays, as for a local takeover). It
// reports whether a session was ended.
func (b *Broker) TakeOver(ident string, session uint64, by string) bool {
	s := b.lookup([]byte(ident))
	if s == nil || s.num != session {
		return false
	}
	b.log.Warn("identifier taken over by a newer session on another broker", "identifier", ident,
		"remote", addrString(s.peer.conn.RemoteAddr()), "broker", by)
	b.notify(s, noticeMessage(codec.ErrCodeTakenOver,
		"identifier "+strconv.Quote(ident)+" was claimed by a newer session on broker "+strconv.Quote(by), "HELLO", ident))
	b.endSession(s, ReasonTakenOver)
	return true
}

// EachIdentity calls fn for every addressable session now (identifier,
// session number, HELLO time): a registry that starts after sessions did
// claims them.
func (b *Broker) EachIdentity(fn func(ident string, session uint64, since time.Time)) {
	b.mu.RLock()
	held := make([]*session, 0, len(b.byIdent))
	for _, s := range b.byIdent {
		held = append(held, s)
	}
	b.mu.RUnlock()
	for _, s := range held {
		fn(s.ident, s.num, s.since)
	}
}
