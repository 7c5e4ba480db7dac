package zmtp

import (
	"math/bits"
	"sync"
)

// Read buffers whose size is a power of two between minReadBuffer and
// maxPooledBuffer are shared by all connections through one sync.Pool
// per size, so that a buffer that grows for a burst of large messages
// and shrinks back when its reader catches up costs no allocation (and
// no clearing) the next time. Larger buffers are allocated to measure
// and left to the collector.
const (
	maxPooledBuffer = 4 << 20
	readPoolClasses = 11 // minReadBuffer << 0 ... minReadBuffer << 10 == maxPooledBuffer
)

var readPools [readPoolClasses]sync.Pool

// readPoolClass returns the pool for buffers of exactly n bytes, or -1.
func readPoolClass(n int) int {
	if n < minReadBuffer || n > maxPooledBuffer || n&(n-1) != 0 {
		return -1
	}
	return bits.Len(uint(n/minReadBuffer)) - 1
}

// getReadBuffer returns a buffer of n bytes. A pooled one holds bytes of
// some other connection: the reader only ever exposes what it read into
// it itself (buf[r:w]).
func getReadBuffer(n int) []byte {
	if c := readPoolClass(n); c >= 0 {
		if p, ok := readPools[c].Get().(*[]byte); ok {
			return *p
		}
	}
	return make([]byte, n)
}

// putReadBuffer gives b back for reuse; nothing may refer to it any more.
func putReadBuffer(b []byte) {
	if c := readPoolClass(len(b)); c >= 0 && cap(b) == len(b) {
		readPools[c].Put(&b)
	}
}

// grownSize is the size a buffer of size bytes grows to for a message
// that needs need bytes: double (a pooled size) while pooled sizes
// reach, then what the message needs, at most double.
func grownSize(size, need int) int {
	if 2*size <= maxPooledBuffer && readPoolClass(size) >= 0 {
		return 2 * size
	}
	return min(2*size, need)
}
