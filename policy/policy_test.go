package policy

import (
	"strings"
	"testing"

	"github.com/zccp-go/zccp/zmtp"
)

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"**", "", true},
		{"**", "a.b.c", true},
		{"rack1.**", "rack1", true},
		{"rack1.**", "rack1.pdu3.outlet.5", true},
		{"rack1.**", "rack10.pdu3", false},
		{"rack1.*.temp", "rack1.pdu3.temp", true},
		{"rack1.*.temp", "rack1.pdu3.outlet.temp", false},
		{"rack1.*.temp", "rack1..temp", true},
		{"**.temp", "temp", true},
		{"**.temp", "a.b.temp", true},
		{"**.temp", "a.b.tempx", false},
		{"a.**.b.**.c", "a.x.b.y.z.c", true},
		{"a.**.b.**.c", "a.b.c", true},
		{"a.**.b.**.c", "a.c", false},
		{"pdu-*", "pdu-r1-03", true},
		{"pdu-*", "pdu", false},
		{"*-r1-*", "pdu-r1-03", true},
		{"*", "", true},
		{"*", "a.b", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"exact", "exact", true},
		{"exact", "exact.", false},
		{"a.", "a.", true},
		{"a.**", "a.", true},
	}
	for _, c := range cases {
		p, err := compilePattern(c.pat)
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		if got := match(&p, []byte(c.s)); got != c.want {
			t.Errorf("%q ~ %q = %v, want %v", c.pat, c.s, got, c.want)
		}
		if got := match(&p, []byte(c.s)); got != c.want {
			t.Errorf("bytes %q ~ %q = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

const sample = `# data-center policy
role operator
  publish  **
  deliver  **
  direct   *
  group    **
  api      clients stats last keys.*

role device
  publish  metrics.{id}.** events.{id}.**
  deliver  cmd.{id}.** broadcast.**
  direct   ops-*

role viewer
  deliver  metrics.**
  direct   pdu-* methods status read.*
  group    rack*.** methods status
  api      clients

assign operator key=rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
assign device   ident=pdu-* label:kind=pdu
assign operator uid=0
default viewer
`

func TestResolveAndRules(t *testing.T) {
	p, err := Parse("test.policy", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := zmtp.ParseCurveKey("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
	op := p.Resolve(Subject{Key: key, Ident: "alice", UID: -1})
	if op.Role != "operator" || !op.MayPublish([]byte("x.y")) || !op.MayCall("keys.accept") {
		t.Fatalf("operator grant wrong: %+v", op)
	}
	dev := p.Resolve(Subject{Ident: "pdu-7", Labels: map[string]string{"kind": "pdu"}, UID: -1})
	if dev.Role != "device" {
		t.Fatalf("device resolved to %s", dev.Role)
	}
	for addr, want := range map[string]bool{"metrics.pdu-7.power": true, "metrics.pdu-8.power": false, "cmd.pdu-7": false} {
		if dev.MayPublish([]byte(addr)) != want {
			t.Errorf("device publish %s: want %v", addr, want)
		}
	}
	if !dev.MayDeliver([]byte("cmd.pdu-7.off")) || dev.MayDeliver([]byte("cmd.pdu-8.off")) {
		t.Error("device deliver {id} binding wrong")
	}
	// Without the label the device assignment does not hold: default.
	v := p.Resolve(Subject{Ident: "pdu-7", UID: -1})
	if v.Role != "viewer" {
		t.Fatalf("unlabelled pdu-7 got %s", v.Role)
	}
	if !v.MayDirect([]byte("pdu-1"), []byte("status")) || !v.MayDirect([]byte("pdu-1"), []byte("read.power")) {
		t.Error("viewer should request status/read.* from pdu-*")
	}
	if v.MayDirect([]byte("pdu-1"), []byte("power.off")) || v.MayDirect([]byte("pdu-1"), nil) || v.MayDirect([]byte("srv-1"), []byte("status")) {
		t.Error("viewer may only request status/read.* of pdu-*")
	}
	if !v.MayGroup([]byte("rack3.pdus"), []byte("status")) || v.MayGroup([]byte("rack3.pdus"), []byte("off")) {
		t.Error("viewer group rule wrong")
	}
	if v.MayCall("stats") || !v.MayCall("clients") || v.MayPublish([]byte("metrics.x")) {
		t.Error("viewer api/publish wrong")
	}
	if p.Resolve(Subject{UID: 0}).Role != "operator" {
		t.Error("uid=0 should be operator")
	}
	// The shared grant of a role without {id} is one pointer.
	if p.Resolve(Subject{Ident: "a", UID: -1}) != p.Resolve(Subject{Ident: "b", UID: -1}) {
		t.Error("viewer grants not shared")
	}
}

func TestNoDefaultAllowsNothing(t *testing.T) {
	p, err := Parse("p", []byte("role r\n publish a\nassign r ident=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := p.Resolve(Subject{Ident: "y", UID: -1})
	if g.MayPublish([]byte("a")) || g.MayDeliver([]byte("a")) || !g.DeliversNothing() || g.MayCall("clients") {
		t.Fatal("a session no line assigns may do nothing")
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"publish a\n":                               "p:1: publish outside a role",
		"role r\n publish a.**b\ndefault r\n":       "p:2: pattern \"a.**b\": ** must be a whole segment",
		"role r\n deliver\ndefault r\n":             "p:2: deliver needs at least one pattern",
		"role r\nrole r\ndefault r\n":               "p:2: role r is already defined on line 1",
		"role r\ndefault s\n":                       "p:2: default: no role \"s\"",
		"role r\nassign r key=nope\ndefault r\n":    "p:2: key=nope",
		"role r\nassign r uid=-1\ndefault r\n":      "p:2: uid=-1: want a user id",
		"role r\nassign r colour=red\ndefault r\n":  "p:2: condition \"colour=red\": unknown",
		"role r\n publish a methods x\ndefault r\n": "p:2: methods only qualifies direct and group rules",
		"role r\nrole s\ndefault r\n":               "p:2: role s is never assigned",
		"bogus\n":                                   "p:1: unknown statement \"bogus\"",
		"":                                          "p:1: no role defined",
		"role r\n direct {x}\ndefault r\n":          "braces only in {id}",
	}
	for in, want := range cases {
		_, err := Parse("p", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
}

func TestIdentWithWildcardNeverWidens(t *testing.T) {
	p, err := Parse("p", []byte("role d\n deliver cmd.{id}.**\ndefault d\n"))
	if err != nil {
		t.Fatal(err)
	}
	g := p.Resolve(Subject{Ident: "*", UID: -1})
	if g.MayDeliver([]byte("cmd.pdu-1.off")) || g.MayDeliver([]byte("cmd.*.off")) {
		t.Fatal("an identifier with * must not widen {id}")
	}
}

func BenchmarkMayDeliver(b *testing.B) {
	p, err := Parse("p", []byte(sample))
	if err != nil {
		b.Fatal(err)
	}
	g := p.Resolve(Subject{Ident: "pdu-7", Labels: map[string]string{"kind": "pdu"}, UID: -1})
	addr := []byte("broadcast.rack12.pdu-3.power")
	b.ReportAllocs()
	for b.Loop() {
		if !g.MayDeliver(addr) {
			b.Fatal("refused")
		}
	}
}

// The example shipped for operators (and shown in docs/protocol.md §1.2)
// parses.
func TestExamplePolicyParses(t *testing.T) {
	p, err := Load("../examples/zccpd.policy")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Roles(), ","); got != "ops,pdu,dashboard" {
		t.Fatalf("roles %s", got)
	}
}

// The exported Pattern is the policy's own matcher.
func TestExportedPattern(t *testing.T) {
	p, err := CompilePattern("rack1.pdu*")
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"rack1.pdu3": true, "rack1.pdu": true, "rack1.pdu3.x": false, "rack2.pdu3": false} {
		if p.Match(s) != want {
			t.Errorf("%q: %v", s, !want)
		}
	}
	if !p.Wild() || p.Literals() != 9 || p.String() != "rack1.pdu*" {
		t.Errorf("%v %d %q", p.Wild(), p.Literals(), p.String())
	}
	for _, bad := range []string{"", "a.b**", "cmd.{id}"} {
		if _, err := CompilePattern(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}
