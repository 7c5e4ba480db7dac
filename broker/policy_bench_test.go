package broker

import (
	"testing"

	"github.com/zccp-go/zccp/policy"
)

// BenchmarkPolicyDeliver measures what the permission policy costs the
// publish path, in one broker with 100 sessions holding 100 patterns
// (each message is delivered to one session, so the per-publish cache of
// deliverFilter never helps: the policy is evaluated once per delivery,
// its worst case). "none" has no policy; "deliver-all" a role whose
// deliver rule is **; "globs" a role with four deliver globs, one of
// which each address matches (sensor.*.*, power.**, dc*.**,
// temp.*.*.celsius). The three run in turn, rounds times, so that
// machine noise hits them alike; compare their deliveries/cpu-s:
//
//	go test -run '^$' -bench BenchmarkPolicyDeliver -benchtime 200000x ./broker
func BenchmarkPolicyDeliver(b *testing.B) {
	e := mbSetup(b, 100, 100)
	steady := encodePublishes(mbAddresses(100, mbWorkingSet))
	e.publish(steady, 0, 2*mbWorkingSet)
	policies := []struct {
		name, text string
	}{
		{"none", ""},
		{"deliver-all", "role r\n publish **\n deliver **\ndefault r\n"},
		{"globs", "role r\n publish **\n deliver sensor.*.* power.** dc*.** temp.*.*.celsius\ndefault r\n"},
	}
	const rounds = 5
	for range rounds {
		for _, p := range policies {
			b.Run(p.name, func(b *testing.B) {
				var pol *policy.Policy
				if p.text != "" {
					pol = mustPolicy(b, p.text)
				}
				e.b.SetPolicy(pol)
				e.benchPublish(b, steady)
			})
		}
	}
}

// BenchmarkPolicyFilter is the policy's own cost per delivery: one
// deliverFilter per publish (as in the publish loop) asked about one
// session whose grant is already resolved; "none" is the same without a
// policy.
//
//	go test -run '^$' -bench BenchmarkPolicyFilter ./broker
func BenchmarkPolicyFilter(b *testing.B) {
	addrs := [][]byte{[]byte("sensor.000100.t3"), []byte("power.rack00010.pdu1"), []byte("dc3.rack0000102.pdu2"), []byte("temp.node2.r000103.celsius")}
	for _, tc := range []struct{ name, text string }{
		{"none", ""},
		{"deliver-all", "role r\n deliver **\ndefault r\n"},
		{"globs", "role r\n deliver sensor.*.* power.** dc*.** temp.*.*.celsius\ndefault r\n"},
		{"ident", "role r\n deliver cmd.{id}.** sensor.*.* power.** dc*.** temp.*.*.celsius\ndefault r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			br := &Broker{}
			s := &session{ident: "pdu-1"}
			if tc.text != "" {
				pol := mustPolicy(b, tc.text)
				br.pol.cur.Store(pol)
				s.grant.Store(&sessionGrant{pol: pol, g: pol.Resolve(policy.Subject{Ident: s.ident, UID: -1})})
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f := br.newDeliverFilter(addrs[i&3])
				if !f.allows(s) {
					b.Fatal("refused")
				}
				i++
			}
		})
	}
}
