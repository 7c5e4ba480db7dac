package policy

import "testing"

// FuzzParse feeds arbitrary text to the parser: it must never panic, and
// a policy it accepts must evaluate any subject and address.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample), "a.b", "pdu-1")
	f.Add([]byte("role r\n deliver **\ndefault r\n"), "", "")
	f.Add([]byte("role r\n direct {id}.* methods a.**\nassign r ident=x* label:k=v uid=3\n"), "x.y", "x1")
	f.Fuzz(func(t *testing.T, data []byte, addr, ident string) {
		p, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		g := p.Resolve(Subject{Ident: ident, UID: -1, Labels: map[string]string{"k": "v"}})
		g.MayPublish([]byte(addr))
		g.MayDeliver([]byte(addr))
		g.MayDirect([]byte(ident), []byte(addr))
		g.MayGroup([]byte(addr), []byte(ident))
		g.MayCall(addr)
	})
}

// FuzzMatch checks the matcher against a naive reference.
func FuzzMatch(f *testing.F) {
	f.Add("a.**.b", "a.x.y.b")
	f.Add("*-r1-*", "pdu-r1-3")
	f.Add("**.**", "")
	f.Fuzz(func(t *testing.T, pat, s string) {
		p, err := compilePattern(pat)
		if err != nil || len(s) > 64 || len(p.segs) > 12 {
			return
		}
		if got, want := match(&p, []byte(s)), naive(p.segs, splitDots(s)); got != want {
			t.Fatalf("%q ~ %q = %v, naive %v", pat, s, got, want)
		}
	})
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// naive is an exponential reference matcher.
func naive(segs []segment, parts []string) bool {
	if len(segs) == 0 {
		return len(parts) == 0
	}
	if segs[0].any {
		for i := 0; i <= len(parts); i++ {
			if naive(segs[1:], parts[i:]) {
				return true
			}
		}
		return false
	}
	return len(parts) > 0 && naiveGlob(segs[0].glob, parts[0]) && naive(segs[1:], parts[1:])
}

func naiveGlob(p, s string) bool {
	if p == "" {
		return s == ""
	}
	if p[0] == '*' {
		for i := 0; i <= len(s); i++ {
			if naiveGlob(p[1:], s[i:]) {
				return true
			}
		}
		return false
	}
	return s != "" && s[0] == p[0] && naiveGlob(p[1:], s[1:])
}
