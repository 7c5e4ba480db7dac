package broker

import (
	"encoding/json"

	"github.com/zccp-go/zccp/codec"
	"time"

	"github.com/zccp-go/zccp/match"
)

// EnableRetain sets the bounds of the last values and, with a store,
// loads them from it and persists every change from now on. Call it
// before Listen. Without it last values work in memory with the default
// bounds. Stop the persistence with CloseRetain after Shutdown.
func (b *Broker) EnableRetain(cfg RetainConfig) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	rt := &b.ret
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.cfg = cfg
	if cfg.Store != nil && rt.persist == nil {
		vals, err := load(cfg.Store)
		if err != nil {
			return err
		}
		ps := &persister{store: cfg.Store, log: b.log, pending: map[string]*lastValue{},
			wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
		rt.persist = ps
		for _, lv := range vals {
			if old := rt.vals[lv.address]; old != nil {
				rt.remove(old)
			}
			rt.insert(lv)
		}
		rt.evict(cfg) // the bounds may be lower than when they were stored
		go ps.run()
		b.log.Info("last values loaded", "values", len(rt.vals), "bytes", rt.bytes)
	}
	rt.evict(cfg)
	return nil
}

// CloseRetain writes what is pending and stops the persistence (a no-op
// without a store).
func (b *Broker) CloseRetain() {
	b.ret.mu.Lock()
	ps := b.ret.persist
	b.ret.mu.Unlock()
	if ps == nil {
		return
	}
	select {
	case <-ps.stop:
	default:
		close(ps.stop)
	}
	<-ps.done
}

// LastValue is one address's last value.
type LastValue struct {
	Address string
	Sender  string
	Headers map[string]string
	Content [][]byte
	Stored  time.Time
}

// LastValues returns the last values whose address matches expr (a zrex
// expression, as SUBSCRIBE takes), oldest first.
func (b *Broker) LastValues(expr string) ([]LastValue, error) {
	pat, err := match.CompilePattern(expr)
	if err != nil {
		return nil, err
	}
	rt := &b.ret
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []LastValue
	for e := rt.order.Front(); e != nil; e = e.Next() {
		lv := e.Value.(*lastValue)
		if pat.MatchString(lv.address) {
			out = append(out, LastValue{Address: lv.address, Sender: lv.sender, Headers: lv.headers, Content: lv.content, Stored: lv.stored})
		}
	}
	return out, nil
}

// RetainStats describes the last values.
type RetainStats struct {
	Values  int    // addresses with a last value
	Bytes   int64  // their accounted size
	Evicted uint64 // values dropped to keep the bounds
	Pending int    // changes not yet committed to the store
	Written uint64 // changes committed to the store
	Failed  uint64 // store commits that failed (retried)
}

// RetainStats returns a snapshot of the last values' counters.
func (b *Broker) RetainStats() RetainStats {
	rt := &b.ret
	rt.mu.Lock()
	st := RetainStats{Values: len(rt.vals), Bytes: rt.bytes, Evicted: rt.evicted}
	ps := rt.persist
	rt.mu.Unlock()
	if ps != nil {
		st.Pending, st.Written, st.Failed = ps.pendingCount(), ps.written.Load(), ps.failed.Load()
	}
	return st
}

// LastRecord is one last value in the answer of the broker API method
// "last": one JSON object per content frame.
type LastRecord struct {
	Address string            `json:"address"`
	Sender  string            `json:"sender"`
	Headers map[string]string `json:"headers"`
	Content [][]byte          `json:"content"` // base64 in JSON
	AgeMS   int64             `json:"age_ms"`
}

// lastAPI answers the broker API method "last": the last values whose
// address matches the expression in zccp-select (empty: every one), aged
// at now (the asking peer's clock, which stored them).
func (b *Broker) lastAPI(s *session, id, expr string, now time.Time) codec.Message {
	if expr == "" {
		expr = "."
	}
	vals, err := b.LastValues(expr)
	if err != nil {
		return requestError(id, codec.NoticeSender, codec.ErrCodeBadExpression, err.Error())
	}
	lines := make([][]byte, 0, len(vals))
	for _, v := range vals {
		if !b.mayDeliver(s, []byte(v.Address)) { // policy_enforce.go: what it may not receive, it may not read
			continue
		}
		line, _ := json.Marshal(LastRecord{Address: v.Address, Sender: v.Sender, Headers: v.Headers, Content: v.Content, AgeMS: now.Sub(v.Stored).Milliseconds()})
		lines = append(lines, line)
	}
	// None: one empty frame, which stands for none (as for "clients").
	return brokerDeliver(s.ident, codec.Headers{codec.HdrReplyTo: id, codec.HdrStatus: codec.StatusOK}, lines, "")
}
