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

// advertiseChanges sends one delta with what changed in the local
// interest since the last advert, if anything did.
func (n *Node) advertiseChanges() {
	if n.b.InterestGeneration() == n.lastGen {
		return
	}
	exprs, gen := n.b.LocalInterest()
	n.lastGen = gen
	var add, del []string
	now := make(map[string]struct{}, len(exprs))
	for _, e := range exprs {
		now[e] = struct{}{}
		if _, ok := n.advertised[e]; !ok {
			add = append(add, e)
		}
	}
	for e := range n.advertised {
		if _, ok := now[e]; !ok {
			del = append(del, e)
		}
	}
	n.advertised = now
	if len(add) == 0 && len(del) == 0 {
		return
	}
	slices.Sort(del)
	n.seq++
	n.publishAdvert(advert{Kind: kindDelta, Seq: n.seq, Add: add, Del: del})
}

// advertiseFull sends the whole local interest, in as many parts as the
// NATS payload limit needs.
func (n *Node) advertiseFull() {
	exprs, gen := n.b.LocalInterest()
	n.lastGen = gen
	n.advertised = make(map[string]struct{}, len(exprs))
	for _, e := range exprs {
		n.advertised[e] = struct{}{}
	}
	limit := int(n.nc.MaxPayload()) - 1024 // room for the advert's other fields
	parts := splitParts(exprs, max(limit, 4096))
	n.seq++
	for i, p := range parts {
		n.publishAdvert(advert{Kind: kindFull, Seq: n.seq, Part: i, Parts: len(parts), Add: p})
	}
}

func (n *Node) publishAdvert(a advert) {
	a.V, a.ID, a.Name = 1, n.id, n.o.Name
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
		r = &remote{exprs: map[string]struct{}{}}
		n.remotes[a.ID] = r
		n.log.Info("broker joined", "remote", a.ID, "name", a.Name)
		n.wake() // so that it learns this broker's interest now
	}
	r.name, r.seen = a.Name, time.Now()
	switch a.Kind {
	case kindDelta:
		n.apply(a.ID, r, a.Add, a.Del)
	case kindFull:
		n.full(a.ID, r, &a)
	case kindBye:
		n.b.DropRemote(a.ID)
		delete(n.remotes, a.ID)
		n.forget(a.ID)
		n.log.Info("broker left", "remote", a.ID, "name", a.Name)
	}
}

// full collects the parts of a full advert and, at the last one, makes
// the remote's interest exactly that set. Called with n.mu held.
func (n *Node) full(id string, r *remote, a *advert) {
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
		if _, ok := r.exprs[e]; !ok {
			add = append(add, e)
		}
	}
	for e := range r.exprs {
		if _, ok := want[e]; !ok {
			del = append(del, e)
		}
	}
	r.pending = nil
	n.apply(id, r, add, del)
}

// apply changes a remote's interest here and in the broker. Called with
// n.mu held.
func (n *Node) apply(id string, r *remote, add, del []string) {
	if len(add) == 0 && len(del) == 0 {
		if len(r.exprs) == 0 {
			n.b.ChangeRemoteInterest(id, nil, nil) // known, with no interest
		}
		return
	}
	if err := n.b.ChangeRemoteInterest(id, add, del); err != nil {
		n.stats.bad.Add(1)
		n.log.Warn("remote interest partly refused", "remote", id, "err", err)
	}
	for _, e := range del {
		delete(r.exprs, e)
	}
	for _, e := range add {
		r.exprs[e] = struct{}{}
	}
}

// reap withdraws the interest of brokers silent for DeadAfter.
func (n *Node) reap(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, r := range n.remotes {
		if now.Sub(r.seen) > n.o.DeadAfter {
			n.b.DropRemote(id)
			delete(n.remotes, id)
			n.stats.withdrawn.Add(1)
			n.log.Warn("broker presumed dead: interest withdrawn", "remote", id, "name", r.name, "silent", now.Sub(r.seen).Round(time.Millisecond).String())
		}
	}
}

// forget drops the numbering towards a broker that said bye.
func (n *Node) forget(id string) {
	n.outMu.Lock()
	delete(n.out, id)
	n.outMu.Unlock()
}
