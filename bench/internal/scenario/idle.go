package scenario

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/bench/internal/procstat"
	"github.com/zccp-go/zccp/bench/internal/server"
)

// idleSettle is how long the broker is left alone after the clients have
// connected, before the measured window (queues drain, GC runs).
const idleSettle = time.Second

// idle connects s.Clients clients, each subscribed to a subject of its
// own, then measures the broker's CPU over the window and its RSS
// growth per client.
func (e Env) idle(ctx context.Context, s Scenario, t Target, p *server.Process, r *Result) error {
	d := t.Driver
	sleep(ctx, 200*time.Millisecond)
	base, err := p.RSS()
	if err != nil {
		return err
	}
	setup, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	began := time.Now()
	conns, err := dialAll(setup, d, p.Addr, "idle", s.Clients)
	if err != nil {
		return err
	}
	defer func() { closeAll(conns) }()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	sem := make(chan struct{}, 64)
	nop := func([]byte, uint64) {}
	for i, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.Subscribe(setup, []string{d.Exact("bench", "idle", strconv.Itoa(i))}, nop); err != nil {
				mu.Lock()
				ferr = fmt.Errorf("subscribing client %d: %w", i, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		return ferr
	}
	r.Connect = time.Since(began)
	sleep(ctx, idleSettle)
	c0, err := p.CPU()
	if err != nil {
		return err
	}
	s0, t0 := procstat.SelfCPU(), time.Now()
	m0, _ := procstat.MachineBusy()
	sleep(ctx, e.Window)
	c1, err := p.CPU()
	if err != nil {
		return err
	}
	r.Window, r.BrokerCPU, r.ClientCPU = time.Since(t0), c1-c0, procstat.SelfCPU()-s0
	m1, _ := procstat.MachineBusy()
	r.OtherCPU = max(0, m1-m0-r.BrokerCPU-r.ClientCPU)
	r.Clients, r.RSSBase = s.Clients, base
	r.RSS, err = p.RSS()
	if e.ProfileDir != "" && t.Broker == "zccpd" {
		p.Signal(syscall.SIGUSR1) // zccpdprof: heap profile with every client connected
		sleep(ctx, 500*time.Millisecond)
	}
	return err
}
