package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/store"
)

// rawPeer connects a hand-framed ZMTP peer (not our client library) and
// says HELLO.
func rawPeer(t *testing.T, ctx context.Context, ep, ident string) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, ident); err != nil {
		t.Fatal(err)
	}
	return p
}

var retain = []rawpeer.Header{{Name: "zccp-retain", Value: "1"}}

func nextDeliver(t *testing.T, ctx context.Context, p *rawpeer.Peer) *rawpeer.Message {
	t.Helper()
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == rawpeer.Deliver {
			return m
		}
	}
}

func TestLastValuesFirstThenLive(t *testing.T) {
	b, eps := startBroker(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := rawPeer(t, ctx, eps[0], "pdu-1")
	pub.Publish("power.rack1", append([]rawpeer.Header{{Name: "unit", Value: "W"}}, retain...), []byte("410"))
	pub.Publish("power.rack2", retain, []byte("380"))
	pub.Publish("power.rack3", nil, []byte("not kept"))
	pub.Publish("power.rack2", retain) // no content: clears rack2
	pub.Publish("temp.rack1", retain, []byte("31"))
	// The count passes 2 once before the clear; temp.rack1, published last,
	// being kept means the publisher's earlier messages were all handled.
	testutil.Eventually(t, "two last values, the last one temp.rack1", func() bool {
		lv, err := b.LastValues(`^temp\.`)
		return err == nil && len(lv) == 1 && b.RetainStats().Values == 2
	})

	sub := rawPeer(t, ctx, eps[1], "dashboard")
	if err := sub.Subscribe(ctx, `^power\.`, rawpeer.Header{Name: "zccp-last", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	m := nextDeliver(t, ctx, sub)
	unit, _ := m.Header("unit")
	ret, _ := m.Header("zccp-retained")
	age, hasAge := m.Header("zccp-age")
	if string(m.Sender) != "pdu-1" || string(m.Address) != "power.rack1" || string(m.Content[0]) != "410" || unit != "W" || ret != "1" || !hasAge {
		t.Fatalf("first delivery: %q %q %q unit=%q retained=%q age=%q", m.Sender, m.Address, m.Content, unit, ret, age)
	}
	if _, kept := m.Header("zccp-retain"); kept {
		t.Fatal("the stored copy still carries zccp-retain")
	}
	if a, err := strconv.Atoi(age); err != nil || a < 0 || a > 10_000 {
		t.Fatalf("zccp-age %q", age)
	}
	pub.Publish("power.rack9", nil, []byte("live"))
	m = nextDeliver(t, ctx, sub)
	if string(m.Address) != "power.rack9" || string(m.Content[0]) != "live" {
		t.Fatalf("then live: %q %q", m.Address, m.Content)
	}
	if _, r := m.Header("zccp-retained"); r {
		t.Fatal("a live delivery is marked retained")
	}
	// A subscriber without zccp-last gets no last values.
	plain := rawPeer(t, ctx, eps[0], "plain")
	plain.Subscribe(ctx, `^temp\.`)
	pub.Publish("temp.rack1", nil, []byte("32"))
	if m := nextDeliver(t, ctx, plain); string(m.Content[0]) != "32" {
		t.Fatalf("plain subscriber got %q first", m.Content)
	}
}

func TestLastValuesBounded(t *testing.T) {
	b, eps := startBroker(t, Config{})
	if err := b.EnableRetain(RetainConfig{MaxValues: 3, MaxBytes: 4096}); err != nil {
		t.Fatal(err)
	}
	if err := b.EnableRetain(RetainConfig{MaxValues: -1}); err == nil {
		t.Fatal("negative bound accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := rawPeer(t, ctx, eps[0], "p")
	for i := range 5 {
		pub.Publish(fmt.Sprint("a", i), retain, []byte("v"))
	}
	testutil.Eventually(t, "evicted to 3", func() bool { return b.RetainStats().Evicted == 2 })
	vals, _ := b.LastValues(".")
	if len(vals) != 3 || vals[0].Address != "a2" || vals[2].Address != "a4" {
		t.Fatalf("kept %v", vals)
	}
	// By bytes: a 4000-byte value (4068 accounted) evicts every older
	// one; a value over the whole bound is not kept.
	pub.Publish("big", retain, make([]byte, 4000))
	testutil.Eventually(t, "big kept alone", func() bool { st := b.RetainStats(); return st.Values == 1 && st.Bytes == 4068 })
	pub.Publish("huge", retain, make([]byte, 5000))
	pub.Publish("after", retain, []byte("x"))
	testutil.Eventually(t, "after kept", func() bool { v, _ := b.LastValues("^after$"); return len(v) == 1 })
	if v, _ := b.LastValues("^huge$"); len(v) != 0 {
		t.Fatal("a value over the byte bound was kept")
	}
	if st := b.RetainStats(); st.Bytes > 4096 || st.Values > 3 {
		t.Fatalf("over the bounds: %+v", st)
	}
}

// TestLastValueNoGapNoDuplicate: a publisher sends sequence numbers as
// retained values to one address while subscribers with zccp-last join
// at arbitrary moments. Each subscriber must see one run of consecutive
// numbers from where it joined to the end: the last value, then live,
// nothing missing and nothing twice.
func TestLastValueNoGapNoDuplicate(t *testing.T) {
	b, eps := startBroker(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n, subs = 3000, 8
	pub := rawPeer(t, ctx, eps[0], "counter")
	pub.Publish("seq", retain, u64(0))
	testutil.Eventually(t, "first value", func() bool { return b.RetainStats().Values == 1 })
	var wg sync.WaitGroup
	errs := make(chan error, subs)
	started := make(chan struct{}, subs)
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := rawpeer.Dial(ctx, eps[i%2])
			if err != nil {
				errs <- err
				return
			}
			defer p.Close()
			if err := p.Hello(ctx, fmt.Sprint("sub-", i)); err != nil {
				errs <- err
				return
			}
			started <- struct{}{}
			time.Sleep(time.Duration(i) * time.Millisecond) // spread the joins over the stream
			if err := p.Subscribe(ctx, "^seq$", rawpeer.Header{Name: "zccp-last", Value: "1"}); err != nil {
				errs <- err
				return
			}
			errs <- checkRun(ctx, p, n)
		}()
	}
	for range subs {
		<-started
	}
	for i := 1; i <= n; i++ {
		if err := pub.Publish("seq", retain, u64(uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// checkRun reads DELIVERs until sequence number last: the first must be
// marked retained, every later one live and one more than the one before.
func checkRun(ctx context.Context, p *rawpeer.Peer, last uint64) error {
	var prev uint64
	for first := true; ; first = false {
		var m *rawpeer.Message
		for {
			var err error
			if m, err = p.NextContext(ctx); err != nil {
				return err
			}
			if m.ID == rawpeer.Deliver {
				break
			}
		}
		seq := binary.BigEndian.Uint64(m.Content[0])
		_, retained := m.Header("zccp-retained")
		switch {
		case first && !retained:
			return fmt.Errorf("first delivery %d is not the retained value", seq)
		case !first && retained:
			return fmt.Errorf("retained value %d after live traffic", seq)
		case !first && seq != prev+1:
			return fmt.Errorf("after %d came %d (missed %d)", prev, seq, m.Missed())
		}
		if prev = seq; seq == last {
			return nil
		}
	}
}

// Last values persist: written behind the publish path in group commits,
// loaded by the next broker on the same store.
func TestLastValuesPersist(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, eps := startBroker(t, Config{})
	if err := b.EnableRetain(RetainConfig{Store: st}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := rawPeer(t, ctx, eps[0], "pdu")
	for i := range 200 {
		pub.Publish(fmt.Sprintf("power.outlet%03d", i), []rawpeer.Header{{Name: "zccp-retain", Value: "1"}, {Name: "unit", Value: "W"}}, []byte(strconv.Itoa(i)), []byte{0, 1, 2})
	}
	pub.Publish("power.outlet007", retain) // cleared
	testutil.Eventually(t, "all written", func() bool { s := b.RetainStats(); return s.Values == 199 && s.Pending == 0 })
	b.Close()
	b.CloseRetain()
	if s := b.RetainStats(); s.Written < 199 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}

	b2, _ := startBroker(t, Config{})
	if err := b2.EnableRetain(RetainConfig{Store: st}); err != nil {
		t.Fatal(err)
	}
	defer b2.CloseRetain()
	vals, _ := b2.LastValues(`^power\.`)
	if len(vals) != 199 {
		t.Fatalf("reloaded %d values", len(vals))
	}
	for _, v := range vals {
		if v.Address == "power.outlet007" || v.Sender != "pdu" || v.Headers["unit"] != "W" || len(v.Content) != 2 || v.Content[1][2] != 2 {
			t.Fatalf("reloaded %+v", v)
		}
	}
	if vals[0].Address != "power.outlet000" || vals[198].Address != "power.outlet199" {
		t.Fatalf("order: %s .. %s", vals[0].Address, vals[198].Address)
	}
}
