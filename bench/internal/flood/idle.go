package flood

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/zccp-go/zccp/bench/internal/procstat"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// IdleResult is the broker's cost of idle clients.
type IdleResult struct {
	Broker, Kind string
	Clients      int
	CPUPerSec    float64 // broker CPU-seconds per second over the window
	RSS          int64
}

// Idle connects n clients that subscribe and then do nothing but answer
// PINGs (zccpd: declaring heartbeat in HELLO when it is not 0), lets them
// settle, and measures the broker's CPU over window.
func Idle(ctx context.Context, t Target, n int, heartbeat, window time.Duration) (IdleResult, error) {
	kind := "plain"
	var hs []rawpeer.Header
	if heartbeat > 0 {
		kind = "heartbeat " + heartbeat.String()
		hs = []rawpeer.Header{{Name: codec.HdrHeartbeat, Value: strconv.FormatInt(heartbeat.Milliseconds(), 10)}}
	}
	res := IdleResult{Broker: t.Kind, Kind: kind, Clients: n}
	subs := make([]Sub, n)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var s Sub
			var err error
			if t.Kind == "zccpd" {
				s, err = DialZCCP(dctx, t.Addr, fmt.Sprintf("idle%d", i), 512, hs, fmt.Sprintf("^idle\\.%d$", i))
			} else {
				s, err = DialNATS(dctx, t.Addr, 512, fmt.Sprintf("idle.%d", i))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			subs[i] = s
		}()
	}
	wg.Wait()
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.Close()
			}
		}
	}()
	if firstErr != nil {
		return res, firstErr
	}
	rctx, stop := context.WithCancel(ctx)
	counters := make([]Counter, n)
	for i, s := range subs {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(rctx, &counters[i]) }()
	}
	defer func() { stop(); wg.Wait() }()
	time.Sleep(3 * time.Second) // let the connection burst's work (and first PINGs) pass
	cpu0, _ := procstat.CPU(t.PID)
	began := time.Now()
	time.Sleep(window)
	cpu1, _ := procstat.CPU(t.PID)
	res.CPUPerSec = (cpu1 - cpu0).Seconds() / time.Since(began).Seconds()
	res.RSS, _ = procstat.RSS(t.PID)
	return res, nil
}
