// Package scenario defines the bench's scenarios and runs one of them
// against one broker: start the broker, connect the load clients, warm
// up, measure a bounded window, tear everything down.
package scenario

import (
	"fmt"
	"strings"
)

// Kind is what a scenario measures.
type Kind int

// Scenario kinds.
const (
	Throughput Kind = iota // publishers as fast as the window allows
	Latency                // one publisher paced at a fixed rate
	Idle                   // many connected clients doing nothing
)

// Routing is how publishers' subjects map onto subscribers.
type Routing int

// Routings.
const (
	Shared   Routing = iota // every subscriber subscribes to the one subject
	Distinct                // subscriber i subscribes to its own subject; publishers cycle through them
	Patterns                // each subscriber holds PatternsPerSub wildcard patterns; publishers cycle through subjects matching one each
)

// Scenario is one workload.
type Scenario struct {
	Name           string
	Title          string
	Kind           Kind
	Publishers     int
	Subscribers    int
	Payload        int // bytes, at least 8 (the send timestamp)
	Routing        Routing
	PatternsPerSub int
	Rate           int // Latency: messages per second
	Clients        int // Idle: connected clients
}

// Fanout is how many deliveries one publish makes.
func (s Scenario) Fanout() int {
	if s.Routing == Shared {
		return s.Subscribers
	}
	return 1
}

// All returns every scenario, in the order they run. idleClients sets the
// size of the idle scenario.
func All(idleClients int) []Scenario {
	const small = 64
	return []Scenario{
		{Name: "1to1", Title: "1 publisher → 1 subscriber, one subject, 64 B", Publishers: 1, Subscribers: 1, Payload: small},
		{Name: "1to1-1KiB", Title: "1 → 1, one subject, 1 KiB payloads", Publishers: 1, Subscribers: 1, Payload: 1 << 10},
		{Name: "1to1-64KiB", Title: "1 → 1, one subject, 64 KiB payloads", Publishers: 1, Subscribers: 1, Payload: 64 << 10},
		{Name: "1to10", Title: "1 publisher → 10 subscribers of one subject (fan-out), 64 B", Publishers: 1, Subscribers: 10, Payload: small},
		{Name: "10to10", Title: "10 publishers → 10 subscribers of one subject, 64 B", Publishers: 10, Subscribers: 10, Payload: small},
		{Name: "100distinct", Title: "1 publisher → 100 subscribers with distinct subjects (round robin), 64 B", Publishers: 1, Subscribers: 100, Payload: small, Routing: Distinct},
		{Name: "10kpatterns", Title: "1 publisher → 10 subscribers holding 1000 wildcard patterns each (10k distinct), 64 B", Publishers: 1, Subscribers: 10, Payload: small, Routing: Patterns, PatternsPerSub: 1000},
		{Name: "latency", Title: "1 → 1 paced at 10k msgs/s, 64 B: latency percentiles", Kind: Latency, Publishers: 1, Subscribers: 1, Payload: small, Rate: 10_000},
		{Name: "idle", Title: fmt.Sprintf("%d idle connected clients, one subscription each: broker memory per client", idleClients), Kind: Idle, Clients: idleClients},
	}
}

// Select returns the scenarios named in list (comma-separated; "" or
// "all" for every one).
func Select(all []Scenario, list string) ([]Scenario, error) {
	if list == "" || list == "all" {
		return all, nil
	}
	var out []Scenario
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range all {
			if s.Name == name {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			var names []string
			for _, s := range all {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}
