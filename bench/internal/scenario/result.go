package scenario

import (
	"time"

	"github.com/zccp-go/zccp/bench/internal/hist"
)

// Result is one measured window of one scenario against one target.
type Result struct {
	Scenario string
	Target   string // row label: zccpd, zccpd-raw, nats, mosquitto
	Rep      int    // 1-based repetition
	Err      string // why the run failed, if it did

	Window     time.Duration // measured wall time
	Published  uint64        // publishes in the window
	Delivered  uint64        // messages received by all subscribers in the window
	BrokerCPU  time.Duration // broker process user+system CPU in the window
	ClientCPU  time.Duration // load client (this process) CPU in the window
	OtherCPU   time.Duration // CPU used by other processes on the machine in the window
	Latency    hist.Counts   // publish-to-receive latency of the window's deliveries
	Missed     uint64        // drops the broker reported (zccp-missed) in the window
	LocalDrops uint64        // deliveries the client libraries dropped in the window
	Backoffs   uint64        // Publish calls that found the client's buffer full
	Stalls     uint64        // times the publishers gave up waiting for lost deliveries

	Clients int           // Idle: connected clients
	RSSBase int64         // Idle: broker RSS before the clients connected
	RSS     int64         // broker RSS at the end of the window
	Connect time.Duration // Idle: time to connect and subscribe every client

	Total    time.Duration // the whole run: broker start, setup, windows, teardown
	Attempts int           // runs made to get this one (disturbed runs are repeated)
}

// Rate returns deliveries per second.
func (r Result) Rate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.Window.Seconds()
}

// PerBrokerCPU returns deliveries per broker CPU-second.
func (r Result) PerBrokerCPU() float64 {
	if r.BrokerCPU <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.BrokerCPU.Seconds()
}

// RSSPerClient returns the broker memory added per connected client.
func (r Result) RSSPerClient() float64 {
	if r.Clients == 0 {
		return 0
	}
	return float64(r.RSS-r.RSSBase) / float64(r.Clients)
}

// Quantile returns a latency quantile (0 when nothing was measured).
func (r Result) Quantile(q float64) time.Duration {
	if r.Latency == nil {
		return 0
	}
	return r.Latency.Quantile(q)
}
