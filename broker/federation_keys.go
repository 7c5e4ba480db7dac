package broker

import (
	"slices"
	"time"

	"github.com/zccp-go/zccp/policy"
	"github.com/zccp-go/zccp/zmtp"
)

// Key states and identifier bindings across a federation (package
// federation: JetStream key-value buckets <prefix>_keys and
// <prefix>_bindings). Each broker keeps its own tables (and store) as
// before; the federation writes every local change to the buckets and
// applies every other broker's change here (ApplyKeyState,
// ApplyBinding), so that all brokers enforce the same accepted keys and
// the same identifier owners.

// KeyFederation is implemented by a Federation that shares key states and
// identifier bindings.
type KeyFederation interface {
	// KeyState says that an operator on this broker moved key to
	// rec.State (accepted, rejected, revoked). It must not block.
	KeyState(key zmtp.CurveKey, rec KeyRecord)
	// FirstBind asks the cluster to bind ident to key, its first claim
	// on this broker, unless another broker bound it first
	// (compare-and-set). It returns the key the cluster binds ident to:
	// key, or the first binder's key. It waits for the bucket (bounded);
	// when the bucket cannot be reached it returns key (the binding is
	// then this broker's alone, logged).
	FirstBind(ident string, key zmtp.CurveKey) zmtp.CurveKey
	// Bind says that an operator bound ident (an identifier or a
	// pattern) to key, whoever held it. It must not block.
	Bind(ident string, key zmtp.CurveKey)
	// Unbind says that idents (identifiers or patterns), bound to key,
	// were released (key revoked or rejected, or bindings replaced). It
	// must not block.
	Unbind(key zmtp.CurveKey, idents []string)
}

// keyLink returns the federation's key side, or nil.
func (b *Broker) keyLink() KeyFederation {
	f, _ := linkAs[KeyFederation](b)
	return f
}

// shareKeyState hands a local operator's change to the federation.
func (b *Broker) shareKeyState(key zmtp.CurveKey, rec KeyRecord, released []string) {
	f := b.keyLink()
	if f == nil {
		return
	}
	f.KeyState(key, rec)
	if len(released) > 0 {
		f.Unbind(key, released)
	}
}

// shareBindings hands an operator's bindings of key (pats) and the ones
// it gave up (dropped) to the federation.
func (b *Broker) shareBindings(key zmtp.CurveKey, pats []policy.Pattern, dropped []string) {
	f := b.keyLink()
	if f == nil {
		return
	}
	for _, p := range pats {
		f.Bind(p.String(), key)
	}
	if len(dropped) > 0 {
		f.Unbind(key, dropped)
	}
}

// clusterFirstBind is keyMayUse's check of a first local claim of ident
// by key against the federation: it returns claim's results, after
// adopting the owner the cluster has when another broker bound ident
// first.
func (b *Broker) clusterFirstBind(ident string, key zmtp.CurveKey) (ok, created bool, owner zmtp.CurveKey) {
	f := b.keyLink()
	if f == nil {
		return true, true, key
	}
	owner = f.FirstBind(ident, key)
	if owner == key {
		return true, true, key
	}
	b.ApplyBinding(ident, owner)
	return false, false, owner
}

// ApplyBinding makes the binding of text (an identifier, or a pattern as
// zccp keys accept --ident sets it) the one another broker of the
// federation wrote: to owner, or none when owner is zero. Nothing is
// shared back. It reports whether the local table changed.
func (b *Broker) ApplyBinding(text string, owner zmtp.CurveKey) bool {
	kb := b.keys
	if kb == nil {
		return false
	}
	pat, err := policy.CompilePattern(text)
	wild := err == nil && pat.Wild()
	kb.mu.Lock()
	var prev zmtp.CurveKey
	var had bool
	i := -1
	if wild {
		i = slices.IndexFunc(kb.pats, func(bp boundPattern) bool { return bp.pat.String() == text })
		if had = i >= 0; had {
			prev = kb.pats[i].key
		}
	} else {
		prev, had = kb.owners[text]
	}
	if (!had && owner.IsZero()) || (had && prev == owner) {
		kb.mu.Unlock()
		return false
	}
	if had {
		if kb.nbound[prev]--; kb.nbound[prev] <= 0 {
			delete(kb.nbound, prev)
		}
	}
	switch {
	case wild && owner.IsZero():
		kb.pats = slices.Delete(kb.pats, i, i+1)
	case wild && had:
		kb.pats[i].key = owner
	case wild:
		kb.pats = append(kb.pats, boundPattern{pat, owner})
	case owner.IsZero():
		delete(kb.owners, text)
	default:
		kb.owners[text] = owner
	}
	if !owner.IsZero() {
		kb.nbound[owner]++
	}
	kb.mu.Unlock()
	b.storeBinding(kb, text, wild, owner)
	b.log.Info("identifier binding changed by the federation", "identifier", text, "key", keyString(owner), "previous", keyString(prev))
	return true
}

