package federation

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// run advertises this broker's interest (changes every Scan, everything
// every Advertise and whenever asked) and withdraws silent brokers.
func (n *Node) run() {
	defer close(n.done)
	scan := time.NewTicker(n.o.Scan)
	defer scan.Stop()
	full := time.NewTicker(n.o.Advertise)
	defer full.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-scan.C:
			n.advertiseChanges()
		case <-full.C:
			n.advertiseFull()
			n.reap(time.Now())
		case <-n.kick:
			n.advertiseFull()
		}
	}
}

// localSet is one set this broker advertises: its distinct expressions
// or its identifiers. Owned by the run goroutine (and Start before it).
type localSet struct {
	name       string
	read       func() ([]string, uint64)
	gen        func() uint64
	advertised map[string]struct{}
	lastGen    uint64
}

// advertiseChanges sends one delta per set with what changed since the
// last advert, if anything did.
func (n *Node) advertiseChanges() {
	for _, ls := range n.sets {
		if ls.gen() == ls.lastGen {
			continue
		}
		items, gen := ls.read()
		ls.lastGen = gen
		var add, del []string
		now := make(map[string]struct{}, len(items))
		for _, e := range items {
			now[e] = struct{}{}
			if _, ok := ls.advertised[e]; !ok {
				add = append(add, e)
			}
		}
		for e := range ls.advertised {
			if _, ok := now[e]; !ok {
				del = append(del, e)
			}
		}
		ls.advertised = now
		if len(add) == 0 && len(del) == 0 {
			continue
		}
		slices.Sort(del)
		n.seq++
		n.publishAdvert(advert{Kind: kindDelta, Set: ls.name, Seq: n.seq, Add: add, Del: del})
	}
}

// advertiseFull sends every set whole, each in as many parts as the NATS
// payload limit needs.
func (n *Node) advertiseFull() {
	limit := int(n.nc.MaxPayload()) - 1024 // room for the advert's other fields
	for _, ls := range n.sets {
		items, gen := ls.read()
		ls.lastGen = gen
		ls.advertised = make(map[string]struct{}, len(items))
		for _, e := range items {
			ls.advertised[e] = struct{}{}
		}
		parts := splitParts(items, max(limit, 4096))
		n.seq++
		for i, p := range parts {
			n.publishAdvert(advert{Kind: kindFull, Set: ls.name, Seq: n.seq, Part: i, Parts: len(parts), Add: p})
		}
	}
}

func (n *Node) publishAdvert(a advert) {
	a.V, a.ID, a.Name, a.Policy = 1, n.id, n.o.Name, n.policyDigest()
	data, err := json.Marshal(a)
	if err != nil {
		return // strings only: cannot fail
	}
	if err := n.nc.Publish(n.subjInterest, data); err != nil {
		n.log.Warn("advert not sent", "kind", a.Kind, "err", err)
		return
	}
	n.stats.adverts.Add(1)
}

// onAdvert applies another broker's advert. NATS calls it from one
// goroutine, in the order each sender published.
func (n *Node) onAdvert(m *nats.Msg) {
	var a advert
	if err := json.Unmarshal(m.Data, &a); err != nil || a.V != 1 || a.ID == "" {
		n.stats.bad.Add(1)
		n.log.Warn("bad advert", "bytes", len(m.Data), "err", err)
		return
	}
	if a.ID == n.id {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.remotes[a.ID]
	if r == nil {
		if a.Kind == kindBye {
			return
		}
		r = &remote{sets: map[string]*remoteSet{}}
		n.remotes[a.ID] = r
		n.log.Info("broker joined", "broker", a.ID, "broker_name", a.Name)
		if n.reg != nil {
			n.reg.brokerUp(a.ID) // registry_cache.go
		}
		n.wake() // so that it learns this broker's interest now
	}
	r.name, r.seen = a.Name, time.Now()
	n.checkPolicy(a.ID, a.Name, a.Policy) // secure_policy.go
	switch a.Kind {
	case kindDelta:
		n.apply(a.ID, r.set(a.Set), a.Set, a.Add, a.Del)
	case kindFull:
		n.full(a.ID, r.set(a.Set), &a)
	case kindBye:
		n.remoteGone(a.ID, r) // presence.go
		n.b.DropRemote(a.ID)
		delete(n.remotes, a.ID)
		n.forget(a.ID)
		n.log.Info("broker left", "broker", a.ID, "broker_name", a.Name)
	}
}

// full collects the parts of a full advert and, at the last one, makes
// the remote's interest exactly that set. Called with n.mu held.
func (n *Node) full(id string, r *remoteSet, a *advert) {
	if a.Part == 0 {
		r.pending, r.pendSeq = r.pending[:0], a.Seq
	} else if a.Seq != r.pendSeq {
		return // a part of an advert whose start was missed
	}
	r.pending = append(r.pending, a.Add...)
	if a.Part != a.Parts-1 {
		return
	}
	want := make(map[string]struct{}, len(r.pending))
	var add, del []string
	for _, e := range r.pending {
		want[e] = struct{}{}
		if _, ok := r.items[e]; !ok {
			add = append(add, e)
		}
	}
	for e := range r.items {
		if _, ok := want[e]; !ok {
			del = append(del, e)
		}
	}
	r.pending = nil
	n.apply(id, r, a.Set, add, del)
}

// apply changes a remote's set here and in the broker. Called with
// n.mu held.
func (n *Node) apply(id string, r *remoteSet, set string, add, del []string) {
	switch {
	case set == setIdents:
		if n.reg == nil { // with the registry, it alone says who holds what
			n.b.ChangeRemoteIdentifiers(id, add, del)
		}
	case set == setSys: // kept here only: presence.go
	case set != setExprs:
		return // a set this version does not know
	case len(add) == 0 && len(del) == 0:
		if len(r.items) == 0 {
			n.b.ChangeRemoteInterest(id, nil, nil) // known, with no interest
		}
		return
	default:
		if err := n.b.ChangeRemoteInterest(id, add, del); err != nil {
			n.stats.bad.Add(1)
			n.log.Warn("remote interest partly refused", "broker", id, "err", err)
		}
	}
	for _, e := range del {
		delete(r.items, e)
	}
	for _, e := range add {
		r.items[e] = struct{}{}
	}
}

// reap withdraws the interest of brokers silent for DeadAfter.
func (n *Node) reap(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, r := range n.remotes {
		if now.Sub(r.seen) > n.o.DeadAfter {
			n.remoteGone(id, r) // presence.go
			n.b.DropRemote(id)
			delete(n.remotes, id)
			n.stats.withdrawn.Add(1)
			n.log.Warn("broker presumed dead: interest withdrawn", "broker", id, "broker_name", r.name, "silent", now.Sub(r.seen).Round(time.Millisecond).String())
		}
	}
}

// forget drops the numbering towards a broker that said bye.
func (n *Node) forget(id string) {
	n.outMu.Lock()
	for _, k := range []outKind{outDeliver, outDirect, outPresence} {
		delete(n.out, outKey{id, k})
	}
	n.outMu.Unlock()
}
