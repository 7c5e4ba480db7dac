package federation

import (
	"slices"
	"strings"
	"sync"
)

// Same policy everywhere: every broker of a federation loads its own
// permission policy file (zccpd --policy; the operators distribute the
// same file to all of them). Each advert carries a digest of the policy
// in force (the first 16 hex digits of the file's SHA-256, "none" without
// a policy), so a broker whose file differs, or that has not reloaded it
// yet, is seen by every other: logged once per change, and listed by
// PolicyMismatches.

// policyCheck holds the digests the other brokers advertise.
type policyCheck struct {
	mu     sync.Mutex
	of     map[string]string // remote broker id → the digest it advertised last; guarded by mu
	warned map[string]string // remote broker id → the digest pair last logged; guarded by mu
	events uint64            // mismatches logged; guarded by mu
}

// noPolicy is the digest of a broker without a policy.
const noPolicy = "none"

// policyDigest is the digest this broker advertises.
func (n *Node) policyDigest() string {
	p := n.b.Policy()
	if p == nil {
		return noPolicy
	}
	return p.Digest[:min(16, len(p.Digest))]
}

// checkPolicy records the digest remote id advertised and logs a
// mismatch with this broker's when it is new. An advert without one (an
// older broker) is ignored.
func (n *Node) checkPolicy(id, name, digest string) {
	if digest == "" {
		return
	}
	mine := n.policyDigest()
	pc := &n.pol
	pc.mu.Lock()
	if pc.of == nil {
		pc.of, pc.warned = map[string]string{}, map[string]string{}
	}
	pc.of[id] = digest
	pair := mine + "/" + digest
	report := digest != mine && pc.warned[id] != pair
	if report {
		pc.events++
	}
	if digest == mine {
		delete(pc.warned, id)
	} else {
		pc.warned[id] = pair
	}
	pc.mu.Unlock()
	if report {
		n.log.Warn("permission policy differs from another broker's: the federation does not enforce one policy",
			"broker", id, "broker_name", name, "broker_policy", digest, "policy", mine)
	}
}

// PolicyMismatch is a live broker whose policy digest differs from this
// one's.
type PolicyMismatch struct {
	ID, Name, Digest string
}

// PolicyMismatches lists the live brokers whose advertised policy digest
// differs from this broker's, by name, and how many mismatches have been
// logged since the start.
func (n *Node) PolicyMismatches() (now []PolicyMismatch, logged uint64) {
	mine := n.policyDigest()
	n.mu.Lock()
	names := make(map[string]string, len(n.remotes))
	for id, r := range n.remotes {
		names[id] = r.name
	}
	n.mu.Unlock()
	pc := &n.pol
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for id, d := range pc.of {
		name, live := names[id]
		if !live {
			delete(pc.of, id)
			delete(pc.warned, id)
			continue
		}
		if d != mine {
			now = append(now, PolicyMismatch{ID: id, Name: name, Digest: d})
		}
	}
	slices.SortFunc(now, func(a, b PolicyMismatch) int { return strings.Compare(a.Name, b.Name) })
	return now, pc.events
}
