package broker

import (
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// deliver queues one DELIVER to t (effects.deliver: on a socket, encoded
// straight into t's outbox from the sender's views, content frames
// copied). It reports whether the message was queued. droppable marks
// notifications (PUBLISH), which the overflow policy may drop; commands
// (DIRECT) are never dropped, they are refused instead.
func (p *peer) deliver(t *session, sender, address []byte, headers codec.RawHeaders, content [][]byte, droppable bool) bool {
	return p.deliverShared(t, sender, address, headers, content, nil, droppable)
}

// deliverShared is deliver with the content already encoded in seg (see
// shareContent): only frame 1 is written into t's outbox, which queues a
// reference to seg behind it. With a nil seg the content is copied.
func (p *peer) deliverShared(t *session, sender, address []byte, headers codec.RawHeaders, content [][]byte, seg *zmtp.Shared, droppable bool) bool {
	if !p.fx.deliver(t, delivery{sender: sender, address: address, headers: headers, content: content, seg: seg}, droppable) {
		p.b.stats.refused.Add(1)
		return false
	}
	t.deliveries.Add(1)
	return true
}

// notice sends this connection a DELIVER from the broker describing an
// error with a command it sent (address $zccp.error).
func (p *peer) notice(code, reason, command, address string) {
	p.auditNotice(code, reason, command, address) // audit.go: refusals (not-authorized, reserved)
	p.reply(noticeMessage(code, reason, command, address))
}

func noticeMessage(code, reason, command, address string) codec.Message {
	h := codec.Headers{codec.HdrError: code, codec.HdrReason: reason}
	if command != "" {
		h[codec.HdrCommand] = command
	}
	if address != "" {
		h[codec.HdrAddress] = address
	}
	return brokerDeliver(codec.AddrError, h, nil, reason)
}
