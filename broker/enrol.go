package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/policy"
	"github.com/zccp-go/zccp/zmtp"
)

// Enrolment of CURVE client keys, the way salt-key does it: a key the
// broker has not seen completes the handshake, is recorded as pending
// (identifier, remote address, first and last seen) and is refused a
// session with a not-authorized notice until an operator accepts it. A
// rejected or revoked key is refused in the handshake (ERROR 400);
// revoking a key ends its live connections at once and frees the
// identifiers bound to it (keybind.go). Operators use the
// broker API methods keys.list and keys.accept|reject|revoke|show (zccp
// keys), allowed to admin keys and to NULL sessions on ipc (local users,
// restricted with zccpd --ipc-allow-uid).

// Key states.
const (
	KeyPending  = "pending"
	KeyAccepted = "accepted"
	KeyRejected = "rejected"
	KeyRevoked  = "revoked"
)

// Broker API methods of enrolment; the key or the state they concern is
// given in zccp-select as key=KEY or state=STATE.
const (
	MethodKeysList   = "keys.list"
	MethodKeysShow   = "keys.show"
	MethodKeysAccept = "keys.accept"
	MethodKeysReject = "keys.reject"
	MethodKeysRevoke = "keys.revoke"
)

// maxPendingKeys bounds the pending records, which anyone able to reach a
// CURVE endpoint can create with fresh keys; beyond it unknown keys are
// refused in the handshake until the operator clears some.
const maxPendingKeys = 10000

