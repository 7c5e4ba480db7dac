package flood

import "sync/atomic"

type atomicU64 = atomic.Uint64
type atomicI64 = atomic.Int64
