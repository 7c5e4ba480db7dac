package broker

import (
	"container/list"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/match"
)

// Last values ("retain"): a PUBLISH with zccp-retain: 1 is kept as its
// address's last value; a SUBSCRIBE with zccp-last: 1 first gets every
// matching last value, then live traffic.
//
// Ordering: a retained PUBLISH holds retainer.mu from storing the value
// until its live deliveries are queued, and a SUBSCRIBE with zccp-last
// holds it from queueing the last values until the expression is in the
// index (subscribeLast). So each retained message reaches a new subscriber exactly once:
// either it was stored before (then it is among the last values, and the
// live match ran before the subscriber was in the index) or after (then
// it comes live). Any live message, retained or not, is matched only
// once the expression is in the index, so after every last value. Lock
// order: retainer.mu, then the index, then outboxes.

// Defaults of RetainConfig.
const (
	DefaultRetainValues = 10_000
	DefaultRetainBytes  = 16 << 20
)

// RetainConfig bounds the last values and names their store.
type RetainConfig struct {
	MaxValues int   // most addresses with a last value; 0: DefaultRetainValues
	MaxBytes  int64 // most bytes of last values (addresses, headers, content); 0: DefaultRetainBytes
	// Store persists the last values (nil: memory only). EnableRetain
	// loads them from it.
	Store LastStore
}

func (c RetainConfig) withDefaults() (RetainConfig, error) {
	if c.MaxValues < 0 || c.MaxBytes < 0 {
		return c, fmt.Errorf("broker: retain limits must not be negative (values %d, bytes %d)", c.MaxValues, c.MaxBytes)
	}
	if c.MaxValues == 0 {
		c.MaxValues = DefaultRetainValues
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultRetainBytes
	}
	return c, nil
}

// lastValue is one stored message; immutable once stored.
type lastValue struct {
	address, sender string
	headers         codec.Headers // the publisher's, without zccp-retain
	content         [][]byte
	stored          time.Time
	size            int64
	elem            *list.Element
}

// retainer holds the last values. Its zero value works (memory only,
// default limits).
type retainer struct {
	mu      sync.Mutex
	cfg     RetainConfig          // guarded by mu
	vals    map[string]*lastValue // by address; guarded by mu
	order   list.List             // of *lastValue, oldest first; guarded by mu
	bytes   int64                 // guarded by mu
	evicted uint64                // guarded by mu
	persist *persister            // nil: memory only; set by EnableRetain
}

func noop() {}

// retainPublish runs first in publish: for a retained PUBLISH it stores
// the value and returns with retainer.mu held until the caller has
// queued the live deliveries (the returned function unlocks).
func (p *peer) retainPublish(s *session, v codec.View, content [][]byte) (unlock func()) {
	if v.Headers.Len() == 0 {
		return noop
	}
	if r, ok := v.Headers.Get(codec.HdrRetain); !ok || string(r) != "1" {
		return noop
	}
	if _, isRequest := v.Headers.Get(codec.HdrRequestID); isRequest {
		return noop
	}
	rt := &p.b.ret
	rt.mu.Lock()
	rt.put(s.ident, string(v.Address), v.Headers, content, p.fx.now())
	return rt.mu.Unlock
}

// put stores (or with no content, or only empty frames, clears) the last
// value of address; the caller holds mu.
func (rt *retainer) put(sender, address string, raw codec.RawHeaders, content [][]byte, now time.Time) {
	cfg, _ := rt.cfg.withDefaults()
	if rt.vals == nil {
		rt.vals = map[string]*lastValue{}
	}
	if old := rt.vals[address]; old != nil {
		rt.remove(old)
	}
	if isEmpty(content) {
		rt.persist.enqueue(address, nil)
		return
	}
	lv := &lastValue{address: address, sender: sender, headers: codec.Headers{}, stored: now}
	lv.size = int64(len(address) + len(sender) + 64)
	for k, v := range raw.All() {
		if string(k) != codec.HdrRetain {
			lv.headers[string(k)] = string(v)
			lv.size += int64(len(k) + len(v))
		}
	}
	lv.content = make([][]byte, len(content))
	for i, f := range content {
		lv.content[i] = append([]byte(nil), f...)
		lv.size += int64(len(f))
	}
	if lv.size > cfg.MaxBytes {
		rt.persist.enqueue(address, nil) // too large to keep: the old value is gone too
		return
	}
	rt.insert(lv)
	rt.persist.enqueue(address, lv)
	rt.evict(cfg)
}

