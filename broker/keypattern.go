package broker

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zccp-go/zccp/policy"
	"github.com/zccp-go/zccp/zmtp"
)

// Identifier patterns bound to keys (zccp keys accept KEY --ident
// 'rack1.pdu*'), in the policy file's glob language. An identifier is
// owned by the key of its exact binding if it has one, otherwise by the
// key of the most specific pattern matching it (the one with the most
// characters other than wildcards), like a longest-prefix route: so a
// device's own identifier stays its own inside an operator's rack1.**. An
// identifier matched equally by two keys' patterns is refused to both
// (fail closed) until an operator binds it exactly.

// bucketIdentPatterns holds pattern → 32-byte client key in the store
// (exact identifiers stay in bucketIdentities, as before patterns).
const bucketIdentPatterns = "identpatterns"

// maxKeyBindings bounds the identifiers and patterns one accept sets.
const maxKeyBindings = 64

// boundPattern is one pattern and the key that owns what it matches.
type boundPattern struct {
	pat policy.Pattern
	key zmtp.CurveKey
}

// loadPatterns reads the stored pattern bindings.
func (kb *keyBinding) loadPatterns(st BindingStore) error {
	return st.ForEach(bucketIdentPatterns, func(k, v []byte) error {
		p, err := policy.CompilePattern(string(k))
		if err != nil || len(v) != zmtp.CurveKeySize {
			return fmt.Errorf("identifier pattern %q: bad record", k)
		}
		kb.pats = append(kb.pats, boundPattern{p, zmtp.CurveKey(v)})
		kb.nbound[zmtp.CurveKey(v)]++
		return nil
	})
}

// ownerOf returns the key that owns ident: the exact binding's, else the
// most specific matching pattern's; ambiguous when two keys' patterns
// match equally. kb.mu is held.
func (kb *keyBinding) ownerOf(ident string) (owner zmtp.CurveKey, bound, ambiguous bool) {
	if k, ok := kb.owners[ident]; ok {
		return k, true, false
	}
	best := -1
	for _, bp := range kb.pats {
		if !bp.pat.Match(ident) {
			continue
		}
		switch n := bp.pat.Literals(); {
		case n > best:
			best, owner, ambiguous = n, bp.key, false
		case n == best && bp.key != owner:
			ambiguous = true
		}
	}
	return owner, best >= 0, ambiguous
}

// limits reports whether key may use only the identifiers bound to it:
// under enrolment, unless it is an admin key (an admin may rebind any
// identifier with keys.accept anyway, and the CLI's default identifiers
// change with every run).
func (en *enrolment) limits(key zmtp.CurveKey) bool {
	return en != nil && !en.admins[key]
}

// parseBindings compiles the identifiers and patterns of an accept.
func parseBindings(texts []string) ([]policy.Pattern, error) {
	if len(texts) > maxKeyBindings {
		return nil, fmt.Errorf("at most %d identifiers or patterns per key", maxKeyBindings)
	}
	var pats []policy.Pattern
	for _, t := range texts {
		if t == "" || strings.HasPrefix(t, "$") {
			return nil, fmt.Errorf("ident=%q: an identifier or pattern, not empty nor reserved ($)", t)
		}
		p, err := policy.CompilePattern(t)
		if err != nil {
			return nil, fmt.Errorf("ident=%q: %w", t, err)
		}
		pats = append(pats, p)
	}
	return pats, nil
}

// setBindings makes pats the key's bindings, each taken from any key that
// held it (the operator moving identifiers to a new device), and returns
// the previous owner of each and the bindings the key gave up.
func (kb *keyBinding) setBindings(key zmtp.CurveKey, pats []policy.Pattern) (prev []zmtp.CurveKey, dropped []string) {
	keep := make([]string, len(pats))
	for i, p := range pats {
		keep[i] = p.String()
	}
	kb.mu.Lock()
	idents, wild := kb.releaseLocked(key, keep)
	for _, p := range pats {
		text, was := p.String(), zmtp.CurveKey{}
		if !p.Wild() {
			was = kb.owners[text]
			kb.owners[text] = key
		} else if i := slices.IndexFunc(kb.pats, func(bp boundPattern) bool { return bp.pat.String() == text }); i >= 0 {
			was, kb.pats[i].key = kb.pats[i].key, key
		} else {
			kb.pats = append(kb.pats, boundPattern{p, key})
		}
		if !was.IsZero() {
			kb.nbound[was]--
		}
		kb.nbound[key]++
		prev = append(prev, was)
	}
	kb.mu.Unlock()
	kb.deleteStored(idents, wild)
	if kb.store != nil {
		for _, p := range pats {
			bucket := bucketIdentities
			if p.Wild() {
				bucket = bucketIdentPatterns
			}
			kb.store.Put(bucket, []byte(p.String()), key[:])
		}
	}
	return prev, append(idents, wild...)
}

// releaseLocked removes key's bindings except those in keep and returns
// the exact identifiers and the patterns removed. kb.mu is held.
func (kb *keyBinding) releaseLocked(key zmtp.CurveKey, keep []string) (idents, pats []string) {
	for ident, owner := range kb.owners {
		if owner == key && !slices.Contains(keep, ident) {
			idents = append(idents, ident)
			delete(kb.owners, ident)
		}
	}
	kb.pats = slices.DeleteFunc(kb.pats, func(bp boundPattern) bool {
		gone := bp.key == key && !slices.Contains(keep, bp.pat.String())
		if gone {
			pats = append(pats, bp.pat.String())
		}
		return gone
	})
	if kb.nbound[key] -= len(idents) + len(pats); kb.nbound[key] <= 0 {
		delete(kb.nbound, key)
	}
	slices.Sort(idents)
	slices.Sort(pats)
	return idents, pats
}

// deleteStored removes released bindings from the store.
func (kb *keyBinding) deleteStored(idents, pats []string) {
	if kb.store == nil {
		return
	}
	for _, ident := range idents {
		kb.store.Delete(bucketIdentities, []byte(ident))
	}
	for _, p := range pats {
		kb.store.Delete(bucketIdentPatterns, []byte(p))
	}
}

// errNoBinding: ident= given to a broker that binds no identifiers.
var errNoBinding = errors.New("ident=ID needs identifier binding (zccpd binds identifiers on CURVE endpoints)")
