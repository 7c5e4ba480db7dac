package federation

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/zmtp"
)

// keyShare makes CURVE key states and identifier bindings cluster-wide
// (docs/architecture.md, "Security across the federation"): two JetStream
// key-value buckets, <prefix>_keys (hex key → the state an operator set)
// and <prefix>_bindings (identifier, encoded as in the registry → the key
// it is bound to). Every local change is written there; every broker
// watches both and applies the others' changes to its own tables
// (broker.ApplyKeyState, broker.ApplyBinding), which stay its local
// durable copy. The first claim of an identifier is a Create
// (compare-and-set: the first broker to write wins; the loser's session
// is refused not-authorized); an operator's binding is a Put (it moves
// the identifier); a revoked or rejected key's bindings are deleted.
type keyShare struct {
	n            *Node
	keys, binds  jetstream.KeyValue
	wKeys, wBind jetstream.KeyWatcher
	queue        chan func(context.Context) // local changes, written by one goroutine
	stop         chan struct{}
	once         sync.Once
	done         sync.WaitGroup

	stats struct{ written, applied, conflicts, errors, local atomic.Uint64 }
}

// keyValue is a key state as stored (JSON).
type keyValue struct {
	State   string `json:"s"`
	Changed int64  `json:"t"` // unix ms
	By      string `json:"b"` // the broker's name
}

// bindValue is a binding as stored (JSON).
type bindValue struct {
	Key string `json:"k"` // Z85
	By  string `json:"b"`
}

const (
	bindTimeout = 2 * time.Second // FirstBind's wait for the bucket
	shareQueue  = 1024            // local changes waiting to be written
)

func keysBucket(prefix string) string  { return strings.ReplaceAll(prefix, ".", "_") + "_keys" }
func bindsBucket(prefix string) string { return strings.ReplaceAll(prefix, ".", "_") + "_bindings" }

// useKeyShare starts sharing when the broker enforces keys or bindings
// and JetStream is available; otherwise each broker keeps its own, as
// without a federation (logged as a warning).
func (n *Node) useKeyShare(ctx context.Context) {
	if !n.b.KeysShared() {
		return
	}
	ks, err := startKeyShare(ctx, n)
	if err != nil {
		n.log.Warn("key states and identifier bindings NOT shared across brokers (JetStream unavailable): each broker enforces its own", "err", err)
		return
	}
	n.keys = ks
	n.log.Info("key states and identifier bindings shared", "keys", keysBucket(n.o.Prefix), "bindings", bindsBucket(n.o.Prefix))
}

// openBucket creates or opens a history-1 bucket with the registry's
// replicas (fewer when the NATS cluster has fewer JetStream servers).
func openBucket(ctx context.Context, n *Node, js jetstream.JetStream, name, what string) (jetstream.KeyValue, error) {
	return openReplicated(ctx, n, js, jetstream.KeyValueConfig{Bucket: name, Description: "zccp federation: " + what,
		History: 1, Replicas: n.o.RegistryReplicas, Storage: jetstream.FileStorage})
}

// startKeyShare opens both buckets, reconciles them with the broker's
// tables and starts the watch and the writer.
func startKeyShare(ctx context.Context, n *Node) (*keyShare, error) {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return nil, err
	}
	ks := &keyShare{n: n, queue: make(chan func(context.Context), shareQueue), stop: make(chan struct{})}
	if ks.keys, err = openBucket(ctx, n, js, keysBucket(n.o.Prefix), "CURVE key states"); err != nil {
		return nil, err
	}
	if ks.binds, err = openBucket(ctx, n, js, bindsBucket(n.o.Prefix), "identifier -> CURVE key"); err != nil {
		return nil, err
	}
	local, localBinds := n.b.SharedSecurity()
	inKeys, err := ks.load(ctx, ks.keys, &ks.wKeys)
	if err == nil {
		var inBinds map[string]jetstream.KeyValueEntry
		if inBinds, err = ks.load(ctx, ks.binds, &ks.wBind); err == nil {
			ks.reconcile(ctx, local, inKeys, localBinds, inBinds)
		}
	}
	if err != nil {
		ks.stopWatchers()
		return nil, err
	}
	ks.done.Add(2)
	go ks.watch()
	go ks.write()
	return ks, nil
}

// load starts a watch of kv and returns its current entries (keyed as
// in the bucket).
func (ks *keyShare) load(ctx context.Context, kv jetstream.KeyValue, w *jetstream.KeyWatcher) (map[string]jetstream.KeyValueEntry, error) {
	var err error
	if *w, err = kv.WatchAll(context.Background()); err != nil {
		return nil, err
	}
	got := map[string]jetstream.KeyValueEntry{}
	for {
		select {
		case e := <-(*w).Updates():
			if e == nil {
				return got, nil
			}
			got[e.Key()] = e
		case <-ctx.Done():
			return nil, fmt.Errorf("loading %s: %w", kv.Bucket(), ctx.Err())
		}
	}
}

