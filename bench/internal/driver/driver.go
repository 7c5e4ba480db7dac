// Package driver connects the load generator to each broker with that
// broker's own Go client, behind one small interface: subscribe to a
// pattern, publish a payload to a subject, count what the client had to
// wait for or lost.
package driver

import (
	"context"
	"sync/atomic"
)

// Handler receives one delivered payload, valid only during the call.
// missed is how many earlier messages the broker reported it dropped for
// this connection (zccpd's zccp-missed; 0 for brokers that do not say).
type Handler func(payload []byte, missed uint64)

// Driver dials one kind of broker and spells subjects and patterns in its
// syntax.
type Driver interface {
	// Name identifies the driver in reports ("zccp", "zccp-raw", "nats", "mqtt").
	Name() string
	// Dial connects one client with a unique id to the broker at addr
	// (host:port) and waits until it can publish and subscribe.
	Dial(ctx context.Context, addr, id string) (Conn, error)
	// Subject spells the address made of parts (e.g. bench.d.7).
	Subject(parts ...string) string
	// Exact spells a pattern matching exactly Subject(parts...).
	Exact(parts ...string) string
	// Prefix spells a pattern matching Subject(parts..., x) for any one
	// more level x.
	Prefix(parts ...string) string
}

// Conn is one client connection. Publish and Flush are called by one
// goroutine at a time; handlers run on the client's own goroutines.
type Conn interface {
	// Subscribe registers patterns (as spelled by the driver) for h and
	// returns once the broker has confirmed them all.
	Subscribe(ctx context.Context, patterns []string, h Handler) error
	// Publish sends payload to subject. It may wait for room (the
	// client's own flow control) but never queues without bound; it does
	// not keep payload after it returns.
	Publish(subject string, payload []byte) error
	// Flush hands what Publish buffered to the network without waiting
	// for the broker.
	Flush()
	// Stats returns the connection's counters.
	Stats() Stats
	// Close disconnects.
	Close()
}

// Stats are a connection's load-client-side counters.
type Stats struct {
	Backoffs   uint64 // Publish found the client's buffer full and waited
	LocalDrops uint64 // deliveries the client library itself dropped
}

// counters is embedded by the drivers' connections.
type counters struct {
	backoffs   atomic.Uint64
	localDrops atomic.Uint64
}

func (c *counters) stats() Stats {
	return Stats{Backoffs: c.backoffs.Load(), LocalDrops: c.localDrops.Load()}
}

// ByName returns the driver with that name, or nil.
func ByName(name string) Driver {
	switch name {
	case "zccp":
		return ZCCP{}
	case "zccp-raw":
		return ZCCPRaw{}
	case "nats":
		return NATS{}
	case "mqtt":
		return MQTT{}
	}
	return nil
}
