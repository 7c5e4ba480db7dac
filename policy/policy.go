// Package policy parses and evaluates zccpd's permission policy: roles
// (what a session may publish, receive, send DIRECTs and requests to,
// and which broker API methods it may call), who holds which role (CURVE
// keys, identifier patterns, HELLO labels, ipc user ids), and a default
// role for everyone else. It reads nothing but the text it is given (Load
// reads one file) and keeps no state: the broker resolves a session's
// Grant once and asks it.
//
// The file is line-oriented: one statement per line, words separated by
// blanks, # at the start of a line for a comment (Z85 keys may contain
// '#', so there are no trailing comments).
//
//	role NAME                      starts a role; the rule lines below belong to it
//	  publish PATTERN...           addresses it may PUBLISH to
//	  deliver PATTERN...           addresses it may receive (filtered at delivery)
//	  direct PATTERN... [methods M...]  identifiers it may send DIRECTs and requests to
//	  group PATTERN... [methods M...]   addresses it may send group requests to
//	  api METHOD...                broker API methods ($zccp): clients, stats, last, keys.*
//	assign ROLE COND...            sessions meeting every condition hold ROLE
//	default ROLE                   the role of sessions no assign line matches
//
// Conditions: key=Z85-or-hex (the CURVE client key), ident=PATTERN (the
// HELLO identifier), label:NAME=VALUE (a HELLO header), uid=N (the user id
// of an ipc peer). The first assign line that matches wins. Without a
// default line a session no line matches may do nothing.
package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/zccp-go/zccp/zmtp"
)

// Policy is a parsed policy file. It is immutable: a reload makes a new
// one.
type Policy struct {
	Source  string
	Digest  string // SHA-256 of the file's bytes, hex (brokers of a federation compare it)
	roles   map[string]*Role
	order   []string // role names as defined
	assigns []assign
	def     *Role // nil: nothing allowed
}

// Role is a named set of rules.
type Role struct {
	Name    string
	publish patterns
	deliver patterns
	direct  []targetRule
	group   []targetRule
	api     patterns
	ident   bool   // some pattern uses {id}
	shared  *Grant // the grant of every session when !ident
	line    int    // where it is defined
	used    bool   // assigned or default
}

// targetRule admits DIRECTs/requests (or group requests) to targets
// matching to, with a method matching methods (nil: any method).
type targetRule struct {
	to      patterns
	methods patterns
}

// assign is one assign line.
type assign struct {
	role   *Role
	line   int
	key    *zmtp.CurveKey
	ident  *pattern
	labels [][2]string
	uid    int // -1: any
}

// Subject is what the broker knows of a session when it resolves its
// role.
type Subject struct {
	Key    zmtp.CurveKey // zero: NULL security
	Ident  string
	Labels map[string]string
	UID    int // -1: not an ipc peer (or unknown)
}

// Load reads and parses a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(path, data)
}

// maxLines bounds a policy file's statements.
const maxLines = 100000

// Parse parses a policy; name is used in error messages ("name:line:
// what is wrong"). Every error found is reported, joined.
func Parse(name string, data []byte) (*Policy, error) {
	sum := sha256.Sum256(data)
	p := &Policy{Source: name, Digest: hex.EncodeToString(sum[:]), roles: map[string]*Role{}}
	ps := parser{name: name, p: p}
	for n, line := range bytes.Split(data, []byte("\n")) {
		if n >= maxLines {
			ps.errorf(n+1, "more than %d lines", maxLines)
			break
		}
		ps.line(n+1, string(bytes.TrimRight(line, "\r")))
	}
	ps.finish()
	if len(ps.errs) > 0 {
		return nil, errors.Join(ps.errs...)
	}
	return p, nil
}

// parser holds the state of one Parse.
type parser struct {
	name    string
	p       *Policy
	cur     *Role
	defLine int
	defName string
	pending []pendingAssign // role names resolved at the end (roles may come after)
	errs    []error
	tooMany bool
}

type pendingAssign struct {
	a    assign
	name string
}

const maxErrors = 50

func (ps *parser) errorf(line int, format string, args ...any) {
	if len(ps.errs) >= maxErrors {
		ps.tooMany = true
		return
	}
	ps.errs = append(ps.errs, fmt.Errorf("%s:%d: %s", ps.name, line, fmt.Sprintf(format, args...)))
}

func (ps *parser) line(n int, line string) {
	words := strings.Fields(line)
	if len(words) == 0 || strings.HasPrefix(words[0], "#") {
		return
	}
	switch kw := words[0]; kw {
	case "role":
		ps.role(n, words[1:])
	case "assign":
		ps.assign(n, words[1:])
	case "default":
		if len(words) != 2 {
			ps.errorf(n, "want: default ROLE")
		} else if ps.defLine != 0 {
			ps.errorf(n, "default is already set on line %d", ps.defLine)
		} else {
			ps.defLine, ps.defName = n, words[1]
		}
	case "publish", "deliver", "direct", "group", "api":
		if ps.cur == nil {
			ps.errorf(n, "%s outside a role: start one with 'role NAME'", kw)
			return
		}
		ps.rule(n, kw, words[1:])
	default:
		ps.errorf(n, "unknown statement %q (want role, publish, deliver, direct, group, api, assign or default)", kw)
	}
}

// validName: role names are letters, digits, '-', '_' and '.'.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (ps *parser) role(n int, args []string) {
	switch {
	case len(args) != 1:
		ps.errorf(n, "want: role NAME")
	case !validName(args[0]):
		ps.errorf(n, "role name %q: use letters, digits, '-', '_' and '.' (at most 64)", args[0])
	case ps.p.roles[args[0]] != nil:
		ps.errorf(n, "role %s is already defined on line %d", args[0], ps.p.roles[args[0]].line)
	default:
		r := &Role{Name: args[0], line: n}
		ps.p.roles[r.Name] = r
		ps.p.order = append(ps.p.order, r.Name)
		ps.cur = r
		return
	}
	ps.cur = &Role{Name: "(invalid)", line: n} // its rules are still checked
}