// reconcile merges the buckets and the broker's tables when the broker
// joins: a key state is the most recently changed of the two; a binding
// in the bucket wins over a local one; what only this broker had is
// written (Create: a broker joining at the same time may win).
func (ks *keyShare) reconcile(ctx context.Context, local map[zmtp.CurveKey]broker.KeyRecord, in map[string]jetstream.KeyValueEntry,
	localBinds map[string]zmtp.CurveKey, inBinds map[string]jetstream.KeyValueEntry) {
	for key, rec := range local {
		k := hex.EncodeToString(key[:])
		if e, ok := in[k]; !ok || ks.newer(rec, e) {
			ks.putKey(ctx, key, rec, !ok)
			delete(in, k) // this broker's state stands
		}
	}
	for _, e := range in {
		ks.applyKey(e)
	}
	for ident, key := range localBinds {
		if _, ok := inBinds[identKey(ident)]; !ok {
			ks.createBind(ctx, ident, key)
		}
	}
	for _, e := range inBinds {
		ks.applyBind(e)
	}
}

// newer reports whether the local record changed after the bucket's.
func (ks *keyShare) newer(rec broker.KeyRecord, e jetstream.KeyValueEntry) bool {
	var v keyValue
	if json.Unmarshal(e.Value(), &v) != nil {
		return true
	}
	return rec.State != v.State && rec.Changed.UnixMilli() > v.Changed
}

func (ks *keyShare) stopWatchers() {
	for _, w := range []jetstream.KeyWatcher{ks.wKeys, ks.wBind} {
		if w != nil {
			w.Stop()
		}
	}
}

// close stops the watch and the writer (what is queued is dropped).
func (ks *keyShare) close() {
	ks.once.Do(func() {
		close(ks.stop)
		ks.stopWatchers()
		ks.done.Wait()
	})
}

// watch applies the other brokers' changes as they come (this broker's
// own come back too and change nothing).
func (ks *keyShare) watch() {
	defer ks.done.Done()
	for {
		select {
		case <-ks.stop:
			return
		case e, ok := <-ks.wKeys.Updates():
			if !ok {
				return
			}
			if e != nil {
				ks.applyKey(e)
			}
		case e, ok := <-ks.wBind.Updates():
			if !ok {
				return
			}
			if e != nil {
				ks.applyBind(e)
			}
		}
	}
}

// applyKey applies one entry of the keys bucket.
func (ks *keyShare) applyKey(e jetstream.KeyValueEntry) {
	raw, err := hex.DecodeString(e.Key())
	var v keyValue
	if e.Operation() != jetstream.KeyValuePut {
		return // keys are never deleted, only moved to rejected or revoked
	}
	if err != nil || len(raw) != zmtp.CurveKeySize || json.Unmarshal(e.Value(), &v) != nil {
		ks.n.stats.bad.Add(1)
		return
	}
	if ks.n.b.ApplyKeyState(zmtp.CurveKey(raw), v.State, time.UnixMilli(v.Changed).UTC()) {
		ks.stats.applied.Add(1)
	}
}

// applyBind applies one entry of the bindings bucket.
func (ks *keyShare) applyBind(e jetstream.KeyValueEntry) {
	ident, ok := keyIdent(e.Key())
	if !ok {
		return
	}
	var owner zmtp.CurveKey
	if e.Operation() == jetstream.KeyValuePut {
		var v bindValue
		k, err := zmtp.CurveKey{}, json.Unmarshal(e.Value(), &v)
		if err == nil {
			k, err = zmtp.ParseCurveKey(v.Key)
		}
		if err != nil {
			ks.n.stats.bad.Add(1)
			return
		}
		owner = k
	}
	if ks.n.b.ApplyBinding(ident, owner) {
		ks.stats.applied.Add(1)
	}
}

// write runs the queued local changes in order.
func (ks *keyShare) write() {
	defer ks.done.Done()
	for {
		select {
		case <-ks.stop:
			return
		case f := <-ks.queue:
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			f(ctx)
			cancel()
		}
	}
}

// enqueue queues a local change; a full queue loses it (logged).
func (ks *keyShare) enqueue(what string, f func(context.Context)) {
	select {
	case ks.queue <- f:
	default:
		ks.failed(what, errors.New("write queue full"))
	}
}

func (ks *keyShare) failed(what string, err error) {
	ks.stats.errors.Add(1)
	ks.n.log.Error("key state or binding not shared with the federation", "what", what, "err", err)
}

