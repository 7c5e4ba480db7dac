package zmtp

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func appendN(o *Outbox, n int, class Class) (State, error) {
	return o.Append(n, class, func(b []byte) []byte { return append(b, make([]byte, n)...) })
}

// TestAppendStates: StateFirst on the message that makes the queue
// non-empty, StateHigh past three quarters with a Stalled channel that the
// writer's take closes, and no StateHigh once the overflow policy acted
// until the writer has taken the queue.
func TestAppendStates(t *testing.T) {
	o := NewOutbox(Limits{MaxBytes: 1000, MaxMessages: 100, Overflow: OverflowDropOldest})
	var stop atomic.Bool
	for i := 0; i < 10; i++ {
		st, err := appendN(o, 100, Notification)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st&StateFirst != 0, i == 0; got != want {
			t.Fatalf("message %d: first %v", i, got)
		}
		if got, want := st&StateHigh != 0, i >= 7; got != want { // 800 bytes > 750
			t.Fatalf("message %d: high %v", i, got)
		}
	}
	ch := o.Stalled()
	if ch == nil {
		t.Fatal("no stall channel after StateHigh")
	}
	// Full: the policy drops, and from then on no more StateHigh.
	st, err := appendN(o, 100, Notification)
	if err != nil || st&StateHigh != 0 || o.Dropped() == 0 {
		t.Fatalf("after overflow: state %v err %v dropped %d", st, err, o.Dropped())
	}
	select {
	case <-ch:
		t.Fatal("stall released before the writer took the queue")
	default:
	}
	b, ok := o.take(&stop)
	if !ok {
		t.Fatal("take")
	}
	o.release(b)
	<-ch // released by take
	if o.Stalled() != nil {
		t.Fatal("stall channel left after take")
	}
	for i := 0; i < 8; i++ {
		st, _ = appendN(o, 100, Notification)
	}
	if st&StateHigh == 0 {
		t.Fatal("StateHigh not reported again after the writer made progress")
	}
}

// TestBudgetSharedAndRefunded: outboxes sharing a budget cannot together
// hold more than it; notifications past it are dropped and counted,
// commands refused, control messages accepted; writing, dropping and
// closing refund it to zero.
func TestBudgetSharedAndRefunded(t *testing.T) {
	bud := NewBudget(1000)
	lim := Limits{MaxBytes: 1 << 20, MaxMessages: 1000, Overflow: OverflowDropOldest, Budget: bud}
	a, b := NewOutbox(lim), NewOutbox(lim)
	for i := 0; i < 5; i++ {
		if _, err := appendN(a, 100, Notification); err != nil {
			t.Fatal(err)
		}
		if _, err := appendN(b, 100, Command); err != nil {
			t.Fatal(err)
		}
	}
	if bud.Used() != 1000 {
		t.Fatalf("used %d, want 1000", bud.Used())
	}
	// b holds only commands: a command past the budget is refused.
	if _, err := appendN(b, 100, Command); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("command past the budget: %v", err)
	}
	// a drops its oldest notification to make room in the budget.
	if _, err := appendN(a, 100, Notification); err != nil || a.Dropped() == 0 {
		t.Fatalf("notification past the budget: %v, dropped %d", err, a.Dropped())
	}
	if bud.Used() > 1000 {
		t.Fatalf("used %d past the budget", bud.Used())
	}
	if _, err := appendN(b, 5, Control); err != nil {
		t.Fatalf("control message refused: %v", err)
	}
	var stop atomic.Bool
	batch, ok := a.take(&stop)
	if !ok {
		t.Fatal("take")
	}
	a.release(batch)
	b.close(false)
	if bud.Used() != 0 {
		t.Fatalf("budget not refunded: %d", bud.Used())
	}
}

// TestPatienceFollowsWriterProgress: a queue past its high-water mark
// stops asking producers to pause once its writer has made no progress
// for Limits.Patience, but a writer that keeps putting chunks of its batch
// on the wire (a consumer that reads steadily) keeps the pauses coming.
func TestPatienceFollowsWriterProgress(t *testing.T) {
	const patience = 200 * time.Millisecond
	high := func(progress bool) bool {
		o := NewOutbox(Limits{MaxBytes: 1000, MaxMessages: 100, Overflow: OverflowDropOldest, Patience: patience})
		for i := 0; i < 8; i++ { // past 750 bytes: the first StateHigh starts the patience
			appendN(o, 100, Notification)
		}
		for range 2 { // together well past the patience
			time.Sleep(patience * 3 / 4)
			if progress {
				o.progressed()
			}
		}
		st, err := appendN(o, 10, Notification)
		if err != nil {
			t.Fatal(err)
		}
		return st&StateHigh != 0
	}
	if high(false) {
		t.Fatal("a writer without progress still held producers after its patience")
	}
	if !high(true) {
		t.Fatal("a writer making progress lost its producers' pauses")
	}
}
