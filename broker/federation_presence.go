package broker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zccp-go/zccp/codec"
)

// PresenceFederation is implemented by a Federation that carries presence
// events ($zccp.presence.join, leave, expire) of this broker's sessions
// to the other brokers that have broker-event subscribers. frames is the
// event as local subscribers get it (frame 1 of the DELIVER, then its
// content). It must not block and must copy what it keeps.
type PresenceFederation interface {
	ForwardPresence(frames [][]byte)
}

// presenceLink returns the federation's presence side, or nil.
func (b *Broker) presenceLink() PresenceFederation {
	f, _ := linkAs[PresenceFederation](b)
	return f
}

// LocalSysInterest returns the distinct broker-event expressions (^\$…)
// of this broker's sessions and the generation they were read at: a
// federation advertises them apart from the others, so that presence
// events go only to brokers with someone listening.
func (b *Broker) LocalSysInterest() ([]string, uint64) {
	gen := b.sys.Generation()
	return b.sys.Expressions(), gen
}

// SysGeneration changes when a broker-event subscription is added or
// removed.
func (b *Broker) SysGeneration() uint64 { return b.sys.Generation() }

// ErrNotPresence: InjectPresence was handed something other than a
// presence event.
var ErrNotPresence = errors.New("broker: federated message is not a presence event")

// InjectPresence delivers a presence event that another broker forwarded
// (its frames as that broker's subscribers got them) to the local
// sessions whose broker-event expressions match, and returns how many.
func (b *Broker) InjectPresence(frames [][]byte) (int, error) {
	if len(frames) == 0 {
		return 0, ErrNotPresence
	}
	v, err := codec.Parse(frames[0])
	if err != nil {
		return 0, fmt.Errorf("broker: federated presence event: %w", err)
	}
	if v.ID != codec.Deliver || string(v.Sender) != codec.NoticeSender || !strings.HasPrefix(string(v.Address), "$zccp.presence.") {
		return 0, ErrNotPresence
	}
	return deliverEvent(b.mayReceive(subscribers(b.sys, v.Address), v.Address), frames, nil), nil // policy_enforce.go
}

// ReasonBrokerLost is the zccp-reason of the leave events a broker makes
// for the sessions of another broker of the federation that died.
const ReasonBrokerLost = "broker-lost"

// RemoteLeft tells local broker-event subscribers that the sessions with
// these identifiers, on the remote broker named brokerName, are gone
// because that broker is: one $zccp.presence.leave each, with
// zccp-reason broker-lost and zccp-broker brokerName (their labels and
// session numbers died with it). It returns how many events were queued.
func (b *Broker) RemoteLeft(brokerName string, idents []string) int {
	targets := b.mayReceive(subscribers(b.sys, []byte(codec.AddrPresenceLeave)), []byte(codec.AddrPresenceLeave)) // policy_enforce.go
	if len(targets) == 0 {
		return 0
	}
	n := 0
	for _, ident := range idents {
		h := codec.Headers{codec.HdrIdentifier: ident, codec.HdrReason: ReasonBrokerLost, codec.HdrBroker: brokerName}
		m := brokerDeliver(codec.AddrPresenceLeave, h, nil, ident)
		frames, err := m.Frames()
		if err != nil {
			continue
		}
		n += deliverEvent(targets, frames, nil)
	}
	return n
}
