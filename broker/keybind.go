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
	store  BindingStore // nil: bindings last as long as the broker
}

// EnableKeyBinding turns identifier binding on, with the bindings kept in
// st (nil: in memory only). Call it before serving any endpoint.
func (b *Broker) EnableKeyBinding(st BindingStore) error {
	kb := &keyBinding{owners: map[string]zmtp.CurveKey{}, store: st}
	if st != nil {
		err := st.ForEach(bucketIdentities, func(k, v []byte) error {
			if len(v) != zmtp.CurveKeySize {
				return fmt.Errorf("identity binding %q: %d-byte key", k, len(v))
			}
			kb.owners[string(k)] = zmtp.CurveKey(v)
			return nil
		})
		if err != nil {
			return fmt.Errorf("broker: loading identity bindings: %w", err)
		}
	}
	b.keys = kb
	b.log.Info("identifiers claimed over CURVE are bound to the claiming key", "bound", len(kb.owners), "persistent", st != nil)
	return nil
}

// claim binds ident to key if it is free and reports whether key may use
// it, with the owner's key when it may not.
func (kb *keyBinding) claim(ident string, key zmtp.CurveKey) (ok, created bool, owner zmtp.CurveKey) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	owner, bound := kb.owners[ident]
	switch {
	case bound:
		return owner == key, false, owner
	case key.IsZero():
		return true, false, owner
	}
	kb.owners[ident] = key
	return true, true, key
}

// owned returns the identifiers bound to key, sorted (none when binding
// is off).
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
	kb.mu.Unlock()
	slices.Sort(idents)
	return idents
}

// bind gives ident to key, whoever held it, and returns the previous
// owner (zero if none).
func (kb *keyBinding) bind(ident string, key zmtp.CurveKey) zmtp.CurveKey {
	kb.mu.Lock()
	prev := kb.owners[ident]
	kb.owners[ident] = key
	kb.mu.Unlock()
	if kb.store != nil {
		kb.store.Put(bucketIdentities, []byte(ident), key[:])
	}
	return prev
}

// release frees every identifier bound to key (its key was revoked or
// rejected, e.g. a replaced device) and returns them.
func (kb *keyBinding) release(key zmtp.CurveKey) []string {
	kb.mu.Lock()
	var idents []string
	for ident, owner := range kb.owners {
		if owner == key {
			idents = append(idents, ident)
			delete(kb.owners, ident)
		}
	}
	kb.mu.Unlock()
	if kb.store != nil {
		for _, ident := range idents {
			kb.store.Delete(bucketIdentities, []byte(ident))
		}
	}
	return idents
}

// keyMayUse is hello's check: it refuses, with a not-authorized notice,
// an identifier bound to another key (or to a key, for a NULL session).
func (p *peer) keyMayUse(ident string) bool {
	kb := p.b.keys
	if kb == nil || ident == "" {
		return true
	}
	key := p.fx.peerKey()
	ok, created, owner := kb.claim(ident, key)
	if !ok {
		p.b.log.Warn("HELLO refused: identifier bound to another CURVE key", "identifier", ident,
			"key", keyString(key), "owner", owner.String(), "remote", addrString(p.fx.remote()))
		p.notice(codec.ErrCodeNotAuthorized, "identifier "+strconv.Quote(ident)+" belongs to another CURVE key; HELLO refused", "HELLO", ident)
		return false
	}
	if created {
		p.b.log.Info("identifier bound to CURVE key", "identifier", ident, "key", key.String())
		p.b.auditKey(p.actor(nil, ident), key, ident, auditBound, "") // audit.go: first use
		if kb.store != nil {
			if err := kb.store.Put(bucketIdentities, []byte(ident), key[:]); err != nil {
				p.b.log.Error("identity binding not persisted", "identifier", ident, "err", err)
			}
		}
	}
	return true
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
