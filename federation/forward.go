package federation

import (
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
	buf := appendMessage(make([]byte, 0, messageSize(deliver, content)), deliver, content)
	if err := n.nc.Publish(n.deliverSubject(remote), buf); err != nil {
		n.lost(remote, err)
		return
	}
	n.stats.forwarded.Add(1)
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
func (n *Node) onDeliver(m *nats.Msg) {
	n.stats.received.Add(1)
	deliver, content, err := parseMessage(m.Data)
	if err == nil {
		var k int
		k, err = n.b.InjectDeliver(deliver, content)
		n.stats.injected.Add(uint64(k))
	}
	if err != nil {
		n.stats.bad.Add(1)
		n.log.Warn("bad forwarded message", "subject", m.Subject, "bytes", len(m.Data), "err", err)
	}
}
