package policy

// Grant is a role bound to one session: what that session may do. A
// role without {id} has one Grant shared by all its sessions, so the
// broker can cache decisions per Grant.
type Grant struct {
	Role       string
	publish    patterns
	deliver    patterns
	direct     []targetRule
	group      []targetRule
	api        patterns
	deliverAll bool // deliver **: no per-address check
}

// none is the grant of a session no line assigns and no default covers.
var none = &Grant{Role: "(none)"}

// grant binds r to ident.
func (r *Role) grant(ident string) *Grant {
	g := &Grant{
		Role:    r.Name,
		publish: r.publish.bind(ident),
		deliver: r.deliver.bind(ident),
		api:     r.api.bind(ident),
		direct:  bindTargets(r.direct, ident),
		group:   bindTargets(r.group, ident),
	}
	g.deliverAll = g.deliver.everything()
	return g
}

func bindTargets(rules []targetRule, ident string) []targetRule {
	out := make([]targetRule, len(rules))
	for i, t := range rules {
		out[i] = targetRule{to: t.to.bind(ident), methods: t.methods.bind(ident)}
	}
	return out
}

// Resolve returns the grant of a session: the role of the first assign
// line whose conditions it meets, else the default role, else a grant
// that allows nothing.
func (p *Policy) Resolve(s Subject) *Grant {
	r := p.def
	for i := range p.assigns {
		if a := &p.assigns[i]; a.holds(&s) {
			r = a.role
			break
		}
	}
	switch {
	case r == nil:
		return none
	case r.shared != nil:
		return r.shared
	}
	return r.grant(s.Ident)
}

// holds reports whether s meets every condition of a.
func (a *assign) holds(s *Subject) bool {
	if a.key != nil && (s.Key.IsZero() || *a.key != s.Key) {
		return false
	}
	if a.ident != nil && !match(a.ident, []byte(s.Ident)) {
		return false
	}
	if a.uid >= 0 && s.UID != a.uid {
		return false
	}
	for _, kv := range a.labels {
		if v, ok := s.Labels[kv[0]]; !ok || v != kv[1] {
			return false
		}
	}
	return true
}

// MayPublish reports whether the session may PUBLISH to address.
func (g *Grant) MayPublish(address []byte) bool { return g.publish.matchBytes(address) }

// MayDeliver reports whether address may be delivered to the session.
func (g *Grant) MayDeliver(address []byte) bool {
	return g.deliverAll || g.deliver.matchBytes(address)
}

// DeliversNothing reports whether no address may be delivered to the
// session (a SUBSCRIBE is then refused).
func (g *Grant) DeliversNothing() bool { return len(g.deliver) == 0 }

// MayDirect reports whether the session may send a DIRECT (a request
// when method is not empty) to the identifier target. A rule with
// methods admits only those methods; a plain DIRECT has method "".
func (g *Grant) MayDirect(target, method []byte) bool { return admits(g.direct, target, method) }

// MayGroup reports whether the session may send a group request with
// method to address.
func (g *Grant) MayGroup(address, method []byte) bool { return admits(g.group, address, method) }

func admits(rules []targetRule, target, method []byte) bool {
	for _, r := range rules {
		if r.to.matchBytes(target) && (r.methods == nil || r.methods.matchBytes(method)) {
			return true
		}
	}
	return false
}

// MayCall reports whether the session may call the broker API method.
func (g *Grant) MayCall(method string) bool { return g.api.match(method) }
