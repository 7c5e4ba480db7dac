package client

import "github.com/zccp-go/zccp/codec"

// Delivery is one message received from the broker.
type Delivery struct {
	Sender  string            // identifier of the client that published or sent it
	Address string            // the address it was published to (or our identifier for Send)
	Headers map[string]string // the sender's headers
	Content [][]byte          // content frames
	// Missed is how many notifications the broker dropped for this client
	// (its queue overflowed) just before this one.
	Missed uint64
}

// Body returns the first content frame, or nil.
func (d *Delivery) Body() []byte {
	if len(d.Content) == 0 {
		return nil
	}
	return d.Content[0]
}

// Handler processes deliveries.
type Handler func(*Delivery)

func deliveryFrom(m *codec.Message) *Delivery {
	d := &Delivery{Sender: m.Sender, Address: m.Address, Headers: m.Headers, Content: m.Content}
	if v, ok := m.Headers[codec.HdrMissed]; ok {
		var n uint64
		for _, c := range []byte(v) {
			if c < '0' || c > '9' {
				n = 0
				break
			}
			n = n*10 + uint64(c-'0')
		}
		d.Missed = n
		delete(m.Headers, codec.HdrMissed)
	}
	return d
}
