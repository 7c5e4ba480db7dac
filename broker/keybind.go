package broker

import (
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// Identifiers bound to CURVE keys. With binding on, the first session
// that says HELLO with an identifier over CURVE binds the identifier to
// its client key (trust on first use, like ssh's known_hosts): from then
// on only a session proving that key may use it, so another key cannot
// take a device's identifier over, and neither can a NULL session.
// Identifiers never claimed over CURVE stay free for anyone, as before.
// With enrolment on, a key is limited to its bindings: exact identifiers
// and patterns set at accept time (keypattern.go), by default the
// identifier it asked for; it claims on first use only while it has none.

// bucketIdentities holds identifier → 32-byte client key in the store.
const bucketIdentities = "identities"

// BindingStore persists identity bindings; *store.Store satisfies it.
type BindingStore interface {
	ForEach(bucket string, fn func(k, v []byte) error) error
	Put(bucket string, key, value []byte) error
	Delete(bucket string, key []byte) error
}

// keyBinding is the identifier → key table. Its lock is a leaf: nothing
// else is locked while it is held (the store write happens outside it).
type keyBinding struct {
	mu     sync.Mutex
	owners map[string]zmtp.CurveKey
	pats   []boundPattern        // bindings by pattern (keypattern.go)
	nbound map[zmtp.CurveKey]int // bindings (exact and patterns) per key
	store  BindingStore          // nil: bindings last as long as the broker
}

// EnableKeyBinding turns identifier binding on, with the bindings kept in
// st (nil: in memory only). Call it before serving any endpoint.
func (b *Broker) EnableKeyBinding(st BindingStore) error {
	kb := &keyBinding{owners: map[string]zmtp.CurveKey{}, nbound: map[zmtp.CurveKey]int{}, store: st}
	if st != nil {
		err := st.ForEach(bucketIdentities, func(k, v []byte) error {
			if len(v) != zmtp.CurveKeySize {
				return fmt.Errorf("identity binding %q: %d-byte key", k, len(v))
			}
			kb.owners[string(k)] = zmtp.CurveKey(v)
			kb.nbound[zmtp.CurveKey(v)]++
			return nil
		})
		if err == nil {
			err = kb.loadPatterns(st)
		}
		if err != nil {
			return fmt.Errorf("broker: loading identity bindings: %w", err)
		}
	}
	b.keys = kb
	b.log.Info("identifiers claimed over CURVE are bound to the claiming key", "bound", len(kb.owners), "patterns", len(kb.pats), "persistent", st != nil)
	return nil
}

// claim binds ident to key if no binding covers it and key may claim it
// (not limited to its bindings, or holding none yet), and reports whether
// key may use ident; when it may not, why says so.
func (kb *keyBinding) claim(ident string, key zmtp.CurveKey, limited bool) (ok, created bool, owner zmtp.CurveKey, why string) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	owner, bound, ambiguous := kb.ownerOf(ident)
	switch {
	case ambiguous:
		return false, false, owner, "is matched equally by the identifier patterns of two CURVE keys (an operator binds it: zccp keys accept KEY --ident ID)"
	case bound && owner != key:
		return false, false, owner, "belongs to another CURVE key"
	case bound || key.IsZero():
		return true, false, owner, ""
	case limited && kb.nbound[key] > 0:
		return false, false, owner, "is not among the identifiers CURVE key " + key.String() + " may use (zccp keys show KEY)"
	}
	kb.owners[ident] = key
	kb.nbound[key]++
	return true, true, key, ""
}

// owned returns the identifiers and patterns bound to key, sorted (none
// when binding is off).
func (kb *keyBinding) owned(key zmtp.CurveKey) []string {
	if kb == nil {
		return nil
	}
	kb.mu.Lock()
	var idents []string
	for ident, owner := range kb.owners {
		if owner == key {
			idents = append(idents, ident)
		}
	}
	for _, bp := range kb.pats {
		if bp.key == key {
			idents = append(idents, bp.pat.String())
		}
	}
	kb.mu.Unlock()
	slices.Sort(idents)
	return idents
}

// release frees every identifier and pattern bound to key (its key was
// revoked or rejected, e.g. a replaced device) and returns them.
func (kb *keyBinding) release(key zmtp.CurveKey) []string {
	kb.mu.Lock()
	idents, pats := kb.releaseLocked(key, nil)
	kb.mu.Unlock()
	kb.deleteStored(idents, pats)
	return append(idents, pats...)
}

// keyMayUse is hello's check: it refuses, with a not-authorized notice,
// an identifier bound to another key (or to a key, for a NULL session).
func (p *peer) keyMayUse(ident string) bool {
	kb := p.b.keys
	if kb == nil || ident == "" {
		return true
	}
	key := p.fx.peerKey()
	ok, created, owner, why := kb.claim(ident, key, p.b.enrol.limits(key))
	if created {
		if ok, created, owner = p.b.clusterFirstBind(ident, key); !ok { // federation_keys.go
			why = "belongs to another CURVE key (bound on another broker)"
		}
	}
	if !ok {
		p.b.log.Warn("HELLO refused: identifier not bound to the session's CURVE key", "identifier", ident,
			"key", keyString(key), "owner", keyString(owner), "reason", why, "remote", addrString(p.fx.remote()))
		p.notice(codec.ErrCodeNotAuthorized, "identifier "+strconv.Quote(ident)+" "+why+"; HELLO refused", "HELLO", ident)
		return false
	}
	if created {
		p.b.log.Info("identifier bound to CURVE key", "identifier", ident, "key", key.String())
		p.b.auditKey(p.actor(nil, ident), key, ident, auditBound, "") // audit.go: first use
		kb.persistClaim(ident, key, p.b)
	}
	return true
}

// persistClaim stores a binding made by claim.
func (kb *keyBinding) persistClaim(ident string, key zmtp.CurveKey, b *Broker) {
	if kb.store != nil {
		if err := kb.store.Put(bucketIdentities, []byte(ident), key[:]); err != nil {
			b.log.Error("identity binding not persisted", "identifier", ident, "err", err)
		}
	}
}

// keyString shows a client's key, or that it has none.
func keyString(k zmtp.CurveKey) string {
	if k.IsZero() {
		return "none (NULL)"
	}
	return k.String()
}

// securityInfo adds what the connection proved about the client to its
// clients record: its CURVE key, and on ipc its process's uid and pid.
func securityInfo(ci *codec.ClientInfo, c *zmtp.Conn) {
	if c == nil { // a peer driven without a connection (the transcripts' mem run)
		return
	}
	if k := c.PeerKey(); !k.IsZero() {
		ci.Key = k.String()
	}
	if cred, ok := c.PeerCred(); ok {
		uid := cred.UID
		ci.UID, ci.PID = &uid, cred.PID
	}
}
