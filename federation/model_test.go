package federation

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/match"
)

// The 100 brokers × 10k devices model (issue 16 item 8), computed from
// the federation's actual rules (what is advertised, what is forwarded,
// what the registry writes) and one measured figure: the memory an
// expression costs in a remote broker's pseudo-session index.

// workload describes a federation.
type workload struct {
	brokers, devices int           // devices per broker
	shared           int           // expressions every broker's devices share (^cmd\.all$, site-wide)
	groups           int           // group expressions per broker (one per room: devices of a room share it)
	perDevice        bool          // each device also subscribes to its own expression (^dev\.<id>\.)
	exprLen          int           // mean expression length, bytes
	identLen         int           // mean identifier length, bytes
	reconnects       float64       // reconnections per device per hour
	advertise        time.Duration // full re-advertisement period
	ttl              time.Duration // registry TTL
}

// figures are what the model computes.
type figures struct {
	distinct         int     // distinct expressions one broker advertises
	interestEntries  int     // remote expressions one broker holds (its pseudo-sessions)
	interestBytes    float64 // their memory, from the measured bytes per expression
	advertInPerSec   float64 // full-advert bytes a broker receives per second
	claimsPerSec     float64 // registry claims + releases per second, cluster-wide
	refreshPerSec    float64 // registry refresh writes per second, cluster-wide
	watchPerSec      float64 // registry changes delivered to watchers per second (all brokers)
	perBroadcast     int     // NATS messages for one publish every broker subscribes to
	perRoomPublish   int     // for a publish to one room (one broker)
	perDevicePublish int     // for a publish to one device's own address
	presencePerSec   float64 // presence events forwarded per second, when every broker has a watcher
}

func (w workload) compute(bytesPerExpr float64) figures {
	var f figures
	f.distinct = w.shared + w.groups
	if w.perDevice {
		f.distinct += w.devices
	}
	// One pseudo-session per remote broker holding its distinct
	// expressions: 100 000 identical patterns are one entry.
	f.interestEntries = (w.brokers - 1) * f.distinct
	f.interestBytes = float64(f.interestEntries) * bytesPerExpr
	// A full advert lists every distinct expression (JSON string and comma).
	f.advertInPerSec = float64(w.brokers-1) * float64(f.distinct*(w.exprLen+3)) / w.advertise.Seconds()
	devices := float64(w.brokers * w.devices)
	f.claimsPerSec = 2 * devices * w.reconnects / 3600 // a claim at HELLO, a release at the end
	f.refreshPerSec = 3 * devices / w.ttl.Seconds()
	f.watchPerSec = float64(w.brokers) * (f.claimsPerSec + f.refreshPerSec)
	// Forwarding: once per remote broker whose expressions match,
	// whatever the number of its subscribers.
	f.perBroadcast = w.brokers - 1
	f.perRoomPublish = 1 // the room's devices are on one broker (0 when it is the publisher's)
	f.perDevicePublish = 1
	// join + leave per reconnection, to each other broker with a watcher.
	f.presencePerSec = devices * w.reconnects / 3600 * 2 * float64(w.brokers-1)
	return f
}

// measureBytesPerExpr adds n distinct room-like expressions for one
// remote broker to an index like the broker's remote index and returns
// the heap it grew by, per expression.
func measureBytesPerExpr(n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix := match.NewIndex[int](match.WithCacheSize(0), match.WithRegexpCacheSize(-1))
	for i := range n {
		if _, err := ix.Add(1, fmt.Sprintf(`^cmd\.site%d\.room%d\.`, i%50, i)); err != nil {
			panic(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ix)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func TestModel100Brokers10kDevices(t *testing.T) {
	bpe := measureBytesPerExpr(10000)
	base := workload{brokers: 100, devices: 10000, shared: 2, groups: 100, exprLen: 24, identLen: 12,
		reconnects: 1, advertise: DefaultAdvertise, ttl: DefaultRegistryTTL}
	perDev := base
	perDev.perDevice = true
	shortTTL := base
	shortTTL.ttl = 2 * time.Minute
	var b strings.Builder
	fmt.Fprintf(&b, "measured: %.0f bytes per expression in a remote broker's index\n", bpe)
	fmt.Fprintf(&b, "| case | distinct/broker | interest entries | interest MiB | adverts in KiB/s | registry claims/s | refresh/s | watch deliveries/s | msgs per broadcast | presence events/s |\n")
	for _, c := range []struct {
		name string
		w    workload
	}{{"grouped (rooms)", base}, {"+ one expression per device", perDev}, {"grouped, registry TTL 2 min", shortTTL}} {
		f := c.w.compute(bpe)
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %.0f | %.0f | %.0f | %.0f | %d | %.0f |\n", c.name, f.distinct, f.interestEntries,
			f.interestBytes/(1<<20), f.advertInPerSec/1024, f.claimsPerSec, f.refreshPerSec, f.watchPerSec, f.perBroadcast, f.presencePerSec)
	}
	t.Log("\n" + b.String())

	f := base.compute(bpe)
	if f.interestEntries != 99*102 || f.perBroadcast != 99 || f.perRoomPublish != 1 {
		t.Fatalf("model: %+v", f)
	}
	if bpe <= 0 || bpe > 1<<16 {
		t.Fatalf("measured %.0f bytes per expression", bpe)
	}
}
