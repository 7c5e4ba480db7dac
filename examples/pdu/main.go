// Command pdu is an example ZCCP device driver: a simulated power
// distribution unit (PDU) with switchable outlets.
//
//	go run ./examples/pdu --rack rack12 --pdu pdu3
//
// Every --interval it publishes its total draw, in watts, to
// power.<rack>.<pdu> (body "4120", header unit=W), each outlet's draw
// following a random walk around its nominal load. It says HELLO as
// pdu-<rack>-<pdu> with the labels kind=pdu, rack=<rack>, pdu=<pdu>, and
// answers requests:
//
//	outlet.on N    switch outlet N (1-based) on
//	outlet.off N   switch outlet N off
//	status         JSON: {"id", "rack", "pdu", "watts", "outlets": [{"outlet", "on", "watts"}]}
//
// It joins the groups pdus and pdus.<rack> (it subscribes to ^pdus$ and
// ^pdus\.<rack>$), so these reach it:
//
//	zccp call pdu-rack12-pdu3 status
//	zccp call --group pdus status
//	zccp call --group pdus.rack12 --label pdu=pdu3 outlet.off 2
//
// Try it with examples/overload, which switches outlets off when a PDU
// draws too much.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/client"
)

// config is what the flags set.
type config struct {
	Endpoint string
	ID       string        // default pdu-<rack>-<pdu>
	Rack     string        // e.g. rack12
	PDU      string        // e.g. pdu3
	Outlets  int           // number of outlets
	Watts    float64       // nominal draw of each outlet
	Loads    []float64     // nominal draw per outlet (overrides Watts)
	Interval time.Duration // between readings
	Seed     uint64        // random walk seed (0: random)
}

func main() {
	cfg := config{}
	ep := os.Getenv("ZCCP_ENDPOINT")
	if ep == "" {
		ep = "ipc://@/zccp"
	}
	flag.StringVar(&cfg.Endpoint, "endpoint", ep, "broker endpoint [ZCCP_ENDPOINT]")
	flag.StringVar(&cfg.ID, "id", "", "identifier (default pdu-<rack>-<pdu>)")
	flag.StringVar(&cfg.Rack, "rack", "rack1", "rack name: readings go to power.<rack>.<pdu>")
	flag.StringVar(&cfg.PDU, "pdu", "pdu1", "PDU name within the rack")
	flag.IntVar(&cfg.Outlets, "outlets", 8, "number of outlets")
	flag.Float64Var(&cfg.Watts, "watts", 250, "nominal draw of each outlet, W")
	loads := flag.String("loads", "", "nominal draw per outlet, comma-separated W (overrides --watts and --outlets)")
	flag.DurationVar(&cfg.Interval, "interval", time.Second, "time between readings")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "random walk seed (0: random)")
	flag.Parse()
	if *loads != "" {
		for _, s := range strings.Split(*loads, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || w < 0 {
				fmt.Fprintf(os.Stderr, "pdu: bad --loads value %q\n", s)
				os.Exit(2)
			}
			cfg.Loads = append(cfg.Loads, w)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("pdu stopped", "err", err)
		os.Exit(1)
	}
}

// Outlet is one outlet's state, as the status method reports it.
type Outlet struct {
	Outlet int     `json:"outlet"`
	On     bool    `json:"on"`
	Watts  float64 `json:"watts"`
}

// Status is the answer to the status method.
type Status struct {
	ID      string   `json:"id"`
	Rack    string   `json:"rack"`
	PDU     string   `json:"pdu"`
	Watts   float64  `json:"watts"`
	Outlets []Outlet `json:"outlets"`
}

// pdu is the simulated hardware.
type pdu struct {
	mu      sync.Mutex
	id      string
	cfg     config
	nominal []float64
	outlets []Outlet // guarded by mu
	rng     *rand.Rand
}

func newPDU(cfg config) *pdu {
	nominal := cfg.Loads
	if len(nominal) == 0 {
		for i := 0; i < cfg.Outlets; i++ {
			nominal = append(nominal, cfg.Watts)
		}
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	p := &pdu{id: cfg.ID, cfg: cfg, nominal: nominal, rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	for i, w := range nominal {
		p.outlets = append(p.outlets, Outlet{Outlet: i + 1, On: true, Watts: w})
	}
	return p
}

// step moves every outlet's draw one step of its random walk (pulled
// back towards its nominal load) and returns the total.
func (p *pdu) step() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0.0
	for i := range p.outlets {
		o := &p.outlets[i]
		if !o.On {
			o.Watts = 0
			continue
		}
		n := p.nominal[i]
		o.Watts += 0.2*(n-o.Watts) + p.rng.NormFloat64()*0.03*n
		o.Watts = math.Round(math.Max(o.Watts, 0)*10) / 10
		total += o.Watts
	}
	return math.Round(total)
}

func (p *pdu) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{ID: p.id, Rack: p.cfg.Rack, PDU: p.cfg.PDU, Outlets: append([]Outlet(nil), p.outlets...)}
	for _, o := range p.outlets {
		s.Watts += o.Watts
	}
	s.Watts = math.Round(s.Watts)
	return s
}

