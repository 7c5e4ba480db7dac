package hist

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestIndexMonotonicAndPrecise(t *testing.T) {
	prev := -1
	for _, d := range []time.Duration{0, 1, 63, 64, 65, 127, 128, 1000, time.Microsecond * 37, time.Millisecond, time.Second, time.Hour, 1<<63 - 1} {
		i := index(d)
		if i < prev || i >= nBuckets {
			t.Fatalf("index(%v) = %d after %d", d, i, prev)
		}
		prev = i
		if v := value(i); d > 0 && (float64(v) < float64(d)*0.96 || float64(v) > float64(d)*1.04) && d >= linear {
			t.Errorf("value(index(%v)) = %v: more than 4%% off", d, v)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h Histogram
	var all []time.Duration
	for range 100000 {
		d := time.Duration(rand.ExpFloat64() * float64(50*time.Microsecond))
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	c := h.Snapshot()
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := all[int(q*float64(len(all)))-1]
		got := c.Quantile(q)
		if float64(got) < float64(want)*0.95 || float64(got) > float64(want)*1.05 {
			t.Errorf("q%.3f = %v, want about %v", q, got, want)
		}
	}
	if c.Total() != 100000 {
		t.Errorf("total %d", c.Total())
	}
	if d := h.Snapshot().Sub(c).Total(); d != 0 {
		t.Errorf("diff of equal snapshots has %d values", d)
	}
}
