package driver

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// NATS drives nats-server with nats.go, the client its own benchmark
// uses. Subjects are dotted; Prefix uses the single-token wildcard '*'.
type NATS struct{}

// Name implements Driver.
func (NATS) Name() string { return "nats" }

// Subject implements Driver.
func (NATS) Subject(parts ...string) string { return dotted(parts) }

// Exact implements Driver.
func (NATS) Exact(parts ...string) string { return dotted(parts) }

// Prefix implements Driver.
func (NATS) Prefix(parts ...string) string { return dotted(parts) + ".*" }

// Dial implements Driver.
func (NATS) Dial(ctx context.Context, addr, id string) (Conn, error) {
	c := &natsConn{}
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	nc, err := nats.Connect("nats://"+addr,
		nats.Name(id),
		nats.NoReconnect(),
		nats.Timeout(timeout),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if err == nats.ErrSlowConsumer {
				c.localDrops.Add(1) // counted precisely by Dropped below
			}
		}))
	if err != nil {
		return nil, err
	}
	c.nc = nc
	return c, nil
}

type natsConn struct {
	counters
	nc   *nats.Conn
	subs []*nats.Subscription
}

// Subscribe implements Conn.
func (c *natsConn) Subscribe(ctx context.Context, patterns []string, h Handler) error {
	mh := func(m *nats.Msg) { h(m.Data, 0) }
	for _, p := range patterns {
		s, err := c.nc.Subscribe(p, mh)
		if err != nil {
			return err
		}
		// No client-side cap: the bench's window bounds what is pending.
		if err := s.SetPendingLimits(-1, -1); err != nil {
			return err
		}
		c.subs = append(c.subs, s)
	}
	// A round trip: the server has processed every SUB before the PONG.
	return c.nc.FlushWithContext(ctx)
}

// Publish implements Conn.
func (c *natsConn) Publish(subject string, payload []byte) error {
	return c.nc.Publish(subject, payload)
}

// Flush is a no-op: nats.go's flusher goroutine writes what Publish
// buffered as soon as it can (nats.Conn.Flush would wait for a PONG).
func (c *natsConn) Flush() {}

// Stats implements Conn.
func (c *natsConn) Stats() Stats {
	s := Stats{Backoffs: c.backoffs.Load()}
	for _, sub := range c.subs {
		if n, err := sub.Dropped(); err == nil {
			s.LocalDrops += uint64(n)
		}
	}
	return s
}

// Close implements Conn.
func (c *natsConn) Close() { c.nc.Close() }
