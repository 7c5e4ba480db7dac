package broker

import (
	"net"
	"strconv"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// effects is what a peer's protocol logic does outside the broker's own
// state: queue a message to this connection or to another session, close
// the connection, read the clock, and ask who the peer is and when it was
// last heard. The handlers and the liveness tick go through it instead of
// touching the connection, its outbox or time.Now, so that the same logic
// runs over a socket (sockEffects) or driven by a test with a fake clock
// (the transcripts' mem run).
//
// Every message is queued synchronously, where the handler decides to
// send it: handlers act on the result (a full queue gets a notice, a
// refused command is not tracked), and the order of a connection's queue
// against other goroutines' writes into it is part of the protocol (a
// receipt before any reply from a device, SUBSCRIBE-OK before the last
// values and any live message). See step.go.
//
// reply, deliver and deliverMsg are called by the peer's reader goroutine
// only (they batch writer wake-ups, flow.go); notify and ping may be
// called by any goroutine, on the effects of the connection they write
// to; the others by any goroutine.
type effects interface {
	// reply queues a broker command to this connection; it is never
	// dropped (a client whose queue is full of undroppable messages is
	// cut off) and reports whether it was queued.
	reply(m codec.Message) bool
	// deliver queues one DELIVER to t, encoded from the sender's views
	// (the fan-out path: no message value is built). droppable marks
	// notifications, which t's overflow policy may drop; a non-zero
	// deadline marks a request whose TTL is refreshed when written and
	// which is dropped, reported by tag, if late.
	deliver(t *session, d delivery, droppable bool) bool
	// deliverMsg queues a DELIVER built as a message (a last value) to t.
	deliverMsg(t *session, m codec.Message, droppable bool) bool
	// notify queues frames to this connection from any goroutine and
	// wakes its writer at once (broker notices and events, off the hot
	// path); droppable marks events, which the overflow policy may drop.
	notify(frames [][]byte, droppable bool) bool
	// ping queues a ZCCP PING to this connection (the liveness tick).
	ping()
	// close ends the connection.
	close(why CloseReason)
	// now is the broker's clock.
	now() time.Time
	// remote is the peer's address; peerKey its CURVE key (zero: NULL).
	remote() net.Addr
	peerKey() zmtp.CurveKey
	// lastReceived and lastSent are when the connection last carried
	// anything from and to the peer.
	lastReceived() time.Time
	lastSent() time.Time
}

// delivery is one DELIVER as the broker forwards it: views into the
// sender's frames, encoded straight into the recipient's queue. It is
// passed by value so that forwarding does not allocate.
type delivery struct {
	sender, address []byte
	headers         codec.RawHeaders
	content         [][]byte
	deadline        time.Time    // requests with a TTL (zero: none)
	tag             uint64       // the request's tag, reported if it expires in the queue
	seg             *zmtp.Shared // content encoded once for every recipient (share.go); nil: copy content
}

// sockEffects is effects over the peer's zmtp connection: messages are
// encoded into outboxes, whose writers the reader wakes in batches
// (flow.go: queued, flush, stall).
type sockEffects struct{ p *peer }

func (e sockEffects) reply(m codec.Message) bool {
	p := e.p
	frames, err := m.Frames()
	if err != nil {
		p.b.log.Error("encoding reply", "command", m.ID.String(), "err", err)
		return false
	}
	st, err := p.out.Append(zmtp.MessageSize(frames), zmtp.Command, func(b []byte) []byte {
		return zmtp.AppendMessage(b, frames)
	})
	if err != nil {
		select {
		case <-p.conn.Done(): // already cut: commands still buffered say nothing more
		default:
			p.b.log.Warn("reply not queued; closing connection", "peer", p.num, "err", err)
			p.conn.Close()
		}
		return false
	}
	p.queued(p.out, st)
	return true
}

func (e sockEffects) deliver(t *session, d delivery, droppable bool) bool {
	var st zmtp.State
	var err error
	if d.deadline.IsZero() {
		st, err = appendDeliver(t.out, d, droppable)
	} else {
		st, err = appendRequest(t.out, d)
	}
	if err != nil {
		return false
	}
	e.p.queued(t.out, st)
	return true
}

func (e sockEffects) deliverMsg(t *session, m codec.Message, droppable bool) bool {
	frames, err := m.Frames()
	if err != nil {
		return true // cannot happen for a message that was accepted; skip it
	}
	class := zmtp.Command
	if droppable {
		class = zmtp.Notification
	}
	st, err := t.out.Append(zmtp.MessageSize(frames), class, func(b []byte) []byte {
		return zmtp.AppendMessage(b, frames)
	})
	if err != nil {
		return false
	}
	e.p.queued(t.out, st)
	return true
}

func (e sockEffects) notify(frames [][]byte, droppable bool) bool {
	o := e.p.out
	if !droppable {
		return o.Send(frames) == nil
	}
	_, err := o.Append(zmtp.MessageSize(frames), zmtp.Notification, func(b []byte) []byte {
		return zmtp.AppendMessage(b, frames)
	})
	if err != nil {
		return false
	}
	o.Flush()
	return true
}

func (e sockEffects) ping() {
	if _, err := e.p.out.Append(5, zmtp.Control, appendPing); err == nil {
		e.p.out.Flush()
	}
}

func (e sockEffects) close(CloseReason)       { e.p.conn.Close() }
func (sockEffects) now() time.Time            { return time.Now() }
func (e sockEffects) remote() net.Addr        { return e.p.conn.RemoteAddr() }
func (e sockEffects) peerKey() zmtp.CurveKey  { return e.p.conn.PeerKey() }
func (e sockEffects) lastReceived() time.Time { return e.p.conn.LastReceived() }
func (e sockEffects) lastSent() time.Time     { return e.p.conn.LastSent() }

// appendPing appends the ZCCP PING command as one ZMTP frame.
func appendPing(dst []byte) []byte {
	return append(dst, 0, 3, 0xAA, 0xAA, byte(codec.Ping))
}

// appendDeliver encodes d into o: frame 1 built from the sender's view
// without decoding headers, a zccp-missed header added when the overflow
// policy dropped notifications before it, content frames copied, or with
// d.seg only frame 1 and a reference to the shared content.
func appendDeliver(o *zmtp.Outbox, d delivery, droppable bool) (zmtp.State, error) {
	size := codec.DeliverSize(d.sender, d.address, d.headers, nil)
	total := zmtp.FrameHeaderSize(size) + size + 40 // room for a zccp-missed header
	class := zmtp.Command
	if droppable {
		class = zmtp.Notification
	}
	if d.seg != nil {
		return o.AppendShared(total, class, d.seg, func(buf []byte, missed uint64) []byte {
			return appendFrame1(buf, d, size, missed, true)
		})
	}
	total += zmtp.FramesSize(d.content)
	return o.AppendReport(total, class, func(buf []byte, missed uint64) []byte {
		buf = appendFrame1(buf, d, size, missed, len(d.content) > 0)
		return zmtp.AppendFrames(buf, d.content)
	})
}

// appendFrame1 appends d's frame 1 (with zccp-missed when missed > 0);
// more says content frames follow it (copied, or d.seg's shared ones).
func appendFrame1(buf []byte, d delivery, size int, missed uint64, more bool) []byte {
	var extra []codec.Header
	if missed > 0 {
		extra = []codec.Header{{Name: codec.HdrMissed, Value: strconv.FormatUint(missed, 10)}}
		size = codec.DeliverSize(d.sender, d.address, d.headers, extra)
	}
	buf = zmtp.AppendFrameHeader(buf, size, more, false)
	return codec.AppendDeliver(buf, d.sender, d.address, d.headers, extra)
}

// appendRequest encodes a request with a deadline into o: the TTL field
// is re-encoded as ten digits that the outbox refreshes when it writes
// the command (or drops it, reporting d.tag, if late).
func appendRequest(o *zmtp.Outbox, d delivery) (zmtp.State, error) {
	replace := []codec.Header{{Name: codec.HdrTTL, Value: "0000000000"}}
	size := codec.DeliverSizeReplacing(d.sender, d.address, d.headers, replace)
	total := zmtp.FrameHeaderSize(size) + size
	total += zmtp.FramesSize(d.content)
	return o.AppendDeadline(total, d.deadline, d.tag, func(buf []byte) ([]byte, int) {
		buf = zmtp.AppendFrameHeader(buf, size, len(d.content) > 0, false)
		buf = codec.AppendDeliverReplacing(buf, d.sender, d.address, d.headers, replace)
		ttlAt := len(buf) - zmtp.TTLDigits // the replaced header is the frame's last field
		return zmtp.AppendFrames(buf, d.content), ttlAt
	})
}