// storeBinding keeps a binding from the federation in the store.
func (b *Broker) storeBinding(kb *keyBinding, text string, wild bool, owner zmtp.CurveKey) {
	if kb.store == nil {
		return
	}
	bucket := bucketIdentities
	if wild {
		bucket = bucketIdentPatterns
	}
	var err error
	if owner.IsZero() {
		err = kb.store.Delete(bucket, []byte(text))
	} else {
		err = kb.store.Put(bucket, []byte(text), owner[:])
	}
	if err != nil {
		b.log.Error("identity binding from the federation not persisted", "identifier", text, "err", err)
	}
}

// ApplyKeyState makes key's state the one an operator set on another
// broker of the federation (at changed): a key accepted there is accepted
// here; a revoked or rejected one loses its connections here too, and the
// identifiers bound to it are released. Nothing is shared back. It
// reports whether the state changed.
func (b *Broker) ApplyKeyState(key zmtp.CurveKey, state string, changed time.Time) bool {
	en := b.enrol
	if en == nil || (state != KeyAccepted && state != KeyRejected && state != KeyRevoked) {
		return false
	}
	en.mu.Lock()
	r := en.keys[key]
	if r == nil {
		r = &KeyRecord{Key: key.String(), FirstSeen: changed}
		en.keys[key] = r
	}
	if r.State == state {
		en.mu.Unlock()
		return false
	}
	if r.State == KeyPending {
		en.pending--
	}
	r.State, r.Changed = state, changed
	rec := *r
	en.mu.Unlock()
	en.save(key, rec, b)
	if state == KeyAccepted {
		b.log.Info("CURVE key accepted by an operator elsewhere in the federation", "key", rec.Key)
		return true
	}
	n := b.closeKey(key, "CURVE key "+rec.Key+" was "+state+" by an operator in the federation; this connection is closed")
	var released []string
	if kb := b.keys; kb != nil {
		released = kb.release(key)
	}
	b.log.Warn("CURVE key state changed by the federation", "key", rec.Key, "state", state, "connections_closed", n, "identifiers_released", released)
	return true
}

// SharedSecurity lists what this broker holds for the federation to
// publish when it joins: the key records an operator decided (not
// pending ones) and the identifier bindings.
func (b *Broker) SharedSecurity() (keys map[zmtp.CurveKey]KeyRecord, bindings map[string]zmtp.CurveKey) {
	keys, bindings = map[zmtp.CurveKey]KeyRecord{}, map[string]zmtp.CurveKey{}
	if en := b.enrol; en != nil {
		en.mu.Lock()
		for k, r := range en.keys {
			if r.State != KeyPending {
				keys[k] = *r
			}
		}
		en.mu.Unlock()
	}
	if kb := b.keys; kb != nil {
		kb.mu.Lock()
		for ident, k := range kb.owners {
			bindings[ident] = k
		}
		for _, bp := range kb.pats {
			bindings[bp.pat.String()] = bp.key
		}
		kb.mu.Unlock()
	}
	return keys, bindings
}

// KeysShared reports whether this broker enforces CURVE key states or
// identifier bindings, which a federation then shares.
func (b *Broker) KeysShared() bool { return b.enrol != nil || b.keys != nil }

// KeyStateOf returns key's state under enrolment ("" when unknown or
// enrolment is off).
func (b *Broker) KeyStateOf(key zmtp.CurveKey) string {
	en := b.enrol
	if en == nil {
		return ""
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	if r := en.keys[key]; r != nil {
		return r.State
	}
	return ""
}
