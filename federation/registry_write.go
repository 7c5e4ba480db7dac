package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Claim implements broker.IdentityFederation: session (HELLO at since)
// now holds ident on this broker. The write happens on the registry's
// own goroutine; Claim never waits for it. It returns the name of the
// other broker that held ident as far as this broker knows (its session
// there is being taken over), or "".
func (n *Node) Claim(ident string, session uint64, since time.Time) string {
	g := n.reg
	if g == nil {
		return ""
	}
	_, name := g.holder(ident)
	g.enqueue(ident, regOp{claim: true, session: session, since: since})
	return name
}

// Release implements broker.IdentityFederation: session no longer holds
// ident (it ended).
func (n *Node) Release(ident string, session uint64) {
	if g := n.reg; g != nil {
		g.enqueue(ident, regOp{session: session})
	}
}

// enqueue records the latest local change of ident. Sessions of one
// identifier are numbered in order, so a change about an older session
// than the one pending is stale: a release of a session the broker
// already replaced, which must not undo the newer claim.
func (g *registry) enqueue(ident string, op regOp) {
	g.qmu.Lock()
	if p, ok := g.pending[ident]; !ok || op.session >= p.session {
		g.pending[ident] = op
	}
	g.qmu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// write writes the local changes to the bucket, one at a time in the
// order of the identifiers' latest changes, and refreshes this broker's
// entries every third of the TTL.
func (g *registry) write() {
	defer g.done.Done()
	refresh := time.NewTicker(max(g.ttl/3, 100*time.Millisecond))
	defer refresh.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-g.wake:
			g.qmu.Lock()
			ops := g.pending
			g.pending = map[string]regOp{}
			g.qmu.Unlock()
			for ident, op := range ops {
				g.writeOp(ident, op)
			}
		case <-refresh.C:
			g.refresh()
		}
	}
}

// opTimeout bounds one write to the bucket.
const opTimeout = 5 * time.Second

// errOffline: a write not tried because NATS is disconnected.
var errOffline = errors.New("identity registry: NATS disconnected")

// writeOp writes one claim (a Put: the newest claim wins) or release (a
// delete on the revision this broker wrote: compare-and-set).
func (g *registry) writeOp(ident string, op regOp) {
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	key := identKey(ident)
	g.mu.Lock()
	m, held := g.mine[ident]
	g.mu.Unlock()
	offline := !g.n.nc.IsConnected()
	if !op.claim {
		if !held || m.session > op.session {
			return
		}
		var err error
		if !offline && m.rev != 0 {
			// Offline, the entry is left to expire (no refresh keeps it);
			// meanwhile a DIRECT routed here is answered no-such-client.
			err = g.kv.Delete(ctx, key, jetstream.LastRevision(m.rev))
		}
		g.mu.Lock()
		if cur, ok := g.mine[ident]; ok && cur == m {
			delete(g.mine, ident)
		}
		g.stats.releases++
		g.mu.Unlock()
		if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			g.failed("release", ident, err)
		}
		return
	}
	if held && m.session > op.session {
		return
	}
	var rev uint64
	err := errOffline // a write would wait for a reconnection: left to the refresh
	if !offline {
		rev, err = g.kv.Put(ctx, key, g.value(op.session, op.since))
	}
	if err != nil {
		// Not written (NATS or JetStream unreachable): kept with revision 0,
		// so that the refresh writes it when it can (reconcile).
		if err != errOffline {
			g.failed("claim", ident, err)
		}
		g.mu.Lock()
		g.mine[ident] = regClaim{session: op.session, since: op.since}
		g.mu.Unlock()
		return
	}
	g.claimed(ident, regClaim{session: op.session, since: op.since, rev: rev})
}

// claimed records a claim written at rev; if the watch has already shown
// a newer claim elsewhere, the local session lost the race at once.
func (g *registry) claimed(ident string, c regClaim) {
	g.mu.Lock()
	g.stats.claims++
	cur, ok := g.cache[ident]
	lost := ok && cur.rev > c.rev && cur.v.Broker != g.n.id
	if !lost {
		g.mine[ident] = c
	} else {
		g.stats.takeovers++
	}
	g.mu.Unlock()
	if lost {
		g.n.takenOver(&takeover{ident: ident, session: c.session, by: cur.v.Name})
	}
}

