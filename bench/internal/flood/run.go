package flood

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zccp-go/zccp/bench/internal/procstat"
)

// Scenario is one flood workload: one publisher, Subs subscribers.
type Scenario struct {
	Name     string
	Subs     int
	Distinct bool // subscriber i has its own subject; the publisher cycles through them
	Size     int  // payload bytes (at least 8)
}

// Scenarios are the workloads of issue 10's table.
var Scenarios = []Scenario{
	{Name: "1to1", Subs: 1, Size: 100},
	{Name: "1to10", Subs: 10, Size: 100},
	{Name: "100distinct", Subs: 100, Distinct: true, Size: 100},
	{Name: "1to1-1KiB", Subs: 1, Size: 1 << 10},
	{Name: "1to1-64KiB", Subs: 1, Size: 64 << 10},
	{Name: "1to10-64KiB", Subs: 10, Size: 64 << 10},
}

// Target is a running broker under test.
type Target struct {
	Kind string // "zccpd" or "nats"
	Addr string // host:port
	PID  int
}

// Result is one run's measures.
type Result struct {
	Scenario, Broker, Mode string
	Sent, Expected         uint64  // messages published; deliveries they should make
	Received, Missed       uint64  // deliveries received; zccp-missed reported
	PubRate, Delivered     float64 // per second (publish window; first publish to last delivery)
	CPU                    time.Duration
	PeakRSS                int64
	Err                    string // first subscriber error (e.g. cut as a slow consumer)
}

// Lost returns the fraction of deliveries that never arrived.
func (r Result) Lost() float64 {
	if r.Expected == 0 {
		return 0
	}
	return float64(r.Expected-min(r.Received, r.Expected)) / float64(r.Expected)
}

// CPUPerDelivery returns the broker's CPU per delivery received.
func (r Result) CPUPerDelivery() time.Duration {
	if r.Received == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Received)
}

func subject(s Scenario, kind string, i int) (pub, sub string) {
	name := "bench"
	if s.Distinct {
		name = fmt.Sprintf("d.%03d", i)
	}
	if kind == "zccpd" {
		return name, "^" + name + "$"
	}
	return name, name
}

func dialSub(ctx context.Context, t Target, s Scenario, i int) (Sub, error) {
	_, sub := subject(s, t.Kind, i)
	if t.Kind == "zccpd" {
		return DialZCCP(ctx, t.Addr, fmt.Sprintf("sub%d", i), 256<<10, nil, sub)
	}
	return DialNATS(ctx, t.Addr, 256<<10, sub)
}

func dialPub(ctx context.Context, t Target) (Pub, error) {
	if t.Kind == "zccpd" {
		return DialZCCP(ctx, t.Addr, "pub", 4<<10, nil)
	}
	return DialNATS(ctx, t.Addr, 4<<10)
}

// Run floods t for dur: open loop when rate is 0, else paced at rate
// messages per second. It waits (bounded) for the deliveries in flight,
// then reports.
func Run(ctx context.Context, t Target, s Scenario, dur time.Duration, rate float64) (Result, error) {
	mode := "open"
	if rate > 0 {
		mode = fmt.Sprintf("%.0f/s", rate)
	}
	res := Result{Scenario: s.Name, Broker: t.Kind, Mode: mode}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	subs := make([]Sub, s.Subs)
	for i := range subs {
		sub, err := dialSub(dctx, t, s, i)
		if err != nil {
			return res, fmt.Errorf("subscriber %d: %w", i, err)
		}
		defer sub.Close()
		subs[i] = sub
	}
	pub, err := dialPub(dctx, t)
	if err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	defer pub.Close()

	sctx, stopSubs := context.WithCancel(ctx)
	counters := make([]Counter, len(subs))
	var wg sync.WaitGroup
	for i, sub := range subs {
		wg.Add(1)
		go func() { defer wg.Done(); sub.Run(sctx, &counters[i]) }()
	}
	peak, stopRSS := sampleRSS(t.PID)
	cpu0, _ := procstat.CPU(t.PID)
	start := time.Now()
	sent, err := publish(pub, s, t.Kind, start, dur, rate)
	pubDur := time.Since(start)
	res.Sent = sent
	res.Expected = sent
	if !s.Distinct {
		res.Expected = sent * uint64(s.Subs)
	}
	drain(counters, res.Expected)
	cpu1, _ := procstat.CPU(t.PID)
	stopSubs()
	wg.Wait()
	res.PeakRSS = max(stopRSS(), *peak)
	if hwm, err := procstat.HWM(t.PID); err == nil {
		res.PeakRSS = max(res.PeakRSS, hwm)
	}
	res.CPU = cpu1 - cpu0
	res.PubRate = float64(sent) / pubDur.Seconds()
	var last time.Time
	for i := range counters {
		c := &counters[i]
		res.Received += c.Received()
		res.Missed += c.Missed()
		if c.Last().After(last) {
			last = c.Last()
		}
		if c.Err != nil && res.Err == "" {
			res.Err = c.Err.Error()
		}
	}
	if last.After(start) {
		res.Delivered = float64(res.Received) / last.Sub(start).Seconds()
	}
	return res, err
}

// publish writes numbered messages in chunks of about 256 KiB, each chunk
// in one write, until dur has passed.
func publish(pub Pub, s Scenario, kind string, start time.Time, dur time.Duration, rate float64) (uint64, error) {
	per := max(1, (256<<10)/(s.Size+48))
	body := make([]byte, max(s.Size, 8))
	subjects := make([]string, max(1, s.Subs))
	for i := range subjects {
		subjects[i], _ = subject(s, kind, i)
	}
	if !s.Distinct {
		subjects = subjects[:1]
	}
	var buf []byte
	var sent uint64
	for {
		el := time.Since(start)
		if el >= dur {
			return sent, nil
		}
		n := per
		if rate > 0 {
			due := int64(rate*el.Seconds()) - int64(sent)
			if due <= 0 {
				time.Sleep(200 * time.Microsecond)
				continue
			}
			n = int(min(due, int64(8*per)))
		}
		buf = buf[:0]
		for k := 0; k < n; k++ {
			seq := sent + uint64(k) + 1
			buf = pub.Append(buf, subjects[int(seq)%len(subjects)], payload(body, seq))
		}
		if err := pub.Write(buf); err != nil {
			return sent, err
		}
		sent += uint64(n)
	}
}

// drain waits until every expected delivery arrived, or nothing arrived
// for half a second, or 10 s passed.
func drain(cs []Counter, expected uint64) {
	deadline := time.Now().Add(10 * time.Second)
	var prev uint64
	still := time.Now()
	for time.Now().Before(deadline) {
		var got uint64
		for i := range cs {
			got += cs[i].Received() + cs[i].Missed()
		}
		if got >= expected {
			return
		}
		if got != prev {
			prev, still = got, time.Now()
		} else if time.Since(still) > 500*time.Millisecond {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sampleRSS samples pid's RSS every 10 ms until the returned stop is
// called; stop returns the peak.
func sampleRSS(pid int) (*int64, func() int64) {
	var peak int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if r, err := procstat.RSS(pid); err == nil && r > peak {
				peak = r
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var p int64
	return &p, func() int64 { close(done); <-finished; return peak }
}
