package report

import (
	"fmt"
	"math"
	"time"
)

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// si formats x with a k/M/G suffix and three significant digits.
func si(x float64) string {
	switch ax := math.Abs(x); {
	case ax >= 1e9:
		return sig(x/1e9) + "G"
	case ax >= 1e6:
		return sig(x/1e6) + "M"
	case ax >= 1e3:
		return sig(x/1e3) + "k"
	}
	return sig(x)
}

// sig formats x with about three significant digits.
func sig(x float64) string {
	switch ax := math.Abs(x); {
	case ax == 0:
		return "0"
	case ax >= 100:
		return fmt.Sprintf("%.0f", x)
	case ax >= 10:
		return fmt.Sprintf("%.1f", x)
	case ax >= 1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.3f", x)
}

// spread formats a Stat as "med [min–max]" with f.
func spread(s Stat, f func(float64) string) string {
	return fmt.Sprintf("%s [%s–%s]", f(s.Med), f(s.Min), f(s.Max))
}

// ratio formats a/b as "1.23×", or "–" when b is zero.
func ratio(a, b float64) string {
	if b == 0 || a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func kib(b float64) string { return sig(b/1024) + " KiB" }
func mib(b float64) string { return sig(b/(1<<20)) + " MiB" }
