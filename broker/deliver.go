package broker

import (
	"strconv"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// deliver encodes one DELIVER straight into t's outbox: frame 1 built from
// the sender's view without decoding headers, content frames copied. It
// reports whether the message was queued. droppable marks notifications
// (PUBLISH), which the overflow policy may drop; commands (DIRECT) are
// never dropped, they are refused instead.
func (p *peer) deliver(t *session, sender, address []byte, headers codec.RawHeaders, content [][]byte, droppable bool) bool {
	size := codec.DeliverSize(sender, address, headers, nil)
	total := zmtp.FrameHeaderSize(size) + size + 40 // room for a zccp-missed header
	total += zmtp.FramesSize(content)
	class := zmtp.Command
	if droppable {
		class = zmtp.Notification
	}
	st, err := t.out.AppendReport(total, class, func(buf []byte, missed uint64) []byte {
		var extra []codec.Header
		size := size
		if missed > 0 {
			extra = []codec.Header{{Name: codec.HdrMissed, Value: strconv.FormatUint(missed, 10)}}
			size = codec.DeliverSize(sender, address, headers, extra)
		}
		buf = zmtp.AppendFrameHeader(buf, size, len(content) > 0, false)
		buf = codec.AppendDeliver(buf, sender, address, headers, extra)
		return zmtp.AppendFrames(buf, content)
	})
	if err != nil {
		p.b.stats.refused.Add(1)
		return false
	}
	p.queued(t.out, st)
	t.deliveries.Add(1)
	return true
}

// notice sends this connection a DELIVER from the broker describing an
// error with a command it sent (address $zccp.error).
func (p *peer) notice(code, reason, command, address string) {
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
