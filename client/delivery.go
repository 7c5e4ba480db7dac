package client

import (
	"maps"
	"slices"
	"strconv"
	"unsafe"

	"github.com/zccp-go/zccp/codec"
)

// Delivery is one message received from the broker. Each handler (each
// matching subscription) gets its own Delivery: its Headers map and
// Content slice may be changed freely. The bytes of the content frames
// are shared by every subscription that received the message and must
// not be modified in place.
type Delivery struct {
	Sender  string            // identifier of the client that published or sent it
	Address string            // the address it was published to (or our identifier for Send)
	Headers map[string]string // the sender's headers
	Content [][]byte          // content frames
	// Missed is how many notifications the broker dropped for this client
	// (its queue overflowed) just before this one.
	Missed uint64

	one [1][]byte // backing for Content when there is one frame (saves an allocation)
}

// Body returns the first content frame, or nil.
func (d *Delivery) Body() []byte {
	if len(d.Content) == 0 {
		return nil
	}
	return d.Content[0]
}

// view returns a copy of d for another subscription: its own Headers map
// and Content slice, the same (read-only) frame bytes.
func (d *Delivery) view() *Delivery {
	v := &Delivery{Sender: d.Sender, Address: d.Address, Headers: maps.Clone(d.Headers), Missed: d.Missed}
	if d.Content != nil {
		v.Content = slices.Clone(d.Content)
	}
	return v
}

// Handler processes deliveries.
type Handler func(*Delivery)

func deliveryFrom(m *codec.Message) *Delivery {
	d := &Delivery{Sender: m.Sender, Address: m.Address, Headers: m.Headers, Content: m.Content}
	if v, ok := m.Headers[codec.HdrMissed]; ok {
		d.Missed, _ = strconv.ParseUint(v, 10, 64)
		delete(m.Headers, codec.HdrMissed)
	}
	return d
}

// fastDeliver handles the common case — a DELIVER of a notification from
// another client — straight from the read buffer: it finds the
// subscriptions first (no allocation on a cache hit) and copies the
// message only if somebody wants it, in one allocation for sender,
// address and content. It reports false for anything else (broker
// messages, replies, requests), which takes the general path.
func (c *Client) fastDeliver(frames [][]byte) bool {
	v, err := codec.Parse(frames[0])
	if err != nil || v.ID != codec.Deliver || (len(v.Sender) > 0 && v.Sender[0] == '$') ||
		(len(v.Address) > 0 && v.Address[0] == '$') {
		return false
	}
	for name := range v.Headers.All() {
		switch string(name) {
		case codec.HdrReplyTo, codec.HdrRequestID, codec.HdrCancelRequest:
			return false // a reply or a request
		}
	}
	direct := c.direct != nil && string(v.Address) == c.opts.identifier
	var targets []*Subscription
	if !direct {
		targets = c.local.Match(v.Address)
		if len(targets) == 0 {
			return true // nobody here wants it (e.g. a cancelled subscription)
		}
	}
	content := frames[1:]
	n := len(v.Sender) + len(v.Address)
	for _, f := range content {
		n += len(f)
	}
	var d *Delivery
	var buf []byte
	if n <= smallData {
		// Small messages: the delivery and its bytes in one allocation.
		sd := new(smallDelivery)
		d, buf = &sd.d, sd.data[:0:n]
	} else {
		d, buf = new(Delivery), make([]byte, 0, n)
	}
	buf = append(buf, v.Sender...)
	buf = append(buf, v.Address...)
	d.Sender = bytesString(buf[:len(v.Sender)])
	d.Address = bytesString(buf[len(v.Sender):])
	if len(content) == 1 {
		d.Content = d.one[:]
	} else if len(content) > 1 {
		d.Content = make([][]byte, len(content))
	}
	for i, f := range content {
		start := len(buf)
		buf = append(buf, f...)
		d.Content[i] = buf[start:len(buf):len(buf)]
	}
	if v.Headers.Len() > 0 {
		d.Headers = v.Headers.Map()
		if m, ok := d.Headers[codec.HdrMissed]; ok {
			d.Missed, _ = strconv.ParseUint(m, 10, 64)
			delete(d.Headers, codec.HdrMissed)
		}
	}
	if direct {
		c.direct.enqueue(d)
		return true
	}
	fanOut(d, targets)
	return true
}

// fanOut hands d to every target subscription, each its own view, all
// made before any handler can see (and change) d.
func fanOut(d *Delivery, targets []*Subscription) {
	if d.Headers[codec.HdrRetained] == "1" {
		targets = lastOnly(targets)
	}
	switch len(targets) {
	case 0:
		return
	case 1:
		targets[0].enqueue(d)
		return
	}
	views := make([]*Delivery, len(targets))
	for i := 1; i < len(targets); i++ {
		views[i] = d.view()
	}
	views[0] = d
	for i, s := range targets {
		s.enqueue(views[i])
	}
}

// smallData is the most bytes (sender, address and content together) a
// delivery keeps inside its own allocation.
const smallData = 128

// smallDelivery holds a small delivery and its bytes in one object.
type smallDelivery struct {
	d    Delivery
	data [smallData]byte
}

// bytesString views b as a string without copying; b must never change
// afterwards (the delivery's buffer is written once, above).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// lastOnly returns the SubscribeLast subscriptions among targets (a new
// slice: targets may be the index's cached answer). A last value goes
// only to them: a plain Subscribe sees live traffic only.
func lastOnly(targets []*Subscription) []*Subscription {
	out := make([]*Subscription, 0, len(targets))
	for _, s := range targets {
		if s.last {
			out = append(out, s)
		}
	}
	return out
}
