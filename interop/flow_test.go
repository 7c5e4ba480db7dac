package interop

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"testing"

	zmq "github.com/pebbe/zmq4"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
)

// TestLibzmqBackToBackNothingLost: a libzmq DEALER publishing as fast as
// libzmq sends (it coalesces queued messages into large writes, with no
// gap between them) reaches one and ten libzmq DEALER subscribers that
// keep up, without losing a message and without a zccp-missed report:
// the broker's writers are woken within a bounded number of messages and
// a full queue pauses the publisher (TCP pushes back into libzmq's send
// queue) before anything is dropped.
func TestLibzmqBackToBackNothingLost(t *testing.T) {
	cases := []struct{ subs, n, size int }{
		// More than a queue's 8 MiB each, so that a writer that is not
		// woken overflows its queue rather than only lagging.
		{1, 100000, 100},
		{10, 10000, 100},
		{1, 20000, 1 << 10},
		{2, 300, 64 << 10},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("1to%d_%dB", c.subs, c.size), func(t *testing.T) {
			b, eps := zccpBroker(t, broker.Config{})
			ep := eps[1] // tcp
			zctx := newZContext(t)
			subs := make([]*zccpPeer, c.subs)
			for i := range subs {
				subs[i] = newZccpPeer(t, zctx, ep)
				subs[i].send(codec.Message{ID: codec.Hello, Identifier: "sub" + strconv.Itoa(i)})
				subs[i].expect(codec.HelloOK)
				subs[i].send(codec.Message{ID: codec.Subscribe, Expression: "^load$"})
				subs[i].expect(codec.SubscribeOK)
			}
			pub := newZccpPeer(t, zctx, ep)
			pub.send(codec.Message{ID: codec.Hello, Identifier: "pub"})
			pub.expect(codec.HelloOK)

			errs := make([]error, len(subs))
			var wg sync.WaitGroup
			for i, s := range subs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = readSeqs(s.s, c.n)
				}()
			}
			f1, err := (&codec.Message{ID: codec.Publish, Address: "load"}).Frames()
			if err != nil {
				t.Fatal(err)
			}
			body := pattern(c.size, 7)
			for i := 1; i <= c.n; i++ {
				binary.BigEndian.PutUint64(body, uint64(i))
				if _, err := pub.s.SendBytes(f1[0], zmq.SNDMORE); err != nil {
					t.Fatal(err)
				}
				if _, err := pub.s.SendBytes(body, 0); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("sub%d: %v", i, err)
				}
			}
			if st := b.Stats(); st.Dropped != 0 || st.Refused != 0 {
				t.Fatalf("broker dropped %d, refused %d", st.Dropped, st.Refused)
			}
		})
	}
}

// readSeqs receives n numbered DELIVERs on a libzmq DEALER (answering
// PINGs) and checks they are 1..n in order with no zccp-missed.
func readSeqs(s *zmq.Socket, n int) error {
	for want := 1; want <= n; {
		frames, err := s.RecvMessageBytes(0)
		if err != nil {
			return fmt.Errorf("after %d: %w", want-1, err)
		}
		m, err := codec.Decode(frames)
		if err != nil {
			return err
		}
		switch m.ID {
		case codec.Ping:
			pong, _ := (&codec.Message{ID: codec.PingOK}).Frames()
			if _, err := s.SendBytes(pong[0], 0); err != nil {
				return err
			}
			continue
		case codec.Deliver:
		default:
			return fmt.Errorf("unexpected %s", m.ID)
		}
		if v, ok := m.Headers[codec.HdrMissed]; ok {
			return fmt.Errorf("zccp-missed %s before %d", v, want)
		}
		if len(m.Content) != 1 || len(m.Content[0]) < 8 {
			return fmt.Errorf("content %d frames", len(m.Content))
		}
		if got := int(binary.BigEndian.Uint64(m.Content[0])); got != want {
			return fmt.Errorf("got %d, want %d", got, want)
		}
		want++
	}
	return nil
}