func isEmpty(content [][]byte) bool {
	for _, f := range content {
		if len(f) > 0 {
			return false
		}
	}
	return true
}

func (rt *retainer) insert(lv *lastValue) {
	if rt.vals == nil {
		rt.vals = map[string]*lastValue{}
	}
	lv.elem = rt.order.PushBack(lv)
	rt.vals[lv.address] = lv
	rt.bytes += lv.size
}

func (rt *retainer) remove(lv *lastValue) {
	rt.order.Remove(lv.elem)
	delete(rt.vals, lv.address)
	rt.bytes -= lv.size
}

// evict drops the oldest values until both bounds hold.
func (rt *retainer) evict(cfg RetainConfig) {
	for len(rt.vals) > cfg.MaxValues || rt.bytes > cfg.MaxBytes {
		oldest := rt.order.Front().Value.(*lastValue)
		rt.remove(oldest)
		rt.evicted++
		rt.persist.enqueue(oldest.address, nil)
	}
}

// subscribeLast handles a SUBSCRIBE with zccp-last: 1 that subscribe
// would accept, and reports whether it did (otherwise subscribe runs as
// usual and answers the error). Under retainer.mu it queues SUBSCRIBE-OK,
// then every matching last value, then adds the expression to the index:
// the last values come after SUBSCRIBE-OK (clients that skip DELIVERs
// while waiting for it lose none) and before any live message.
func (p *peer) subscribeLast(s *session, v codec.View) bool {
	if v.Headers.Len() == 0 {
		return false
	}
	if l, ok := v.Headers.Get(codec.HdrLast); !ok || string(l) != "1" {
		return false
	}
	if c, ok := v.Headers.Get(codec.HdrCancel); ok && string(c) == "1" {
		return false
	}
	b := p.b
	if g := b.grant(s); g != nil && g.DeliversNothing() {
		return false // subscribe refuses it (policy_enforce.go)
	}
	expr := string(v.Expression)
	held := b.index.Has(s.ref, expr)
	if isSysExpr(expr) || v.Headers.Len() > b.cfg.MaxHeaders || (s.subs.Load() >= int64(b.cfg.MaxSubscriptions) && !held) {
		return false
	}
	pat, err := match.CompilePattern(expr)
	if err != nil {
		return false
	}
	rt := &b.ret
	rt.mu.Lock()
	defer rt.mu.Unlock()
	p.reply(codec.Message{ID: codec.SubscribeOK})
	now := p.fx.now()
	for e := rt.order.Front(); e != nil; e = e.Next() {
		lv := e.Value.(*lastValue)
		if pat.MatchString(lv.address) && b.mayDeliver(s, []byte(lv.address)) && !p.deliverLast(s, lv, now) {
			break
		}
	}
	added, err := b.index.Add(s.ref, expr)
	if err != nil {
		p.notice(codec.ErrCodeBadExpression, err.Error(), "SUBSCRIBE", expr)
	} else if added {
		s.subs.Add(1)
		if s.ended.Load() {
			b.index.RemoveAll(s.ref) // ended concurrently: leave nothing behind
		}
	}
	return true
}

// deliverLast queues one last value to s (a notification: droppable),
// marked zccp-retained with its age. It reports false when the queue
// refused it.
func (p *peer) deliverLast(s *session, lv *lastValue, now time.Time) bool {
	h := make(codec.Headers, len(lv.headers)+2)
	for k, v := range lv.headers {
		h[k] = v
	}
	h[codec.HdrRetained] = "1"
	h[codec.HdrAge] = strconv.FormatInt(now.Sub(lv.stored).Milliseconds(), 10)
	m := codec.Message{ID: codec.Deliver, Sender: lv.sender, Address: lv.address, Headers: h, Content: lv.content}
	if !p.fx.deliverMsg(s, m, true) {
		p.b.stats.refused.Add(1)
		return false
	}
	return true
}
