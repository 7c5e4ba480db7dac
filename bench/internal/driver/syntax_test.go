package driver

import (
	"testing"

	"github.com/zccp-go/zccp/match"
)

// The zccp drivers' patterns must select exactly the subjects the
// scenarios mean, in zccpd's own matcher.
func TestZCCPPatternsMatchAsIntended(t *testing.T) {
	for _, d := range []Driver{ZCCP{}, ZCCPRaw{}} {
		ix := match.NewIndex[string]()
		add := func(name, expr string) {
			if _, err := ix.Add(name, expr); err != nil {
				t.Fatalf("%s: %q: %v", d.Name(), expr, err)
			}
		}
		add("exact", d.Exact("bench", "d", "7"))
		add("prefix", d.Prefix("bench", "p", "00042"))
		cases := map[string][]string{
			d.Subject("bench", "d", "7"):             {"exact"},
			d.Subject("bench", "d", "70"):            nil,
			d.Subject("bench", "d", "7", "x"):        nil,
			d.Subject("bench", "p", "00042", "x"):    {"prefix"},
			d.Subject("bench", "p", "00042"):         nil,
			d.Subject("bench", "p", "00042", "x.y"):  nil,
			d.Subject("bench", "p", "000420", "x"):   nil,
			"xbench.d.7":                             nil,
			d.Subject("bench", "p", "00042", "temp"): {"prefix"},
		}
		for subj, want := range cases {
			got := ix.Match([]byte(subj))
			if len(got) != len(want) || len(want) == 1 && got[0] != want[0] {
				t.Errorf("%s: %q matched %v, want %v", d.Name(), subj, got, want)
			}
		}
	}
}

func TestSpellings(t *testing.T) {
	for _, c := range []struct {
		d                    Driver
		subject, exact, wild string
	}{
		{NATS{}, "bench.p.1.x", "bench.p.1", "bench.p.1.*"},
		{MQTT{}, "bench/p/1/x", "bench/p/1", "bench/p/1/+"},
	} {
		if s := c.d.Subject("bench", "p", "1", "x"); s != c.subject {
			t.Errorf("%s subject %q", c.d.Name(), s)
		}
		if s := c.d.Exact("bench", "p", "1"); s != c.exact {
			t.Errorf("%s exact %q", c.d.Name(), s)
		}
		if s := c.d.Prefix("bench", "p", "1"); s != c.wild {
			t.Errorf("%s prefix %q", c.d.Name(), s)
		}
	}
}
