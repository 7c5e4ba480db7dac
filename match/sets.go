package match

// Small sets used by the index. Most expressions have one subscriber and
// many sessions have one expression, so both sets keep a single member
// inline and only allocate a map from the second member on. They are plain
// values: every method is called with Index.mu held (Lock for changes,
// RLock or Lock for reads).

// members is a set of sessions (the subscribers of one expression).
type members[S comparable] struct {
	one  S
	many map[S]struct{} // non-nil once there were two members; holds all
	has1 bool           // one is valid (only while many == nil)
}

func (m *members[S]) len() int {
	if m.many != nil {
		return len(m.many)
	}
	if m.has1 {
		return 1
	}
	return 0
}

// add adds s and reports whether it was missing.
func (m *members[S]) add(s S) bool {
	switch {
	case m.many != nil:
		if _, ok := m.many[s]; ok {
			return false
		}
		m.many[s] = struct{}{}
	case !m.has1:
		m.one, m.has1 = s, true
	case m.one == s:
		return false
	default:
		m.many = map[S]struct{}{m.one: {}, s: {}}
		var zero S
		m.one, m.has1 = zero, false
	}
	return true
}

// has reports whether s is a member.
func (m *members[S]) has(s S) bool {
	if m.many != nil {
		_, ok := m.many[s]
		return ok
	}
	return m.has1 && m.one == s
}

// remove removes s and reports whether it was present.
func (m *members[S]) remove(s S) bool {
	if m.many != nil {
		if _, ok := m.many[s]; !ok {
			return false
		}
		delete(m.many, s)
		if len(m.many) == 1 {
			for k := range m.many {
				m.one, m.has1 = k, true
			}
			m.many = nil
		}
		return true
	}
	if m.has1 && m.one == s {
		var zero S
		m.one, m.has1 = zero, false
		return true
	}
	return false
}

// appendTo appends every member to out.
func (m *members[S]) appendTo(out []S) []S {
	if m.many != nil {
		for s := range m.many {
			out = append(out, s)
		}
	} else if m.has1 {
		out = append(out, m.one)
	}
	return out
}

// exprSet is the set of expressions one session subscribes to.
type exprSet[S comparable] struct {
	one  *expr[S]
	many map[*expr[S]]struct{} // non-nil once there were two; holds all
}

func (x *exprSet[S]) len() int {
	if x.many != nil {
		return len(x.many)
	}
	if x.one != nil {
		return 1
	}
	return 0
}

func (x *exprSet[S]) add(e *expr[S]) {
	switch {
	case x.many != nil:
		x.many[e] = struct{}{}
	case x.one == nil:
		x.one = e
	default:
		x.many = map[*expr[S]]struct{}{x.one: {}, e: {}}
		x.one = nil
	}
}

func (x *exprSet[S]) remove(e *expr[S]) {
	if x.many != nil {
		delete(x.many, e)
		if len(x.many) == 1 {
			for k := range x.many {
				x.one = k
			}
			x.many = nil
		}
		return
	}
	if x.one == e {
		x.one = nil
	}
}

// all appends every expression to out.
func (x *exprSet[S]) all(out []*expr[S]) []*expr[S] {
	if x.many != nil {
		for e := range x.many {
			out = append(out, e)
		}
	} else if x.one != nil {
		out = append(out, x.one)
	}
	return out
}
