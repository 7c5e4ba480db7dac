package client

import (
	"errors"
	"fmt"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// Publish sends a notification to every client subscribed to a matching
// expression. It does not wait: the message is queued (also while
// reconnecting) and ErrBufferFull is returned when the queue is at its
// bound (see WithBuffer). headers may be nil; content frames are sent as
// they are (none is fine).
func (c *Client) Publish(address string, headers map[string]string, content ...[]byte) error {
	return c.send(codec.Message{ID: codec.Publish, Address: address, Headers: headers, Content: content})
}

// Send sends a message to the one client whose identifier is identifier
// (a ZCCP DIRECT). The broker tells us if nobody has that identifier: the
// error reaches the error handler as a *Notice (ErrNoSuchClient); use
// Request for a call that waits for an answer. A broker that does not
// announce the "direct" extension (the original broker drops DIRECT
// silently) gets nothing: Send returns ErrUnsupported.
func (c *Client) Send(identifier string, headers map[string]string, content ...[]byte) error {
	if err := c.require("direct", "DIRECT"); err != nil {
		return err
	}
	return c.send(codec.Message{ID: codec.Direct, Address: identifier, Headers: headers, Content: content})
}

// send encodes m (a PUBLISH or DIRECT) straight into the outgoing queue.
func (c *Client) send(m codec.Message) error {
	n, err := codec.AddressedSize(m.Address, m.Headers)
	if err != nil {
		return err
	}
	total := zmtp.FrameHeaderSize(n) + n
	total += zmtp.FramesSize(m.Content)
	out := c.dealer.Outbox()
	st, err := out.Append(total, zmtp.Command, func(buf []byte) []byte {
		buf = zmtp.AppendFrameHeader(buf, n, len(m.Content) > 0, false)
		buf = codec.AppendAddressed(buf, m.ID, m.Address, m.Headers)
		return zmtp.AppendFrames(buf, m.Content)
	})
	if err != nil {
		switch {
		case errors.Is(err, zmtp.ErrQueueFull):
			return ErrBufferFull
		case errors.Is(err, zmtp.ErrClosed):
			return ErrClosed
		}
		return fmt.Errorf("zccp: %w", err)
	}
	if st&zmtp.StateFirst != 0 {
		out.Flush() // the queue was empty: wake the writer (otherwise it already was)
	}
	return nil
}
