package zmtp

import (
	"testing"
	"time"
)

// TestLastReceivedWhileBusy: while the reading goroutine is busy with a
// message (here: its handler blocks), the peer counts as heard from now,
// however long that takes; once the reader waits in a read again and the
// peer is silent, LastReceived is when its bytes last arrived.
func TestLastReceivedWhileBusy(t *testing.T) {
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Conn, 1)
	release := make(chan struct{})
	s := &Server{Options: Options{Type: TypeRouter}}
	s.Handler = func(c *Conn, _ RoutingID) {
		if _, err := c.ReadMessage(); err != nil {
			return
		}
		got <- c
		<-release // busy with the message
		c.ReadMessage()
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	d, _ := dealer(t, EndpointOf(ln), DealerOptions{Options: Options{Type: TypeDealer}})
	if err := d.Send([]byte("one")); err != nil {
		t.Fatal(err)
	}
	c := <-got
	arrived := time.Now()
	for time.Since(arrived) < 50*time.Millisecond { // time passing is what is tested
		time.Sleep(5 * time.Millisecond)
	}
	if busy := c.LastReceived(); busy.Sub(arrived) < 50*time.Millisecond {
		t.Fatalf("busy reader: LastReceived %v before now", time.Since(busy))
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for !c.waiting.Load() {
		if time.Now().After(deadline) {
			t.Fatal("reader never waited in a read")
		}
		time.Sleep(time.Millisecond)
	}
	if last := c.LastReceived(); last.After(arrived) {
		t.Fatalf("waiting reader: LastReceived %v after the message arrived", last.Sub(arrived))
	}
}