func (g *registry) value(session uint64, since time.Time) []byte {
	data, _ := json.Marshal(regValue{Broker: g.n.id, Name: g.n.o.Name, Session: session, Since: since.UnixMilli()})
	return data
}

// refresh rewrites this broker's entries before the bucket expires them,
// each on the revision this broker wrote: one a newer claim replaced is
// left alone (the watch ends its session).
func (g *registry) refresh() {
	g.mu.Lock()
	claims := make(map[string]regClaim, len(g.mine))
	for ident, c := range g.mine {
		claims[ident] = c
	}
	g.mu.Unlock()
	for ident, c := range claims {
		if g.ctx.Err() != nil || !g.n.nc.IsConnected() {
			return
		}
		ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
		var rev uint64
		var err error = jetstream.ErrKeyExists // revision 0: never written
		if c.rev != 0 {
			rev, err = g.kv.Update(ctx, identKey(ident), g.value(c.session, c.since), c.rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			rev, err = g.reconcile(ctx, ident, c)
		}
		cancel()
		if err != nil {
			g.failed("refresh", ident, err)
			continue
		}
		if rev == 0 {
			continue // lost to a newer claim: taken over
		}
		g.mu.Lock()
		if cur, ok := g.mine[ident]; ok && cur == c {
			c.rev = rev
			g.mine[ident] = c
		}
		g.stats.refreshes++
		g.mu.Unlock()
	}
}

// reconcile rewrites a claim whose entry is not the one this broker
// wrote: never written (NATS was unreachable at HELLO), expired (this
// broker was cut off past the TTL), or replaced while the two could not
// see each other. An entry held elsewhere is resolved by (since, broker
// id): the later HELLO wins; the earlier session here is taken over
// (revision 0 returned), or the entry is replaced (compare-and-set on its
// revision) and the watch ends the other broker's session.
func (g *registry) reconcile(ctx context.Context, ident string, c regClaim) (uint64, error) {
	g.mu.Lock()
	still := g.mine[ident] == c
	g.mu.Unlock()
	if !still {
		return 0, nil // released or taken over meanwhile
	}
	key, val := identKey(ident), g.value(c.session, c.since)
	e, err := g.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return g.kv.Create(ctx, key, val)
	}
	if err != nil {
		return 0, err
	}
	var v regValue
	if json.Unmarshal(e.Value(), &v) != nil || v.Broker == g.n.id {
		return g.kv.Update(ctx, key, val, e.Revision())
	}
	if v.Since > c.since.UnixMilli() || v.Since == c.since.UnixMilli() && v.Broker > g.n.id {
		g.mu.Lock()
		lost := g.mine[ident] == c
		if lost {
			delete(g.mine, ident)
			g.stats.takeovers++
		}
		g.mu.Unlock()
		if lost {
			g.n.takenOver(&takeover{ident: ident, session: c.session, by: v.Name})
		}
		return 0, nil
	}
	return g.kv.Update(ctx, key, val, e.Revision())
}

// failed counts and logs a write that did not happen (NATS or JetStream
// unreachable): the entry is put right by the next claim or refresh.
func (g *registry) failed(what, ident string, err error) {
	g.mu.Lock()
	g.stats.errors++
	g.mu.Unlock()
	g.n.log.Warn("identity registry write failed", "op", what, "identifier", ident, "err", fmt.Errorf("%w: %w", errRegistry, err))
}

// takenOver ends the local session a newer claim elsewhere took over.
func (n *Node) takenOver(t *takeover) {
	if n.b.TakeOver(t.ident, t.session, t.by) {
		n.log.Info("identifier taken over by a session on another broker", "identifier", t.ident, "session", t.session, "by", t.by)
	}
}

// RegistryStats are the identity registry's counters.
type RegistryStats struct {
	On                                               bool // the registry is in use (JetStream available)
	Entries, Mine                                    int  // identifiers in the cache, and held here
	Claims, Releases, Refreshes, Takeovers, Failures uint64
}

// Registry returns the identity registry's counters.
func (n *Node) Registry() RegistryStats {
	g := n.reg
	if g == nil {
		return RegistryStats{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return RegistryStats{On: true, Entries: len(g.cache), Mine: len(g.mine),
		Claims: g.stats.claims, Releases: g.stats.releases, Refreshes: g.stats.refreshes,
		Takeovers: g.stats.takeovers, Failures: g.stats.errors}
}