// putKey writes a key state (create: only if absent).
func (ks *keyShare) putKey(ctx context.Context, key zmtp.CurveKey, rec broker.KeyRecord, create bool) {
	val, _ := json.Marshal(keyValue{State: rec.State, Changed: rec.Changed.UnixMilli(), By: ks.n.o.Name})
	k := hex.EncodeToString(key[:])
	var err error
	if create {
		_, err = ks.keys.Create(ctx, k, val)
	} else {
		_, err = ks.keys.Put(ctx, k, val)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists): // written elsewhere meanwhile: the watch applies it
	case err != nil:
		ks.failed("key "+rec.Key, err)
	default:
		ks.stats.written.Add(1)
	}
}

// createBind writes ident → key unless the bucket has a binding for
// ident to a key that is not revoked or rejected; it returns the key the
// bucket binds ident to.
func (ks *keyShare) createBind(ctx context.Context, ident string, key zmtp.CurveKey) zmtp.CurveKey {
	val, _ := json.Marshal(bindValue{Key: key.String(), By: ks.n.o.Name})
	_, err := ks.binds.Create(ctx, identKey(ident), val)
	for try := 0; try < 3 && errors.Is(err, jetstream.ErrKeyExists); try++ {
		var e jetstream.KeyValueEntry
		if e, err = ks.binds.Get(ctx, identKey(ident)); err != nil {
			break
		}
		owner, ok := ks.bound(e)
		if ok && owner == key {
			return key
		}
		if st := ks.n.b.KeyStateOf(owner); ok && st != broker.KeyRevoked && st != broker.KeyRejected {
			ks.stats.conflicts.Add(1)
			return owner
		}
		// Bound to a key revoked or rejected whose release is not written
		// yet (or unreadable): void; replace it if it is still that one.
		_, err = ks.binds.Update(ctx, identKey(ident), val, e.Revision())
	}
	if err == nil {
		ks.stats.written.Add(1)
		return key
	}
	ks.stats.local.Add(1)
	ks.failed("first binding of "+ident, err)
	return key
}

// bound parses a bindings entry.
func (ks *keyShare) bound(e jetstream.KeyValueEntry) (zmtp.CurveKey, bool) {
	var v bindValue
	if json.Unmarshal(e.Value(), &v) != nil {
		return zmtp.CurveKey{}, false
	}
	k, err := zmtp.ParseCurveKey(v.Key)
	return k, err == nil
}

// KeyState implements broker.KeyFederation.
func (n *Node) KeyState(key zmtp.CurveKey, rec broker.KeyRecord) {
	if ks := n.keys; ks != nil {
		ks.enqueue("key "+rec.Key, func(ctx context.Context) { ks.putKey(ctx, key, rec, false) })
	}
}

// FirstBind implements broker.KeyFederation.
func (n *Node) FirstBind(ident string, key zmtp.CurveKey) zmtp.CurveKey {
	ks := n.keys
	if ks == nil {
		return key
	}
	ctx, cancel := context.WithTimeout(context.Background(), bindTimeout)
	defer cancel()
	return ks.createBind(ctx, ident, key)
}

// Bind implements broker.KeyFederation.
func (n *Node) Bind(ident string, key zmtp.CurveKey) {
	ks := n.keys
	if ks == nil {
		return
	}
	val, _ := json.Marshal(bindValue{Key: key.String(), By: n.o.Name})
	ks.enqueue("binding of "+ident, func(ctx context.Context) {
		if _, err := ks.binds.Put(ctx, identKey(ident), val); err != nil {
			ks.failed("binding of "+ident, err)
			return
		}
		ks.stats.written.Add(1)
	})
}

// Unbind implements broker.KeyFederation: each binding is deleted only
// if it still names key (compare-and-set on the revision read).
func (n *Node) Unbind(key zmtp.CurveKey, idents []string) {
	ks := n.keys
	if ks == nil {
		return
	}
	ks.enqueue("release of "+key.String(), func(ctx context.Context) {
		for _, ident := range idents {
			e, err := ks.binds.Get(ctx, identKey(ident))
			var v bindValue
			if err != nil || json.Unmarshal(e.Value(), &v) != nil || v.Key != key.String() {
				continue // gone, or bound to another key since
			}
			if err := ks.binds.Delete(ctx, identKey(ident), jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
				ks.failed("release of "+ident, err)
			}
		}
	})
}

// KeyShareStats are the counters of key and binding sharing.
type KeyShareStats struct {
	On        bool   // the buckets are in use
	Written   uint64 // local changes written to the buckets
	Applied   uint64 // other brokers' changes that changed a local table
	Conflicts uint64 // first claims lost to another broker's binding
	Local     uint64 // first claims the bucket could not take: bound on this broker only
	Errors    uint64 // writes that failed
}

// KeyShare returns the counters of key and binding sharing.
func (n *Node) KeyShare() KeyShareStats {
	ks := n.keys
	if ks == nil {
		return KeyShareStats{}
	}
	return KeyShareStats{On: true, Written: ks.stats.written.Load(), Applied: ks.stats.applied.Load(),
		Conflicts: ks.stats.conflicts.Load(), Local: ks.stats.local.Load(), Errors: ks.stats.errors.Load()}
}
