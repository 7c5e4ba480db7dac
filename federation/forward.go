package federation

import (
	"encoding/hex"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Forward implements broker.Federation: one NATS message to the remote
// broker's deliver subject. NATS keeps the order of one connection's
// messages to one subscriber, and a publisher's PUBLISHes are forwarded
// by its one reader goroutine, so each publisher's order holds across
// brokers. While NATS is unreachable the client buffers (its reconnect
// buffer, 8 MiB by default); past that, or for a message over the NATS
// payload limit, the notification is lost and counted.
func (n *Node) Forward(remote string, deliver []byte, content [][]byte) {
	o := n.outTo(remote)
	buf := make([]byte, 0, messageSize(deliver, content))
	// Numbering and publishing under one lock: the numbers reach NATS in
	// order even when several publishers' readers forward at once.
	o.mu.Lock()
	o.seq++
	buf = appendMessage(buf, n.idRaw, o.seq, deliver, content)
	err := n.nc.Publish(o.subject, buf)
	o.mu.Unlock()
	if err != nil {
		n.lost(remote, err)
		return
	}
	n.stats.forwarded.Add(1)
}

// outSeq numbers the messages forwarded to one destination.
type outSeq struct {
	subject string
	mu      sync.Mutex
	seq     uint64 // guarded by mu
}

// outTo returns the numbering of destination remote. An entry is kept
// until that broker says bye (a broker presumed dead may come back and
// must see its numbers continue); one per remote broker id.
func (n *Node) outTo(remote string) *outSeq {
	n.outMu.Lock()
	defer n.outMu.Unlock()
	o := n.out[remote]
	if o == nil {
		o = &outSeq{subject: n.deliverSubject(remote)}
		n.out[remote] = o
	}
	return o
}

// lost counts a notification that could not be forwarded and logs it, at
// most once a second.
func (n *Node) lost(remote string, err error) {
	total := n.stats.lost.Add(1)
	now := time.Now().UnixNano()
	last := n.lastLossLog.Load()
	if now-last >= int64(time.Second) && n.lastLossLog.CompareAndSwap(last, now) {
		n.log.Warn("notification not forwarded", "remote", remote, "lost_total", total, "err", err)
	}
}

// onDeliver delivers a notification another broker forwarded to this one.
// NATS calls it from one goroutine per subscription, in arrival order.
// A sequence number past the next expected one counts the missing ones
// as gaps (logged at most once a second); one at or below the last is a
// duplicate and is dropped.
func (n *Node) onDeliver(m *nats.Msg) {
	n.stats.received.Add(1)
	w, err := parseMessage(m.Data)
	if err == nil && !n.inOrder(w.origin, w.seq) {
		return
	}
	if err == nil {
		var k int
		k, err = n.b.InjectDeliver(w.deliver, w.content)
		n.stats.injected.Add(uint64(k))
	}
	if err != nil {
		n.stats.bad.Add(1)
		n.log.Warn("bad forwarded message", "subject", m.Subject, "bytes", len(m.Data), "err", err)
	}
}

// inOrder checks seq from origin against the last one seen, counting a
// gap; it returns false for a duplicate. Called by onDeliver only.
func (n *Node) inOrder(origin [8]byte, seq uint64) bool {
	last := n.inSeq[origin]
	if seq <= last {
		n.stats.bad.Add(1)
		return false
	}
	n.inSeq[origin] = seq
	if gap := seq - last - 1; gap > 0 {
		total := n.stats.gaps.Add(gap)
		now := time.Now().UnixNano()
		if prev := n.lastLossLog.Load(); now-prev >= int64(time.Second) && n.lastLossLog.CompareAndSwap(prev, now) {
			n.log.Warn("forwarded notifications never arrived", "origin", hex.EncodeToString(origin[:]), "missing", gap, "gaps_total", total)
		}
	}
	return true
}
