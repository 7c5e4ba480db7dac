package broker

import (
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// Outcome is how a request ended, as the latency histograms label it. The
// set is fixed, so the histograms' label cardinality is bounded.
type Outcome uint8

const (
	OutcomeOK            Outcome = iota // final reply with zccp-status: ok
	OutcomeError                        // final reply with zccp-status: error (from the device)
	OutcomeOther                        // final reply with another status
	OutcomeExpired                      // TTL ran out before the command reached the device
	OutcomeDisconnected                 // the device's session ended while the request was outstanding
	OutcomeRefused                      // not routed: bad request, too many outstanding, or a full queue
	OutcomeCancelled                    // the requester cancelled it
	OutcomeRequesterGone                // the requester's session ended first
	OutcomeReplaced                     // a retry with the same id replaced it
	OutcomeForgotten                    // no answer long after its deadline or last progress
	OutcomeNoRecipient                  // nobody to send it to: no such identifier, or a group of none
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "error", "other", "expired", "disconnected", "refused",
	"cancelled", "requester_gone", "replaced", "forgotten", "no_recipient"}

// String returns the outcome's label value.
func (o Outcome) String() string { return outcomeNames[o] }

// outcomeOf maps a final reply's zccp-status to an outcome.
func outcomeOf(status []byte) Outcome {
	switch string(status) {
	case codec.StatusOK:
		return OutcomeOK
	case codec.StatusError:
		return OutcomeError
	}
	return OutcomeOther
}

// LatencyBuckets are the upper bounds, in seconds, of the request latency
// histograms' buckets.
var LatencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// latencyHist is one histogram: a count per bucket (the last is +Inf) and
// the sum of observations. Requests are far rarer than messages, so the
// shared atomics cost nothing that matters.
type latencyHist struct {
	buckets [17]atomic.Uint64 // len(LatencyBuckets)+1
	sumNs   atomic.Int64
}

// latencies holds a histogram per kind (single, group) and outcome.
type latencies [2][numOutcomes]latencyHist

func (h *latencyHist) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNs.Add(int64(d))
}

// observeSingle records a request to one device that ended with o.
func (b *Broker) observeSingle(start time.Time, o Outcome) {
	b.latency[0][o].observe(time.Since(start))
}

// groupCall follows one group request until every recipient's request
// has ended; its latency runs to the last of them.
type groupCall struct {
	start   time.Time
	pending atomic.Int32 // recipients whose request has not ended
	worst   atomic.Int32 // the outcome reported: ok unless a recipient's was not
	a       *groupAudit  // its audit record's data (audit.go); nil: auditing off
}

// memberEnded notes that one recipient's request ended with o and, when it
// was the last, records the call's latency. A call is ok when every
// recipient's was; otherwise it takes the highest-numbered outcome among
// them (error before expired before disconnected ...: the order of Outcome).
func (b *Broker) memberEnded(g *groupCall, o Outcome) {
	for {
		w := g.worst.Load()
		if int32(o) <= w || g.worst.CompareAndSwap(w, int32(o)) {
			break
		}
	}
	if g.a != nil {
		g.a.counts[o].Add(1)
	}
	if g.pending.Add(-1) == 0 {
		b.latency[1][Outcome(g.worst.Load())].observe(time.Since(g.start))
		b.auditGroupEnd(g, Outcome(g.worst.Load()))
	}
}

// ended records how request r ended: in the single histogram, or towards
// its group call.
func (b *Broker) ended(r *request, o Outcome) {
	if r.requester.remote != "" {
		return // observed (and audited) by the requester's broker
	}
	call{start: r.start, group: r.group, a: r.a}.end(b, o)
}

// LatencySeries is one histogram as RequestLatency returns it.
type LatencySeries struct {
	Kind    string   // "single" or "group"
	Outcome string   // an Outcome's label value
	Count   uint64   // observations
	Sum     float64  // seconds
	Buckets []uint64 // cumulative counts, one per LatencyBuckets bound
}

// RequestLatency returns the request latency histograms that have at least
// one observation: the time from a request reaching the broker to its
// final reply (or other end) passing back through it; for a group request,
// to the end of the last recipient's.
func (b *Broker) RequestLatency() []LatencySeries {
	var out []LatencySeries
	for k, kind := range []string{"single", "group"} {
		for o := range numOutcomes {
			h := &b.latency[k][o]
			s := LatencySeries{Kind: kind, Outcome: o.String(), Buckets: make([]uint64, len(LatencyBuckets))}
			for i := range h.buckets {
				s.Count += h.buckets[i].Load()
				if i < len(LatencyBuckets) {
					s.Buckets[i] = s.Count
				}
			}
			if s.Count > 0 {
				s.Sum = time.Duration(h.sumNs.Load()).Seconds()
				out = append(out, s)
			}
		}
	}
	return out
}

// call says what a routed command belongs to: a request to one device
// (group nil) or one recipient's part of a group request.
type call struct {
	start time.Time
	group *groupCall
	a     *reqAudit // a request to one device: its audit record's data (audit.go); nil: auditing off
}

// end records how the command ended (tracked or not).
func (c call) end(b *Broker, o Outcome) {
	if c.group != nil {
		b.memberEnded(c.group, o)
		return
	}
	b.observeSingle(c.start, o)
	b.auditSingle(c, o)
}
