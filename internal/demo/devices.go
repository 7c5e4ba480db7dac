package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zccp-go/zccp/client"
)

func reply(format string, a ...any) (*client.Reply, error) {
	return &client.Reply{Content: [][]byte{fmt.Appendf(nil, format, a...)}}, nil
}

func jsonReply(v any) (*client.Reply, error) {
	b, err := json.Marshal(v)
	return &client.Reply{Content: [][]byte{b}}, err
}

func numberArg(r *client.Request, max int, what string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(string(r.Body())))
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("want a %s number from 1 to %d, got %q", what, max, r.Body())
	}
	return n, nil
}

// ---- PDU: power per outlet, outlet.on/off, status (as examples/pdu) ----

type outlet struct {
	Outlet int     `json:"outlet"`
	On     bool    `json:"on"`
	Watts  float64 `json:"watts"`
}

type pdu struct {
	rack      string
	overheats bool // its load climbs (rack r2)
	mu        sync.Mutex
	outlets   []outlet  // guarded by mu
	nominal   []float64 // guarded by mu
	heat      float64   // load factor; guarded by mu
	off       []int     // ticks each outlet has been off; guarded by mu
	rng       *rand.Rand
}

func newPDU(rack string, overheats bool, seed uint64) *pdu {
	p := &pdu{rack: rack, overheats: overheats, heat: 1, rng: rand.New(rand.NewPCG(seed, 1))}
	for i := range 8 {
		w := 220 + p.rng.Float64()*120
		p.outlets = append(p.outlets, outlet{Outlet: i + 1, On: true, Watts: w})
		p.nominal = append(p.nominal, w)
		p.off = append(p.off, 0)
	}
	return p
}

func (p *pdu) id() string { return "pdu-" + p.rack + "-1" }
func (p *pdu) labels() map[string]string {
	return map[string]string{"rack": p.rack, "kind": "pdu", "pdu": "pdu1"}
}

func (p *pdu) handlers() map[string]client.RequestHandler {
	return map[string]client.RequestHandler{
		"status":     func(context.Context, *client.Request) (*client.Reply, error) { return jsonReply(p.status()) },
		"outlet.on":  func(_ context.Context, r *client.Request) (*client.Reply, error) { return p.set(r, true) },
		"outlet.off": func(_ context.Context, r *client.Request) (*client.Reply, error) { return p.set(r, false) },
	}
}

func (p *pdu) status() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := 0.0
	for _, o := range p.outlets {
		total += o.Watts
	}
	return map[string]any{"id": p.id(), "rack": p.rack, "pdu": "pdu1", "watts": math.Round(total), "outlets": slices.Clone(p.outlets)}
}

func (p *pdu) set(r *client.Request, on bool) (*client.Reply, error) {
	n, err := numberArg(r, 8, "outlet")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o := &p.outlets[n-1]
	was := o.Watts
	o.On = on
	if !on {
		o.Watts = 0
	}
	return reply("outlet %d %s (was drawing %.0f W)", n, map[bool]string{true: "on", false: "off"}[on], was)
}

// tick: a random walk around each outlet's nominal draw times the heat;
// in an overheating rack the heat climbs while every outlet is on and an
// outlet switched off comes back after a while (someone fixed the cause).
func (p *pdu) tick(_ time.Time, publish func(string, map[string]string, string)) {
	p.mu.Lock()
	total, on := 0.0, 0
	for i := range p.outlets {
		o := &p.outlets[i]
		if !o.On {
			if p.off[i]++; p.off[i] > 40 && p.overheats {
				o.On, p.off[i], p.heat = true, 0, 1
			}
			continue
		}
		on++
		n := p.nominal[i] * p.heat
		o.Watts = math.Round(math.Max(0, o.Watts+0.3*(n-o.Watts)+p.rng.NormFloat64()*0.02*n)*10) / 10
		total += o.Watts
	}
	if p.overheats && on == len(p.outlets) {
		p.heat = math.Min(p.heat*1.02, 1.8)
	}
	temp := 21 + total/250 + p.rng.NormFloat64()*0.2
	p.mu.Unlock()
	publish("power."+p.rack+".pdu1", map[string]string{"unit": "W"}, fmt.Sprintf("%.0f", total))
	publish("temp."+p.rack, map[string]string{"unit": "C"}, fmt.Sprintf("%.1f", temp))
}

// ---- switch: port utilisation, port.shut/open, status ----

type port struct {
	Port int     `json:"port"`
	Up   bool    `json:"up"`
	Util float64 `json:"util"` // percent
}

type netSwitch struct {
	rack      string
	saturates bool // port 7 saturates in a cycle (rack r1)
	mu        sync.Mutex
	ports     []port // guarded by mu
	start     time.Time
	rng       *rand.Rand
}

func newSwitch(rack string, saturates bool, seed uint64) *netSwitch {
	s := &netSwitch{rack: rack, saturates: saturates, start: time.Now(), rng: rand.New(rand.NewPCG(seed, 2))}
	for i := range 24 {
		s.ports = append(s.ports, port{Port: i + 1, Up: true, Util: 10 + s.rng.Float64()*30})
	}
	return s
}

func (s *netSwitch) id() string { return "sw-" + s.rack + "-1" }
func (s *netSwitch) labels() map[string]string {
	return map[string]string{"rack": s.rack, "kind": "switch"}
}

