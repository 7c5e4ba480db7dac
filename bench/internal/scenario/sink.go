package scenario

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/bench/internal/gate"
	"github.com/zccp-go/zccp/bench/internal/hist"
)

// sink counts one subscriber connection's deliveries and their latency,
// and gives the gate its credit back.
type sink struct {
	delivered atomic.Uint64
	missed    atomic.Uint64
	lat       hist.Histogram
	gate      *gate.Gate
}

// handle is the subscriber's driver.Handler. The payload starts with the
// time (Unix ns) at which the publisher sent it, or was due to.
func (s *sink) handle(payload []byte, missed uint64) {
	if len(payload) >= 8 {
		sent := int64(binary.LittleEndian.Uint64(payload))
		s.lat.Record(time.Duration(time.Now().UnixNano() - sent))
	}
	s.delivered.Add(1)
	if missed > 0 {
		s.missed.Add(missed)
	}
	s.gate.Release(1 + int64(missed))
}

// stamp writes the send time into a payload.
func stamp(payload []byte, t int64) { binary.LittleEndian.PutUint64(payload, uint64(t)) }
