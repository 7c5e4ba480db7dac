package driver

import (
	"context"
	"errors"
	"time"

	"github.com/zccp-go/zccp/client"
)

// ZCCP drives zccpd with the project's Go client (client.Connect,
// Subscribe, Publish): what an application uses.
type ZCCP struct{}

// Name implements Driver.
func (ZCCP) Name() string { return "zccp" }

// Subject implements Driver.
func (ZCCP) Subject(parts ...string) string { return dotted(parts) }

// Exact implements Driver.
func (ZCCP) Exact(parts ...string) string { return zccpExact(parts) }

// Prefix implements Driver.
func (ZCCP) Prefix(parts ...string) string { return zccpPrefix(parts) }

// zccpBuffer is the client's outgoing queue bound (messages, bytes):
// larger than the default so that a burst of the bench's window fits.
const (
	zccpBufferMsgs  = 100_000
	zccpBufferBytes = 64 << 20
)

// Dial implements Driver.
func (ZCCP) Dial(ctx context.Context, addr, id string) (Conn, error) {
	c := &zccpConn{}
	cl, err := client.Connect(ctx, "tcp://"+addr,
		client.WithIdentifier(id),
		client.WithBuffer(zccpBufferMsgs, zccpBufferBytes),
		client.WithReconnect(50*time.Millisecond, time.Second))
	if err != nil {
		return nil, err
	}
	c.cl = cl
	return c, nil
}

type zccpConn struct {
	counters
	cl   *client.Client
	subs []*client.Subscription
}

// Subscribe implements Conn.
func (c *zccpConn) Subscribe(ctx context.Context, patterns []string, h Handler) error {
	hd := func(d *client.Delivery) { h(d.Body(), d.Missed) }
	for _, p := range patterns {
		s, err := c.cl.Subscribe(ctx, p, hd)
		if err != nil {
			return err
		}
		c.subs = append(c.subs, s)
	}
	return nil
}

// Publish implements Conn.
func (c *zccpConn) Publish(subject string, payload []byte) error {
	for {
		err := c.cl.Publish(subject, nil, payload)
		if !errors.Is(err, client.ErrBufferFull) {
			return err
		}
		c.backoffs.Add(1)
		time.Sleep(50 * time.Microsecond)
	}
}

// Flush is a no-op: client.Publish wakes the writer itself.
func (c *zccpConn) Flush() {}

// Stats implements Conn.
func (c *zccpConn) Stats() Stats {
	s := c.stats()
	for _, sub := range c.subs {
		s.LocalDrops += sub.Dropped()
	}
	return s
}

// Close implements Conn.
func (c *zccpConn) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.cl.CloseContext(ctx)
}