func (ps *parser) rule(n int, kw string, args []string) {
	r := ps.cur
	targets, methods, hasMethods := args, []string(nil), false
	if i := indexOf(args, "methods"); i >= 0 {
		targets, methods, hasMethods = args[:i], args[i+1:], true
	}
	if len(targets) == 0 {
		ps.errorf(n, "%s needs at least one pattern", kw)
		return
	}
	if hasMethods && kw != "direct" && kw != "group" {
		ps.errorf(n, "methods only qualifies direct and group rules")
		return
	}
	if hasMethods && len(methods) == 0 {
		ps.errorf(n, "methods needs at least one method pattern")
		return
	}
	to, ok := ps.patterns(n, targets)
	ms, ok2 := ps.patterns(n, methods)
	if !ok || !ok2 {
		return
	}
	if to.hasIdent() || ms.hasIdent() {
		r.ident = true
	}
	switch kw {
	case "publish":
		r.publish = append(r.publish, to...)
	case "deliver":
		r.deliver = append(r.deliver, to...)
	case "api":
		r.api = append(r.api, to...)
	case "direct":
		r.direct = append(r.direct, targetRule{to: to, methods: ms})
	case "group":
		r.group = append(r.group, targetRule{to: to, methods: ms})
	}
}

func indexOf(words []string, w string) int {
	for i, x := range words {
		if x == w {
			return i
		}
	}
	return -1
}

func (ps *parser) patterns(n int, words []string) (patterns, bool) {
	var out patterns
	ok := true
	for _, w := range words {
		p, err := compilePattern(w)
		if err != nil {
			ps.errorf(n, "%v", err)
			ok = false
			continue
		}
		out = append(out, p)
	}
	return out, ok
}

func (ps *parser) assign(n int, args []string) {
	ps.cur = nil // an assign line ends the role above
	if len(args) < 2 {
		ps.errorf(n, "want: assign ROLE CONDITION... (key=KEY, ident=PATTERN, label:NAME=VALUE, uid=N)")
		return
	}
	a := assign{line: n, uid: -1}
	ok := true
	for _, c := range args[1:] {
		if err := a.condition(c); err != nil {
			ps.errorf(n, "%v", err)
			ok = false
		}
	}
	if ok {
		ps.pending = append(ps.pending, pendingAssign{a, args[0]})
	}
}

// condition parses one condition of an assign line.
func (a *assign) condition(c string) error {
	name, value, ok := strings.Cut(c, "=")
	if !ok || value == "" {
		return fmt.Errorf("condition %q: want key=KEY, ident=PATTERN, label:NAME=VALUE or uid=N", c)
	}
	switch {
	case name == "key":
		if a.key != nil {
			return errors.New("two key= conditions can never both hold")
		}
		k, err := zmtp.ParseCurveKey(value)
		if err != nil {
			return fmt.Errorf("key=%s: %v", value, err)
		}
		a.key = &k
	case name == "ident":
		if a.ident != nil {
			return errors.New("two ident= conditions: put the patterns on two assign lines")
		}
		p, err := compilePattern(value)
		if err != nil {
			return err
		}
		if p.ident {
			return errors.New("ident= cannot use {id}")
		}
		a.ident = &p
	case name == "uid":
		uid, err := strconv.Atoi(value)
		if err != nil || uid < 0 {
			return fmt.Errorf("uid=%s: want a user id (a number)", value)
		}
		a.uid = uid
	case strings.HasPrefix(name, "label:") && len(name) > len("label:"):
		a.labels = append(a.labels, [2]string{name[len("label:"):], value})
	default:
		return fmt.Errorf("condition %q: unknown (want key=, ident=, label:NAME= or uid=)", c)
	}
	return nil
}

// finish resolves role names and checks what needs the whole file.
func (ps *parser) finish() {
	p := ps.p
	for _, pa := range ps.pending {
		r := p.roles[pa.name]
		if r == nil {
			ps.errorf(pa.a.line, "assign: no role %q (defined: %s)", pa.name, strings.Join(p.order, ", "))
			continue
		}
		r.used = true
		pa.a.role = r
		p.assigns = append(p.assigns, pa.a)
	}
	if ps.defLine != 0 {
		if r := p.roles[ps.defName]; r == nil {
			ps.errorf(ps.defLine, "default: no role %q (defined: %s)", ps.defName, strings.Join(p.order, ", "))
		} else {
			r.used = true
			p.def = r
		}
	}
	for _, name := range p.order {
		r := p.roles[name]
		if !r.used {
			ps.errorf(r.line, "role %s is never assigned (no assign line and not the default)", name)
		}
		if !r.ident {
			r.shared = r.grant("")
		}
	}
	if len(p.roles) == 0 && len(ps.errs) == 0 {
		ps.errorf(1, "no role defined: a policy needs at least 'role NAME' and 'default NAME' or an assign line")
	}
	if ps.tooMany {
		ps.errs = append(ps.errs, fmt.Errorf("%s: more errors not shown", ps.name))
	}
}

// Roles returns the role names, as defined.
func (p *Policy) Roles() []string { return append([]string(nil), p.order...) }

// Summary describes the policy for a log line.
func (p *Policy) Summary() string {
	def := "none (nothing allowed)"
	if p.def != nil {
		def = p.def.Name
	}
	return fmt.Sprintf("%d roles, %d assignments, default %s", len(p.roles), len(p.assigns), def)
}
