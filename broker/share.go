package broker

import (
	"strconv"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// shareMin is the content size from which a PUBLISH's content is encoded
// once and shared by its recipients' queues (zmtp.Shared, written with a
// vectored write) instead of being copied into each. Measured with
// floodbench at 1 -> 10 (zccpd CPU per delivery, copy -> share, median of
// 3): 2 KiB 1.70 -> 1.43 us (noisy), 4 KiB 3.62 -> 2.14, 8 KiB 6.41 ->
// 4.43, 16 KiB 11.74 -> 8.20, peak RSS about halved at every size. Below
// 4 KiB the gain is within the noise, and a copy into the queue's buffer,
// coalesced with the messages around it, needs no allocation.
const shareMin = 4 << 10

// budgetLogEvery bounds the log lines about refused large publishes.
const budgetLogEvery = 30 * time.Second

// shareContent prepares the content of a PUBLISH from s to address for
// the matching sessions rs, of which only those f allows and not s itself
// are recipients (counted only for large content). Large content needs
// room in the broker's budget: the slowest consumers are cut for it
// (Budget.Reclaim) and, if that does not make room, the PUBLISH is
// refused with a queue-full notice (ok false). Large content to two
// recipients or more is returned as a segment the caller queues with
// deliverShared and then releases; otherwise seg is nil and each DELIVER
// copies the content.
func (p *peer) shareContent(s *session, address []byte, content [][]byte, rs []*sessionRef, f *deliverFilter) (seg *zmtp.Shared, ok bool) {
	size := zmtp.FramesSize(content)
	if size < shareMin {
		return nil, true
	}
	recipients := 0
	for _, r := range rs {
		if t := r.get(); t != s && t != nil && f.allows(t) {
			recipients++
		}
	}
	if recipients == 0 {
		return nil, true
	}
	if !p.b.budget.Reclaim(size) {
		p.refuseForBudget(address, size)
		return nil, false
	}
	if recipients < 2 {
		return nil, true
	}
	return zmtp.NewShared(p.b.budget, content), true
}

// refuseForBudget tells the publisher its large PUBLISH was not delivered
// and logs it, at most once per budgetLogEvery with the number of
// refusals not logged since.
func (p *peer) refuseForBudget(address []byte, size int) {
	b := p.b
	b.stats.budgetRefused.Add(1)
	p.notice(codec.ErrCodeQueueFull, "the broker's queue budget is full (slow consumers hold it); a PUBLISH of "+
		strconv.Itoa(size)+" bytes was not delivered to its subscribers", "PUBLISH", string(address))
	now := time.Now().UnixNano()
	last := b.stats.budgetLog.Load()
	if now-last < int64(budgetLogEvery) || !b.stats.budgetLog.CompareAndSwap(last, now) {
		b.stats.budgetQuiet.Add(1)
		return
	}
	b.log.Warn("large PUBLISH refused: queue budget full and no queue could be cut",
		"size", size, "used", b.budget.Used(), "limit", b.budget.Limit(),
		"cuts", b.budget.Cuts(), "suppressed", b.stats.budgetQuiet.Swap(0))
}
