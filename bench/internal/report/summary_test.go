package report

import "testing"

func TestStatOf(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want Stat
	}{
		{nil, Stat{}},
		{[]float64{3}, Stat{3, 3, 3}},
		{[]float64{5, 1, 3}, Stat{3, 1, 5}},
		{[]float64{4, 1, 3, 2}, Stat{2.5, 1, 4}},
	} {
		if got := statOf(c.in); got != c.want {
			t.Errorf("statOf(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFormats(t *testing.T) {
	for in, want := range map[float64]string{1234567: "1.23M", 999: "999", 12.345: "12.3", 0.5: "0.500", 45600: "45.6k"} {
		if got := si(in); got != want {
			t.Errorf("si(%v) = %q, want %q", in, got, want)
		}
	}
	if got := ratio(3, 2); got != "1.50×" {
		t.Errorf("ratio = %q", got)
	}
	if got := ratio(3, 0); got != "–" {
		t.Errorf("ratio by zero = %q", got)
	}
}