// set switches an outlet named by the request's body ("3").
func (p *pdu) set(r *client.Request, on bool) (*client.Reply, error) {
	n, err := strconv.Atoi(strings.TrimSpace(string(r.Body())))
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || n < 1 || n > len(p.outlets) {
		return nil, fmt.Errorf("want an outlet number from 1 to %d, got %q", len(p.outlets), r.Body())
	}
	o := &p.outlets[n-1]
	was := o.Watts
	state := "off"
	if on {
		state = "on"
		if !o.On {
			o.Watts = p.nominal[n-1]
		}
	} else {
		o.Watts = 0
	}
	o.On = on
	return &client.Reply{Content: [][]byte{fmt.Appendf(nil, "outlet %d %s (was drawing %.0f W)", n, state, was)}}, nil
}

// quoteExpr escapes s for a zrex expression: every ASCII character but
// letters and digits gets a backslash (which makes it literal).
func quoteExpr(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// run connects, serves requests and publishes readings until ctx ends.
// ready, if not nil, is called once the PDU answers requests.
func run(ctx context.Context, cfg config, log *slog.Logger, ready func(id string)) error {
	if cfg.Rack == "" || cfg.PDU == "" || strings.ContainsAny(cfg.Rack+cfg.PDU, ".,=") {
		return errors.New("--rack and --pdu must be non-empty, without '.', ',' or '='")
	}
	if cfg.Interval <= 0 {
		return errors.New("--interval must be positive")
	}
	if cfg.ID == "" {
		cfg.ID = "pdu-" + cfg.Rack + "-" + cfg.PDU
	}
	p := newPDU(cfg)
	if len(p.outlets) == 0 {
		return errors.New("a PDU needs at least one outlet")
	}
	// The handlers are registered before HELLO: no request can arrive
	// before them, and HELLO declares the PDU a group member.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := client.Connect(cctx, cfg.Endpoint, client.WithIdentifier(cfg.ID),
		client.WithLabels(map[string]string{"kind": "pdu", "rack": cfg.Rack, "pdu": cfg.PDU}),
		client.WithErrorHandler(func(err error) { log.Warn("zccp", "err", err) }),
		client.WithHandler("outlet.on", func(_ context.Context, r *client.Request) (*client.Reply, error) {
			reply, err := p.set(r, true)
			log.Info("request", "method", r.Method, "from", r.From, "outlet", string(r.Body()), "err", err)
			return reply, err
		}),
		client.WithHandler("outlet.off", func(_ context.Context, r *client.Request) (*client.Reply, error) {
			reply, err := p.set(r, false)
			log.Info("request", "method", r.Method, "from", r.From, "outlet", string(r.Body()), "err", err)
			return reply, err
		}),
		client.WithHandler("status", func(context.Context, *client.Request) (*client.Reply, error) {
			b, err := json.Marshal(p.status())
			return &client.Reply{Content: [][]byte{b}}, err
		}))
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	// Group membership: a group request is a PUBLISH to the group's
	// address, delivered to the declared members (clients with handlers)
	// that subscribe to it.
	for _, expr := range []string{`^pdus$`, `^pdus\.` + quoteExpr(cfg.Rack) + `$`} {
		if _, err := c.Subscribe(ctx, expr, func(*client.Delivery) {}); err != nil {
			return err
		}
	}
	address := "power." + cfg.Rack + "." + cfg.PDU
	log.Info("pdu ready", "id", cfg.ID, "endpoint", cfg.Endpoint, "readings", address, "outlets", len(p.outlets))
	if ready != nil {
		ready(cfg.ID)
	}
	headers := map[string]string{"unit": "W"}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		watts := p.step()
		if err := c.Publish(address, headers, strconv.AppendFloat(nil, watts, 'f', -1, 64)); err != nil {
			log.Warn("reading not published", "err", err)
		}
	}
}
