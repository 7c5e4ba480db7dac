package flood

import (
	"context"
	"encoding/binary"
	"time"
)

// Pub writes numbered messages.
type Pub interface {
	// Append encodes one message to subject with payload (its first 8
	// bytes are the sequence number).
	Append(dst []byte, subject string, payload []byte) []byte
	Write(b []byte) error
	Close() error
}

// Sub receives messages until its context ends or the connection drops.
type Sub interface {
	// Run reads and counts until ctx ends; it answers the broker's PINGs.
	Run(ctx context.Context, c *Counter)
	Close() error
}

// Counter is one subscriber's tally, written by its reader goroutine and
// read by the runner once the reader has stopped (or through the atomics).
type Counter struct {
	received atomicU64
	missed   atomicU64
	last     atomicI64 // unix ns of the last message
	Err      error     // why the reader stopped early (a slow-consumer cut, ...)
}

// Received returns the messages received.
func (c *Counter) Received() uint64 { return c.received.Load() }

// Missed returns the sum of the zccp-missed reports (zccpd only).
func (c *Counter) Missed() uint64 { return c.missed.Load() }

// Last returns when the last message arrived.
func (c *Counter) Last() time.Time { return time.Unix(0, c.last.Load()) }

func (c *Counter) add(missed uint64) {
	c.received.Store(c.received.Load() + 1) // one writer
	if missed > 0 {
		c.missed.Add(missed)
	}
}

// payload returns a size-byte body with seq in its first 8 bytes.
func payload(buf []byte, seq uint64) []byte {
	binary.BigEndian.PutUint64(buf, seq)
	return buf
}
