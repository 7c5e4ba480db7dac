package federation

import (
	"context"
	"slices"
	"time"
)

// useRegistry starts the identity registry unless Options.NoRegistry.
// When JetStream is not available (not enabled on the NATS cluster, no
// quorum yet within ctx) the node falls back to advertising identifiers
// like expressions, logged as a warning: DIRECTs across brokers still
// work, but an identifier taken on two brokers is not taken over (each
// broker keeps its session; DIRECTs go to the one advertised last).
func (n *Node) useRegistry(ctx context.Context) {
	if n.o.NoRegistry {
		return
	}
	g, err := startRegistry(ctx, n)
	if err != nil {
		n.log.Warn("identity registry unavailable (JetStream): identifiers advertised instead; no takeover across brokers", "err", err)
		return
	}
	n.reg = g
	// The registry alone says who holds what: identifiers are not advertised.
	n.sets = slices.DeleteFunc(n.sets, func(ls *localSet) bool { return ls.name == setIdents })
	n.log.Info("identity registry in use", "bucket", bucketName(n.o.Prefix), "entries", n.Registry().Entries)
}

// claimExisting claims the identifiers of the sessions that said HELLO
// before the node was linked to the broker (zccpd serves before it joins
// the federation). One that says HELLO meanwhile is claimed twice: the
// queue keeps one.
func (n *Node) claimExisting() {
	if g := n.reg; g != nil {
		n.b.EachIdentity(func(ident string, session uint64, since time.Time) {
			g.enqueue(ident, regOp{claim: true, session: session, since: since})
		})
	}
}
