package broker

import (
	"time"

	"github.com/zccp-go/zccp/zmtp"
)

// Wake-up bounds: a reader wakes the writers of the outboxes it filled
// after this many messages or bytes, even when the publisher's bytes keep
// arriving back to back (the read buffer never drains), and whenever the
// read buffer is drained. Between wake-ups the messages coalesce into one
// write per outbox.
const (
	flushEveryMsgs  = 64
	flushEveryBytes = 64 << 10
)

// maybeFlush wakes the writers the reader has queued to when the read
// buffer is drained (the next read would block) or a wake-up bound is
// reached; and, if a recipient's queue passed its high-water mark,
// pauses the reader (see stall).
func (p *peer) maybeFlush() {
	if len(p.stalled) > 0 {
		p.flush()
		p.stall()
		return
	}
	if p.unflushedMsgs >= flushEveryMsgs || p.unflushedBytes >= flushEveryBytes || p.conn.Buffered() == 0 {
		p.flush()
	}
}

// flush wakes the writer of every outbox made non-empty since the last
// flush (the others have been woken by whoever made them non-empty).
func (p *peer) flush() {
	for i, o := range p.pending {
		o.Flush()
		p.pending[i] = nil
	}
	p.pending = p.pending[:0]
	p.unflushedMsgs, p.unflushedBytes = 0, 0
}

// queued notes what Append said about o: whether its writer must be
// woken at the next flush, and whether the reader should pause for it.
func (p *peer) queued(o *zmtp.Outbox, st zmtp.State) {
	if st&zmtp.StateFirst != 0 {
		p.pending = append(p.pending, o)
	}
	if st&zmtp.StateHigh != 0 {
		p.stalled = append(p.stalled, o)
	}
}

// stall pauses the reader, at most Config.StallWait, until the writers
// of the outboxes past their high-water mark have taken their queues.
// Not reading is what slows the publisher: its bytes wait in the socket
// buffers and TCP pushes back. A recipient that stays behind for longer
// reaches its limits and its overflow policy acts; from then on its
// outbox no longer asks for stalls until its writer makes progress, so
// one stuck subscriber costs a publisher at most a few bounded pauses.
func (p *peer) stall() {
	defer func() {
		clear(p.stalled)
		p.stalled = p.stalled[:0]
	}()
	wait := p.b.cfg.StallWait
	if wait <= 0 {
		return
	}
	start := time.Now()
	if p.stallTimer == nil {
		p.stallTimer = time.NewTimer(wait)
	} else {
		p.stallTimer.Reset(wait)
	}
	defer p.stallTimer.Stop()
	p.b.stats.stalls.Add(1)
	for _, o := range p.stalled {
		ch := o.Stalled()
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-p.stallTimer.C:
			p.b.stats.stallTimeouts.Add(1)
			p.b.stats.stallNanos.Add(uint64(time.Since(start)))
			return
		}
	}
	p.b.stats.stallNanos.Add(uint64(time.Since(start)))
}
