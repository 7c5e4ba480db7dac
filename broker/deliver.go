package broker

import "github.com/zccp-go/zccp/codec"

// deliver queues one DELIVER to t (effects.deliver: on a socket, encoded
// straight into t's outbox from the sender's views, content frames
// copied). It reports whether the message was queued. droppable marks
// notifications (PUBLISH), which the overflow policy may drop; commands
// (DIRECT) are never dropped, they are refused instead.
func (p *peer) deliver(t *session, sender, address []byte, headers codec.RawHeaders, content [][]byte, droppable bool) bool {
	if !p.fx.deliver(t, delivery{sender: sender, address: address, headers: headers, content: content}, droppable) {
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
