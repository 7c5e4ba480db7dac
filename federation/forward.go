package federation

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
)

// Forward implements broker.Federation: one NATS message to the remote
// broker's deliver subject. NATS keeps the order of one connection's
// messages to one subscriber, and a publisher's PUBLISHes are forwarded
// by its one reader goroutine, so each publisher's order holds across
// brokers. While NATS is unreachable the client buffers (its reconnect
// buffer, 8 MiB by default); past that, or for a message over the NATS
// payload limit, the notification is lost and counted.
func (n *Node) Forward(remote string, deliver []byte, content [][]byte) {
	if err := n.send(n.outTo(remote, outDeliver), deliver, content); err != nil {
		n.lost(remote, err)
		return
	}
	n.stats.forwarded.Add(1)
}

// ForwardDirect implements broker.DirectFederation: a DIRECT to an
// identifier remote holds, on its direct subject, numbered like
// notifications. An error (NATS refused it) goes back to the sender.
func (n *Node) ForwardDirect(remote string, deliver []byte, content [][]byte) error {
	if err := n.send(n.outTo(remote, outDirect), deliver, content); err != nil {
		n.stats.lost.Add(1)
		return err
	}
	n.stats.directs.Add(1)
	return nil
}

// send numbers and publishes one message to o's subject.
func (n *Node) send(o *outSeq, deliver []byte, content [][]byte) error {
	bp := sendBufs.Get().(*[]byte)
	buf := slices.Grow((*bp)[:0], messageSize(deliver, content))
	// Numbering and publishing under one lock: the numbers reach NATS in
	// order even when several publishers' readers forward at once.
	o.mu.Lock()
	o.seq++
	buf = appendMessage(buf, n.idRaw, o.seq, deliver, content)
	err := n.nc.Publish(o.subject, buf) // copies buf (or into its reconnect buffer)
	o.mu.Unlock()
	if cap(buf) <= maxPooledSend {
		*bp = buf
		sendBufs.Put(bp)
	}
	return err
}

// sendBufs holds encode buffers for send; one over maxPooledSend is left
// to the garbage collector so a rare large message is not kept.
var sendBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledSend = 64 << 10

// outKind is which of a remote broker's subjects a message goes to.
type outKind uint8

const (
	outDeliver outKind = iota
	outDirect
	outPresence
)

// outKey names one destination subject.
type outKey struct {
	remote string
	kind   outKind
}

// outSeq numbers the messages sent on one subject.
type outSeq struct {
	subject string
	mu      sync.Mutex
	seq     uint64 // guarded by mu
}

// outTo returns the numbering of remote's subject of that kind. An entry
// is kept until that broker says bye (a broker presumed dead may come
// back and must see its numbers continue): up to three per remote id.
func (n *Node) outTo(remote string, kind outKind) *outSeq {
	k := outKey{remote, kind}
	n.outMu.Lock()
	defer n.outMu.Unlock()
	o := n.out[k]
	if o == nil {
		o = &outSeq{subject: n.subjectOf(k)}
		n.out[k] = o
	}
	return o
}

func (n *Node) subjectOf(k outKey) string {
	switch k.kind {
	case outDirect:
		return n.directSubject(k.remote)
	case outPresence:
		return n.presenceSubject(k.remote)
	}
	return n.deliverSubject(k.remote)
}

// lost counts a notification that could not be forwarded and logs it, at
// most once a second.
func (n *Node) lost(remote string, err error) {
	total := n.stats.lost.Add(1)
	if n.lossLogDue() {
		n.log.Warn("notification not forwarded", "broker", remote, "lost_total", total, "err", err)
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
	if err == nil {
		err = n.deliverSeq(&w) // loss.go
	}
	if err != nil {
		n.stats.bad.Add(1)
		n.log.Warn("bad forwarded message", "subject", m.Subject, "bytes", len(m.Data), "err", err)
	}
}

// lossLogDue reports whether a loss may be logged now: at most once a
// second, losses sent and received together.
func (n *Node) lossLogDue() bool {
	now := time.Now().UnixNano()
	last := n.lastLossLog.Load()
	return now-last >= int64(time.Second) && n.lastLossLog.CompareAndSwap(last, now)
}

// inOrder checks seq from origin against the last one seen in last,
// counting a gap; it returns false for a duplicate. Each map belongs to
// one subscription's callback goroutine.
func (n *Node) inOrder(last map[[8]byte]uint64, origin [8]byte, seq uint64) bool {
	ok, _ := n.inOrderGap(last, origin, seq)
	return ok
}

// inOrderGap is inOrder that also returns how many were missing.
func (n *Node) inOrderGap(last map[[8]byte]uint64, origin [8]byte, seq uint64) (bool, uint64) {
	if seq <= last[origin] {
		n.stats.bad.Add(1)
		return false, 0
	}
	gap := seq - last[origin] - 1
	last[origin] = seq
	if gap > 0 {
		total := n.stats.gaps.Add(gap)
		if n.lossLogDue() {
			n.log.Warn("forwarded notifications never arrived", "origin", hex.EncodeToString(origin[:]), "missing", gap, "gaps_total", total)
		}
	}
	return true, gap
}

// notice is what a broker sends back on <prefix>.fed.notice.<origin> when
// a forwarded DIRECT could not be delivered: the origin tells the sender.
type notice struct {
	To      string `json:"to"`      // the sender's identifier
	Code    string `json:"code"`    // zccp-error
	Reason  string `json:"reason"`  // zccp-reason
	Address string `json:"address"` // the DIRECT's address (the recipient)
}

// onDirect delivers a DIRECT another broker forwarded; when the recipient
// is gone or its queue refuses, the sender's broker is told.
func (n *Node) onDirect(m *nats.Msg) {
	w, err := parseMessage(m.Data)
	if err != nil {
		n.stats.bad.Add(1)
		n.log.Warn("bad forwarded DIRECT", "bytes", len(m.Data), "err", err)
		return
	}
	if !n.inOrder(n.inSeqDirect, w.origin, w.seq) {
		return
	}
	sender, err := n.b.InjectDirectFrom(hex.EncodeToString(w.origin[:]), w.deliver, w.content)
	if err == nil {
		return
	}
	v := notice{To: sender, Code: codec.ErrCodeNoSuchClient, Reason: "the recipient is no longer connected to broker " + n.o.Name}
	if errors.Is(err, broker.ErrQueueFull) {
		v.Code, v.Reason = codec.ErrCodeQueueFull, "the recipient's queue on broker "+n.o.Name+" is full; the message was not queued"
	} else if !errors.Is(err, broker.ErrNoSuchClient) {
		n.stats.bad.Add(1)
		return
	}
	if pv, perr := codec.Parse(w.deliver); perr == nil {
		v.Address = string(pv.Address)
	}
	data, _ := json.Marshal(v)
	n.nc.Publish(n.noticeSubject(hex.EncodeToString(w.origin[:])), data)
}

// onNotice tells a local sender that its forwarded DIRECT was not delivered.
func (n *Node) onNotice(m *nats.Msg) {
	var v notice
	if err := json.Unmarshal(m.Data, &v); err != nil || v.To == "" || v.Code == "" {
		n.stats.bad.Add(1)
		return
	}
	n.b.Notify(v.To, v.Code, v.Reason, v.Address)
}