// KeyRecord is one client key as the operator sees it; keys.list answers
// one JSON record per content frame and the store keeps the same JSON.
type KeyRecord struct {
	Key        string    `json:"key"` // Z85
	State      string    `json:"state"`
	Identifier string    `json:"identifier,omitempty"` // the last identifier it asked for
	Remote     string    `json:"remote,omitempty"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Changed    time.Time `json:"changed"`
	Owns       []string  `json:"owns,omitempty"` // identifiers bound to the key (answers only, not stored)
}

// bucketKeys is the store bucket of key records (store.BucketKeys).
const bucketKeys = "keys"

// enrolment holds the key records. Its lock is a leaf.
type enrolment struct {
	mu      sync.Mutex
	keys    map[zmtp.CurveKey]*KeyRecord
	pending int
	store   BindingStore
	auto    bool
	admins  map[zmtp.CurveKey]bool
}

// EnableEnrolment turns enrolment on: records are kept in st (nil: in
// memory), autoAccept accepts every new key (labs), admins may use the
// keys methods. Call it before serving any endpoint.
func (b *Broker) EnableEnrolment(st BindingStore, autoAccept bool, admins []zmtp.CurveKey) error {
	en := &enrolment{keys: map[zmtp.CurveKey]*KeyRecord{}, store: st, auto: autoAccept, admins: map[zmtp.CurveKey]bool{}}
	for _, k := range admins {
		en.admins[k] = true
	}
	if st != nil {
		err := st.ForEach(bucketKeys, func(k, v []byte) error {
			var r KeyRecord
			if len(k) != zmtp.CurveKeySize || json.Unmarshal(v, &r) != nil {
				return fmt.Errorf("bad key record %x", k)
			}
			en.keys[zmtp.CurveKey(k)] = &r
			if r.State == KeyPending {
				en.pending++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("broker: loading key records: %w", err)
		}
	}
	b.enrol = en
	b.log.Info("CURVE key enrolment on", "keys", len(en.keys), "pending", en.pending, "auto_accept", autoAccept, "admins", len(admins))
	return nil
}

// AuthorizeKey is a zmtp.CurveServer Authorize hook for enrolment: it
// refuses rejected and revoked keys and records unknown ones.
func (b *Broker) AuthorizeKey(_ context.Context, p zmtp.CurvePeer) error {
	en := b.enrol
	if en == nil {
		return nil
	}
	en.mu.Lock()
	r, known := en.keys[p.Key]
	now := time.Now().UTC()
	if !known {
		if en.pending >= maxPendingKeys && !en.auto {
			en.mu.Unlock()
			return fmt.Errorf("%d keys already pending", maxPendingKeys)
		}
		r = &KeyRecord{Key: p.Key.String(), State: KeyPending, FirstSeen: now, Changed: now}
		if en.auto {
			r.State = KeyAccepted
		} else {
			en.pending++
		}
		en.keys[p.Key] = r
	}
	r.LastSeen, r.Remote = now, addrString(p.Remote)
	state, rec := r.State, *r
	en.mu.Unlock()
	if !known {
		b.log.Info("new CURVE client key", "key", rec.Key, "state", state, "remote", rec.Remote)
		en.save(p.Key, rec, b)
		b.auditKey(curveActor(p), p.Key, "", state, "") // audit.go
	}
	if state == KeyRejected || state == KeyRevoked {
		b.auditHandshakeRefused(p, state) // audit.go
		return errors.New("key " + state)
	}
	return nil
}

// save writes a record to the store, if any.
func (en *enrolment) save(k zmtp.CurveKey, r KeyRecord, b *Broker) {
	if en.store == nil {
		return
	}
	v, _ := json.Marshal(r)
	if err := en.store.Put(bucketKeys, k[:], v); err != nil {
		b.log.Error("key record not persisted", "key", r.Key, "err", err)
	}
}

// keyAccepted is hello's check under enrolment: a CURVE session whose key
// is not accepted gets a not-authorized notice naming its state.
func (p *peer) keyAccepted(ident string) bool {
	en := p.b.enrol
	key := p.fx.peerKey()
	if en == nil || key.IsZero() {
		return true
	}
	en.mu.Lock()
	r := en.keys[key]
	state := KeyPending
	if r != nil {
		r.Identifier, state = ident, r.State
	}
	en.mu.Unlock()
	if state == KeyAccepted {
		return true
	}
	p.notice(codec.ErrCodeNotAuthorized, "CURVE key "+key.String()+" is "+state+"; an operator must accept it (zccp keys accept)", "HELLO", ident)
	return false
}

// keysAPI answers the keys.* broker API methods; it reports whether the
// method was one of them.
func (p *peer) keysAPI(s *session, e *ext) bool {
	method := string(e.method)
	if !strings.HasPrefix(method, "keys.") {
		return false
	}
	id := string(e.requestID)
	en := p.b.enrol
	switch {
	case en == nil:
		p.reply(requestError(id, codec.NoticeSender, codec.ErrCodeNoSuchMethod, "key enrolment is off (zccpd --enrol)"))
	case !p.isKeyAdmin(en):
		p.auditMethodRefused(s, e, codec.ErrCodeNotAuthorized, "not an admin") // audit.go
		p.reply(requestError(id, codec.NoticeSender, codec.ErrCodeNotAuthorized, "the keys methods need an admin key (zccpd --admin-keys) or a local ipc session"))
	default:
		lines, err := p.b.keysCall(method, string(e.sel), p.actor(s, ""))
		if err != nil {
			p.reply(requestError(id, codec.NoticeSender, codec.ErrCodeBadRequest, err.Error()))
			return true
		}
		p.reply(brokerDeliver(s.ident, codec.Headers{codec.HdrReplyTo: id, codec.HdrStatus: codec.StatusOK}, lines, ""))
	}
	return true
}

// isKeyAdmin: who may use keys.* and audit: an admin key over CURVE (none
// without enrolment, en nil), or NULL over a unix socket (local users,
// restricted with zccpd --ipc-allow-uid).
func (p *peer) isKeyAdmin(en *enrolment) bool {
	if key := p.fx.peerKey(); !key.IsZero() {
		return en != nil && en.admins[key]
	}
	_, local := p.fx.remote().(*net.UnixAddr)
	return local
}

// keySelector parses "k=v,k2=v2" (a Z85 key may itself contain '='): of
// a repeated k the last one counts, except ident, every one of which is
// returned in idents.
func keySelector(sel string) (m map[string]string, idents []string) {
	m = map[string]string{}
	for _, kv := range strings.Split(sel, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			m[k] = v
			if k == "ident" {
				idents = append(idents, v)
			}
		}
	}
	return m, idents
}

// keysCall runs one keys.* method for the operator by and returns the
// records it answers with, one JSON line each.
func (b *Broker) keysCall(method, rawSel string, by audit.Actor) ([][]byte, error) {
	sel, idents := keySelector(rawSel)
	if method == MethodKeysList {
		return b.keyLines(sel["state"]), nil
	}
	key, err := zmtp.ParseCurveKey(sel["key"])
	if err != nil {
		return nil, fmt.Errorf("%s needs zccp-select key=KEY: %w", method, err)
	}
	state := map[string]string{MethodKeysAccept: KeyAccepted, MethodKeysReject: KeyRejected, MethodKeysRevoke: KeyRevoked}[method]
	if state == "" && method != MethodKeysShow {
		return nil, fmt.Errorf("no method %q (keys.list, keys.show, keys.accept, keys.reject, keys.revoke)", method)
	}
	var pats []policy.Pattern
	if method == MethodKeysAccept && len(idents) > 0 {
		if b.keys == nil {
			return nil, errNoBinding
		}
		if pats, err = parseBindings(idents); err != nil {
			return nil, err
		}
	}
	rec, err := b.setKeyState(key, state, by)
	if err != nil {
		return nil, err
	}
	if method == MethodKeysAccept {
		b.bindAtAccept(key, pats, rec.Identifier, by)
	}
	rec.Owns = b.keys.owned(key)
	line, _ := json.Marshal(rec)
	return [][]byte{line}, nil
}

// bindAtAccept sets the identifiers key may use: pats, taken from any key
// that held them; without pats, the identifier the key asked for while
// pending (asked), if no binding covers it and the key has none.
func (b *Broker) bindAtAccept(key zmtp.CurveKey, pats []policy.Pattern, asked string, by audit.Actor) {
	kb := b.keys
	switch {
	case kb == nil:
		return
	case len(pats) == 0:
		if asked != "" {
			if ok, created, _, _ := kb.claim(asked, key, true); ok && created {
				if ok, _, _ = b.clusterFirstBind(asked, key); !ok { // federation_keys.go
					return
				}
				kb.persistClaim(asked, key, b)
				b.auditKey(by, key, asked, auditBound, "") // audit.go
			}
		}
		return
	}
	prev, dropped := kb.setBindings(key, pats)
	b.shareBindings(key, pats, dropped) // federation_keys.go
	for i, p := range pats {
		b.log.Warn("identifier bound to CURVE key by an operator", "identifier", p.String(), "key", key.String(), "previous", keyString(prev[i]))
		b.auditKey(by, key, p.String(), auditBound, keyFrom(prev[i])) // audit.go
	}
	for _, d := range dropped {
		b.auditKey(by, key, d, auditReleased, "")
	}
}

// keyLines lists the records (of one state, if given), oldest first.
func (b *Broker) keyLines(state string) [][]byte {
	en := b.enrol
	en.mu.Lock()
	recs := make([]KeyRecord, 0, len(en.keys))
	for _, r := range en.keys {
		if state == "" || r.State == state {
			recs = append(recs, *r)
		}
	}
	en.mu.Unlock()
	slices.SortFunc(recs, func(a, b KeyRecord) int { return a.FirstSeen.Compare(b.FirstSeen) })
	var lines [][]byte
	for _, r := range recs {
		if k, err := zmtp.ParseCurveKey(r.Key); err == nil {
			r.Owns = b.keys.owned(k)
		}
		line, _ := json.Marshal(r)
		lines = append(lines, line)
	}
	return lines
}

// setKeyState moves key to state ("" only shows it) and returns its
// record. Revoking, rejecting or accepting closes the key's live
// connections: a revoked key loses its sessions at once, an accepted one
// reconnects and says HELLO again.
func (b *Broker) setKeyState(key zmtp.CurveKey, state string, by audit.Actor) (KeyRecord, error) {
	en := b.enrol
	en.mu.Lock()
	r := en.keys[key]
	now := time.Now().UTC()
	switch {
	case r == nil && state == "":
		en.mu.Unlock()
		return KeyRecord{}, fmt.Errorf("key %s is unknown", key)
	case r == nil:
		r = &KeyRecord{Key: key.String(), FirstSeen: now}
		en.keys[key] = r
	}
	changed, from := state != "" && r.State != state, r.State
	if changed {
		if r.State == KeyPending {
			en.pending--
		}
		r.State, r.Changed = state, now
	}
	rec := *r
	en.mu.Unlock()
	if changed {
		en.save(key, rec, b)
		why := ""
		if state == KeyRevoked || state == KeyRejected {
			why = "CURVE key " + rec.Key + " was " + state + " by an operator; this connection is closed"
		}
		n := b.closeKey(key, why)
		var released []string
		if kb := b.keys; kb != nil && (state == KeyRevoked || state == KeyRejected) {
			released = kb.release(key) // the identifiers it held are free for the next key
		}
		b.log.Warn("CURVE key state changed", "key", rec.Key, "state", state, "connections_closed", n, "identifiers_released", released)
		b.auditKeyState(by, key, state, from, released) // audit.go
		b.shareKeyState(key, rec, released)             // federation_keys.go
	}
	return rec, nil
}

// closeKey ends every connection that proved key and returns how many.
// Unless why is empty, each is first sent a not-authorized notice saying
// so; the connections then close once what is queued is written (at most
// a second later).
func (b *Broker) closeKey(key zmtp.CurveKey, why string) int {
	b.mu.RLock()
	var conns []*zmtp.Conn
	for p := range b.peers {
		if p.conn.PeerKey() == key {
			conns = append(conns, p.conn)
		}
	}
	b.mu.RUnlock()
	var notice [][]byte
	if why != "" {
		m := noticeMessage(codec.ErrCodeNotAuthorized, why, "", "")
		notice, _ = m.Frames()
	}
	for _, c := range conns {
		if notice != nil {
			c.Send(notice...) // a full queue just means no notice
		}
		go c.CloseGracefully(time.Second)
	}
	return len(conns)
}
