// Package hist is a lock-free latency histogram with log-linear buckets:
// exact below 64 ns, then 32 buckets per power of two (about 3 %
// precision), up to the largest int64.
package hist

import (
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	subBits    = 5
	subBuckets = 1 << subBits   // buckets per power of two
	linear     = 2 * subBuckets // values below this have their own bucket
	nBuckets   = linear + (64-subBits-1)*subBuckets
)

// Histogram counts durations. Record may be called from many goroutines
// at once; Snapshot may run concurrently with Record.
type Histogram struct {
	b [nBuckets]atomic.Uint64
}

// Record counts one duration; negative values count as zero.
func (h *Histogram) Record(d time.Duration) {
	h.b[index(d)].Add(1)
}

func index(d time.Duration) int {
	if d < linear {
		if d < 0 {
			return 0
		}
		return int(d)
	}
	v := uint64(d)
	shift := bits.Len64(v) - subBits - 1 // >= 1
	top := v >> shift                    // in [subBuckets, 2*subBuckets)
	return linear + (shift-1)*subBuckets + int(top) - subBuckets
}

// value returns the midpoint of bucket i.
func value(i int) time.Duration {
	if i < linear {
		return time.Duration(i)
	}
	shift := (i-linear)/subBuckets + 1
	top := uint64((i-linear)%subBuckets + subBuckets)
	return time.Duration(top<<shift + (1<<shift)/2)
}

// Counts is a copy of a histogram's buckets.
type Counts []uint64

// Snapshot returns the current counts.
func (h *Histogram) Snapshot() Counts {
	c := make(Counts, nBuckets)
	for i := range h.b {
		c[i] = h.b[i].Load()
	}
	return c
}

// Sub returns c minus an earlier snapshot of the same histogram.
func (c Counts) Sub(earlier Counts) Counts {
	d := make(Counts, len(c))
	for i := range c {
		d[i] = c[i]
		if i < len(earlier) {
			d[i] -= earlier[i]
		}
	}
	return d
}

// Add adds o into c (both from histograms of this package).
func (c Counts) Add(o Counts) {
	for i := range o {
		c[i] += o[i]
	}
}

// Total returns the number of recorded values.
func (c Counts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// Quantile returns the value below which a fraction q of the recorded
// values lie (bucket midpoint), or 0 when nothing was recorded.
func (c Counts) Quantile(q float64) time.Duration {
	n := c.Total()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, v := range c {
		seen += v
		if seen >= rank {
			return value(i)
		}
	}
	return value(len(c) - 1)
}
