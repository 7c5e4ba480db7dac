// Package demo simulates a small data center for zccp demo: racks of
// PDUs, switches and hypervisors, each a real ZCCP client with labels,
// publishing readings (as last values) and serving commands. Rack r2
// overheats: its PDU's load climbs until something switches outlets off
// (examples/overload does, run beside it by make demo). A port of the
// first switch saturates and recovers in a cycle.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/zccp-go/zccp/client"
)

// Config shapes the data center.
type Config struct {
	Endpoint    string
	Racks       int           // racks (1..64)
	Hypervisors int           // per rack (0..16)
	Interval    time.Duration // between readings
	Seed        uint64
	Logger      *slog.Logger
}

// Validate rejects impossible shapes.
func (c Config) Validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("demo: no endpoint")
	case c.Racks < 1 || c.Racks > 64:
		return fmt.Errorf("demo: racks %d: want 1 to 64", c.Racks)
	case c.Hypervisors < 0 || c.Hypervisors > 16:
		return fmt.Errorf("demo: hypervisors %d: want 0 to 16 per rack", c.Hypervisors)
	case c.Interval < 10*time.Millisecond:
		return fmt.Errorf("demo: interval %v: want at least 10ms", c.Interval)
	}
	return nil
}

// device is one simulated box: it publishes on every tick and serves
// its methods.
type device interface {
	id() string
	labels() map[string]string
	handlers() map[string]client.RequestHandler
	tick(now time.Time, publish func(address string, headers map[string]string, body string))
}

// Run connects every device and runs the simulation until ctx ends. It
// returns the identifiers once all are connected through ready (if not
// nil).
func Run(ctx context.Context, cfg Config, ready func(ids []string)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0xdc))
	var devs []device
	hvs := map[string][]*hypervisor{}
	for r := 1; r <= cfg.Racks; r++ {
		rack := fmt.Sprintf("r%d", r)
		devs = append(devs, newPDU(rack, r == 2, rng.Uint64()), newSwitch(rack, r == 1, rng.Uint64()))
		for h := 1; h <= cfg.Hypervisors; h++ {
			hv := newHypervisor(rack, h, rng.Uint64())
			hvs[rack] = append(hvs[rack], hv)
			devs = append(devs, hv)
		}
	}
	for _, list := range hvs {
		for _, hv := range list {
			hv.peers = list
		}
	}
	clients, err := connectAll(ctx, cfg, devs)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if err != nil {
		return err
	}
	if ready != nil {
		ids := make([]string, len(devs))
		for i, d := range devs {
			ids[i] = d.id()
		}
		ready(ids)
	}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		for i, d := range devs {
			c := clients[i]
			d.tick(time.Now(), func(address string, h map[string]string, body string) {
				if err := c.PublishRetained(address, h, []byte(body)); err != nil {
					cfg.Logger.Debug("reading not sent", "device", d.id(), "err", err)
				}
			})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func connectAll(ctx context.Context, cfg Config, devs []device) ([]*client.Client, error) {
	var (
		mu      sync.Mutex
		clients = make([]*client.Client, len(devs))
		errs    []error
		wg      sync.WaitGroup
	)
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := []client.Option{client.WithIdentifier(d.id()), client.WithLabels(d.labels()), client.WithLogger(cfg.Logger)}
			for m, h := range d.handlers() {
				opts = append(opts, client.WithHandler(m, h))
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c, err := client.Connect(cctx, cfg.Endpoint, opts...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("demo: %s: %w", d.id(), err))
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	out := clients[:0]
	for _, c := range clients {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}
