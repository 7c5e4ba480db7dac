package broker

import (
	"sync"

	"github.com/zccp-go/zccp/zmtp"
)

// byteTotals keeps the bytes in/out of connections that have ended. A
// connection's reader is done when it is retired, but its writer may
// still be sending what was queued (GOODBYE-OK, a last notice) until the
// connection closes, so its bytes out stay read live until then.
type byteTotals struct {
	mu      sync.Mutex
	in, out uint64       // of ended connections
	closing []*zmtp.Conn // retired, writer possibly still sending
}

// retire adds c's bytes in to the totals and follows its bytes out until
// it closes. Called with Broker.mu held, in the same critical section that
// takes c's peer out of Broker.peers, so that no scrape sees it in neither.
func (t *byteTotals) retire(c *zmtp.Conn) {
	t.mu.Lock()
	t.in += c.BytesReceived()
	t.closing = append(t.closing, c)
	t.foldLocked()
	t.mu.Unlock()
}

// foldLocked moves the bytes out of closed connections into the totals
// and returns what the others have sent so far.
func (t *byteTotals) foldLocked() (open uint64) {
	keep := t.closing[:0]
	for _, c := range t.closing {
		select {
		case <-c.Done():
			t.out += c.BytesSent()
		default:
			open += c.BytesSent()
			keep = append(keep, c)
		}
	}
	clear(t.closing[len(keep):])
	t.closing = keep
	return open
}

// totals returns the bytes in and out of every ended connection.
func (t *byteTotals) totals() (in, out uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	open := t.foldLocked()
	return t.in, t.out + open
}
