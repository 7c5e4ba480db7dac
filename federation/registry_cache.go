package federation

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watch applies the bucket's changes to the cache as they come.
func (g *registry) watch() {
	defer g.done.Done()
	sweep := time.NewTicker(max(g.ttl, time.Second))
	defer sweep.Stop()
	for {
		select {
		case <-g.stop:
			return
		case e, ok := <-g.watcher.Updates():
			if !ok {
				return
			}
			if e != nil {
				g.apply(e)
			}
		case now := <-sweep.C:
			g.sweep(now)
		}
	}
}

// takeover is a local session a newer claim elsewhere has taken over.
type takeover struct {
	ident   string
	session uint64
	by      string // the claiming broker's name
}

// apply records one change of the bucket in the cache and the broker,
// and ends the local session a newer claim elsewhere took over.
func (g *registry) apply(e jetstream.KeyValueEntry) {
	ident, ok := keyIdent(e.Key())
	if !ok {
		return
	}
	var v regValue
	put := e.Operation() == jetstream.KeyValuePut
	if put && (json.Unmarshal(e.Value(), &v) != nil || v.Broker == "") {
		g.n.stats.bad.Add(1)
		return
	}
	var to *takeover
	g.mu.Lock()
	old, had := g.cache[ident]
	if had && e.Revision() <= old.rev {
		g.mu.Unlock()
		return // older than what the cache holds (a write's own check may have applied it)
	}
	if had && (!put || old.v.Broker != v.Broker) {
		g.unassignLocked(ident, old.v.Broker)
	}
	if !put {
		delete(g.cache, ident)
	} else {
		g.cache[ident] = regCached{v: v, rev: e.Revision(), at: time.Now()}
		if !had || old.v.Broker != v.Broker {
			g.assignLocked(ident, v.Broker)
		}
	}
	if m, mineHeld := g.mine[ident]; mineHeld && put && v.Broker != g.n.id && e.Revision() > m.rev {
		delete(g.mine, ident)
		g.stats.takeovers++
		to = &takeover{ident: ident, session: m.session, by: v.Name}
	}
	g.mu.Unlock()
	if to != nil {
		g.n.takenOver(to)
	}
}

// assignLocked gives ident to broker in the index and, when that broker
// is another live one, in the broker's table. Called with g.mu held.
func (g *registry) assignLocked(ident, broker string) {
	if broker == g.n.id {
		return
	}
	set := g.byBroker[broker]
	if set == nil {
		set = map[string]struct{}{}
		g.byBroker[broker] = set
	}
	set[ident] = struct{}{}
	if g.live[broker] {
		g.n.b.ChangeRemoteIdentifiers(broker, []string{ident}, nil)
	}
}

// unassignLocked takes ident from broker. Called with g.mu held.
func (g *registry) unassignLocked(ident, broker string) {
	if set := g.byBroker[broker]; set != nil {
		delete(set, ident)
		if len(set) == 0 {
			delete(g.byBroker, broker)
		}
	}
	if broker != g.n.id && g.live[broker] {
		g.n.b.ChangeRemoteIdentifiers(broker, nil, []string{ident})
	}
}

// brokerUp is called when a broker is first heard from (its adverts): the
// identifiers the registry gives it become reachable. Called with n.mu
// held.
func (g *registry) brokerUp(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.live[id] {
		return
	}
	g.live[id] = true
	if set := g.byBroker[id]; len(set) > 0 {
		idents := make([]string, 0, len(set))
		for ident := range set {
			idents = append(idents, ident)
		}
		g.n.b.ChangeRemoteIdentifiers(id, idents, nil)
	}
}

// brokerDown is called when a broker leaves or is presumed dead, before
// the broker drops it: its identifiers are no longer reachable, and they
// are returned (for the leave events). Called with n.mu held.
func (g *registry) brokerDown(id string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.live, id)
	set := g.byBroker[id]
	idents := make([]string, 0, len(set))
	for ident := range set {
		idents = append(idents, ident)
	}
	return idents
}

// heldBy returns the identifiers the registry gives broker id.
func (g *registry) heldBy(id string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	set := g.byBroker[id]
	idents := make([]string, 0, len(set))
	for ident := range set {
		idents = append(idents, ident)
	}
	return idents
}

// holder returns the live broker the registry says holds ident ("" when
// none, or this one).
func (g *registry) holder(ident string) (id, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.cache[ident]
	if !ok || c.v.Broker == g.n.id || !g.live[c.v.Broker] {
		return "", ""
	}
	return c.v.Broker, c.v.Name
}

// sweep forgets entries of brokers not alive that the bucket has expired
// by now (the watch does not report expiry).
func (g *registry) sweep(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for ident, c := range g.cache {
		if !g.live[c.v.Broker] && c.v.Broker != g.n.id && now.Sub(c.at) > g.ttl {
			g.unassignLocked(ident, c.v.Broker)
			delete(g.cache, ident)
		}
	}
}