func (s *netSwitch) handlers() map[string]client.RequestHandler {
	return map[string]client.RequestHandler{
		"status": func(context.Context, *client.Request) (*client.Reply, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return jsonReply(map[string]any{"id": s.id(), "rack": s.rack, "ports": slices.Clone(s.ports)})
		},
		"port.shut": func(_ context.Context, r *client.Request) (*client.Reply, error) { return s.set(r, false) },
		"port.open": func(_ context.Context, r *client.Request) (*client.Reply, error) { return s.set(r, true) },
	}
}

func (s *netSwitch) set(r *client.Request, up bool) (*client.Reply, error) {
	n, err := numberArg(r, 24, "port")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ports[n-1].Up = up
	if !up {
		s.ports[n-1].Util = 0
	}
	return reply("port %d %s", n, map[bool]string{true: "open", false: "shut"}[up])
}

func (s *netSwitch) tick(now time.Time, publish func(string, map[string]string, string)) {
	s.mu.Lock()
	maxU, maxP, sum := 0.0, 0, 0.0
	for i := range s.ports {
		p := &s.ports[i]
		if !p.Up {
			continue
		}
		p.Util = math.Min(100, math.Max(0, p.Util+s.rng.NormFloat64()*4+0.1*(25-p.Util)))
		if s.saturates && p.Port == 7 {
			p.Util = math.Min(100, 55+50*math.Sin(now.Sub(s.start).Seconds()/8))
		}
		p.Util = math.Round(p.Util*10) / 10
		sum += p.Util
		if p.Util > maxU {
			maxU, maxP = p.Util, p.Port
		}
	}
	s.mu.Unlock()
	h := map[string]string{"unit": "%", "port": strconv.Itoa(maxP)}
	if maxU >= 95 {
		h["congested"] = "1"
	}
	publish("net."+s.rack+".sw1", h, fmt.Sprintf("max %.0f%% on port %d, mean %.0f%%", maxU, maxP, sum/24))
}

// ---- hypervisor: VM load, vm.migrate, status ----

type vm struct {
	Name string  `json:"name"`
	Load float64 `json:"load"` // percent of the host
}

type hypervisor struct {
	rack  string
	n     int
	peers []*hypervisor // the rack's hypervisors, itself included
	mu    sync.Mutex
	vms   []vm // guarded by mu
	rng   *rand.Rand
}

func newHypervisor(rack string, n int, seed uint64) *hypervisor {
	h := &hypervisor{rack: rack, n: n, rng: rand.New(rand.NewPCG(seed, 3))}
	for i := range 3 + h.rng.IntN(3) {
		h.vms = append(h.vms, vm{Name: fmt.Sprintf("vm-%s-%d-%d", rack, n, i+1), Load: 5 + h.rng.Float64()*15})
	}
	return h
}

func (h *hypervisor) id() string { return fmt.Sprintf("hv-%s-%d", h.rack, h.n) }
func (h *hypervisor) labels() map[string]string {
	return map[string]string{"rack": h.rack, "kind": "hypervisor"}
}

func (h *hypervisor) handlers() map[string]client.RequestHandler {
	return map[string]client.RequestHandler{
		"status": func(context.Context, *client.Request) (*client.Reply, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return jsonReply(map[string]any{"id": h.id(), "rack": h.rack, "load": h.loadLocked(), "vms": slices.Clone(h.vms)})
		},
		"vm.migrate": h.migrate,
	}
}

func (h *hypervisor) loadLocked() float64 {
	t := 0.0
	for _, v := range h.vms {
		t += v.Load
	}
	return math.Round(t*10) / 10
}

// migrate moves the named VM (or the busiest) to the least loaded other
// hypervisor of the rack.
func (h *hypervisor) migrate(_ context.Context, r *client.Request) (*client.Reply, error) {
	name := strings.TrimSpace(string(r.Body()))
	var target *hypervisor
	best := math.Inf(1)
	for _, p := range h.peers {
		if p == h {
			continue
		}
		p.mu.Lock()
		if l := p.loadLocked(); l < best {
			best, target = l, p
		}
		p.mu.Unlock()
	}
	if target == nil {
		return nil, fmt.Errorf("no other hypervisor in rack %s", h.rack)
	}
	h.mu.Lock()
	i := slices.IndexFunc(h.vms, func(v vm) bool { return v.Name == name })
	if name == "" && len(h.vms) > 0 {
		i = 0
		for j, v := range h.vms {
			if v.Load > h.vms[i].Load {
				i = j
			}
		}
	}
	if i < 0 {
		h.mu.Unlock()
		return nil, fmt.Errorf("no VM %q on %s", name, h.id())
	}
	v := h.vms[i]
	h.vms = slices.Delete(h.vms, i, i+1)
	h.mu.Unlock()
	target.mu.Lock()
	target.vms = append(target.vms, v)
	target.mu.Unlock()
	return reply("%s migrated from %s to %s", v.Name, h.id(), target.id())
}

func (h *hypervisor) tick(_ time.Time, publish func(string, map[string]string, string)) {
	h.mu.Lock()
	for i := range h.vms {
		v := &h.vms[i]
		v.Load = math.Round(math.Min(60, math.Max(1, v.Load+h.rng.NormFloat64()*2+0.05*(12-v.Load)))*10) / 10
	}
	load, n := h.loadLocked(), len(h.vms)
	h.mu.Unlock()
	publish(fmt.Sprintf("vm.%s.hv%d", h.rack, h.n), map[string]string{"unit": "%", "vms": strconv.Itoa(n)}, fmt.Sprintf("%.0f", load))
}
