package broker

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// LastStore persists last values: one record per address. The store
// package's Store satisfies it (bucket "last").
type LastStore interface {
	ForEach(bucket string, fn func(k, v []byte) error) error
	WriteBatch(bucket string, puts map[string][]byte, deletes []string) error
}

const lastBucket = "last"

// storedValue is a last value's record in the store.
type storedValue struct {
	Sender  string            `json:"sender"`
	Address string            `json:"address"`
	Headers map[string]string `json:"headers,omitempty"`
	Content [][]byte          `json:"content"`
	Stored  int64             `json:"stored"` // unix ns
}

// persister writes last values behind the publish path: a PUBLISH only
// notes the address as pending; one goroutine commits every pending
// address in one transaction (group commit), so a burst of retained
// publishes costs one fsync. A value is on disk one commit after its
// PUBLISH (RetainStats.Pending says how many are not yet).
type persister struct {
	store LastStore
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*lastValue // nil value: delete; guarded by mu
	writing int                   // changes in the transaction being committed; guarded by mu
	wake    chan struct{}         // cap 1
	stop    chan struct{}
	done    chan struct{}

	written atomic.Uint64 // records put or deleted
	commits atomic.Uint64
	failed  atomic.Uint64
}

// enqueue notes that address changed (lv nil: deleted). Safe on a nil
// persister (memory only).
func (ps *persister) enqueue(address string, lv *lastValue) {
	if ps == nil {
		return
	}
	ps.mu.Lock()
	ps.pending[address] = lv
	ps.mu.Unlock()
	select {
	case ps.wake <- struct{}{}:
	default:
	}
}

func (ps *persister) run() {
	defer close(ps.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-ps.wake:
		case <-retry.C:
		case <-ps.stop:
			ps.flush()
			return
		}
		if err := ps.flush(); err != nil {
			ps.log.Error("cannot persist last values; retrying", "err", err)
			retry.Reset(time.Second)
		}
	}
}

// flush commits everything pending; on failure it stays pending (unless
// a newer change replaced it meanwhile).
func (ps *persister) flush() error {
	ps.mu.Lock()
	batch := ps.pending
	ps.pending = make(map[string]*lastValue, len(batch))
	ps.writing = len(batch)
	ps.mu.Unlock()
	defer func() {
		ps.mu.Lock()
		ps.writing = 0
		ps.mu.Unlock()
	}()
	if len(batch) == 0 {
		return nil
	}
	puts := map[string][]byte{}
	var dels []string
	for addr, lv := range batch {
		if lv == nil {
			dels = append(dels, addr)
			continue
		}
		rec, err := json.Marshal(storedValue{Sender: lv.sender, Address: lv.address, Headers: lv.headers, Content: lv.content, Stored: lv.stored.UnixNano()})
		if err != nil {
			return err
		}
		puts[addr] = rec
	}
	if err := ps.store.WriteBatch(lastBucket, puts, dels); err != nil {
		ps.failed.Add(1)
		ps.mu.Lock()
		for addr, lv := range batch {
			if _, newer := ps.pending[addr]; !newer {
				ps.pending[addr] = lv
			}
		}
		ps.mu.Unlock()
		return err
	}
	ps.commits.Add(1)
	ps.written.Add(uint64(len(batch)))
	return nil
}

func (ps *persister) pendingCount() int {
	if ps == nil {
		return 0
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.pending) + ps.writing
}

// load reads every stored value, oldest first.
func load(st LastStore) ([]*lastValue, error) {
	var out []*lastValue
	err := st.ForEach(lastBucket, func(k, v []byte) error {
		var rec storedValue
		if err := json.Unmarshal(v, &rec); err != nil || rec.Address != string(k) {
			return fmt.Errorf("broker: bad last value record for %q: %v", k, err)
		}
		lv := &lastValue{address: rec.Address, sender: rec.Sender, headers: rec.Headers, content: rec.Content, stored: time.Unix(0, rec.Stored)}
		if lv.headers == nil {
			lv.headers = map[string]string{}
		}
		lv.size = int64(len(lv.address) + len(lv.sender) + 64)
		for k, v := range lv.headers {
			lv.size += int64(len(k) + len(v))
		}
		for _, f := range lv.content {
			lv.size += int64(len(f))
		}
		out = append(out, lv)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].stored.Before(out[j].stored) })
	return out, err
}
