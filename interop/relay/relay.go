// Package relay measures a one-publisher, N-subscriber message relay built
// on libzmq (through github.com/pebbe/zmq4) against the same relay built
// on the native zmtp engine, with the same pure-Go load client.
//
// Each relay runs in a child process (this program re-executed, see
// [ChildMain]) so that its CPU time can be measured apart from the load
// client's. The load client (one publisher and N subscribers, all
// zmtp.Dealer) runs in the calling process.
//
// Relay protocol: a subscriber sends the one-frame message "SUB" and the
// relay answers "ok" once it will forward to it; every other message is
// forwarded, frame for frame, to every subscriber.
package relay

import (
	"errors"
	"fmt"
	"time"
)

// Impl names a relay implementation.
type Impl string

// Relay implementations.
const (
	// Libzmq is a libzmq ROUTER socket driven through zmq4: receive the
	// routing id and frames, send them to every subscriber's routing id.
	Libzmq Impl = "libzmq"
	// Native is a zmtp.Server whose publisher handler appends each message
	// to every subscriber's Outbox and flushes once per read batch.
	Native Impl = "native"
)

// DefaultWindow is the default flow-control window: about 200 KB of
// 100-byte messages in flight per subscriber. (With windows of 10,000
// messages and more, a subscriber's batch in the native relay can pass the
// 1 MiB that zmtp.Outbox keeps for reuse, and the relay then reallocates
// its queue buffer for every batch; see the package README.)
const DefaultWindow = 2000

// Config describes one relay run.
type Config struct {
	// Impl selects the relay; required.
	Impl Impl
	// Subscribers is the number of subscriber connections (default 1).
	Subscribers int
	// Transport is "tcp" (default, 127.0.0.1) or "ipc" (Linux abstract).
	Transport string
	// MessageSize is the size of each published message (default 100,
	// at least 8: the first 8 bytes carry a sequence number).
	MessageSize int
	// Messages stops publishing after this many messages; Duration stops
	// after that long; at least one must be set, the first reached wins.
	Messages int
	// Duration: see Messages.
	Duration time.Duration
	// Warmup is the number of messages published and delivered before
	// measuring (default 10,000; negative means none).
	Warmup int
	// Window bounds how many messages the publisher may be ahead of the
	// slowest subscriber (default DefaultWindow).
	Window int
	// CPUProfile, if set, makes the relay child write a CPU profile of the
	// whole run to this file (native relay only: libzmq's own threads are
	// not Go code).
	CPUProfile string
	// Timeout bounds the whole run (default Duration + 60 s, or 2 min).
	Timeout time.Duration
	// OnStart and OnStop, if set, are called right when the measured
	// window starts and ends (a benchmark starts and stops its timer).
	OnStart, OnStop func()
}

func (c Config) withDefaults() (Config, error) {
	if c.Impl != Libzmq && c.Impl != Native {
		return c, fmt.Errorf("relay: unknown implementation %q", c.Impl)
	}
	if c.Subscribers <= 0 {
		c.Subscribers = 1
	}
	if c.Transport == "" {
		c.Transport = "tcp"
	}
	if c.Transport != "tcp" && c.Transport != "ipc" {
		return c, fmt.Errorf("relay: unknown transport %q", c.Transport)
	}
	if c.MessageSize == 0 {
		c.MessageSize = 100
	}
	if c.MessageSize < 8 {
		return c, errors.New("relay: MessageSize must be at least 8")
	}
	if c.Messages <= 0 && c.Duration <= 0 {
		return c, errors.New("relay: set Messages or Duration")
	}
	if c.Warmup == 0 {
		c.Warmup = 10_000
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
		if c.Duration > 0 {
			c.Timeout = c.Duration + time.Minute
		}
	}
	return c, nil
}

// Result is what one run measured. The window runs from the first message
// published after the warm-up to the delivery of the last one to every
// subscriber.
type Result struct {
	Config     Config
	Published  int           // messages published in the window
	Deliveries int64         // messages received by subscribers in the window
	Elapsed    time.Duration // length of the window
	RelayUser  time.Duration // relay process user CPU in the window
	RelaySys   time.Duration // relay process system CPU in the window
	ClientCPU  time.Duration // load client (this process) CPU in the window
	// RelayForwarded is the relay's own count of deliveries it queued in
	// the window; RelayStalls counts the times it had to wait for room in
	// a subscriber's queue (native) or a send that failed (libzmq).
	RelayForwarded, RelayStalls uint64
}

// RelayCPU returns the relay's user plus system CPU time in the window.
func (r Result) RelayCPU() time.Duration { return r.RelayUser + r.RelaySys }

// DeliveriesPerSec returns subscriber deliveries per wall-clock second.
func (r Result) DeliveriesPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Deliveries) / r.Elapsed.Seconds()
}

// DeliveriesPerCPUSec returns deliveries per second of relay CPU time.
func (r Result) DeliveriesPerCPUSec() float64 {
	cpu := r.RelayCPU()
	if cpu <= 0 {
		return 0
	}
	return float64(r.Deliveries) / cpu.Seconds()
}
