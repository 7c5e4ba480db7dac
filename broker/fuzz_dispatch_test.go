package broker

// FuzzDispatch fuzzes the broker's dispatcher over a real socket: each
// input becomes a sequence of ZCCP messages (frames of arbitrary bytes,
// often with a valid signature and command id so that the fuzzer reaches
// the handlers) sent on a fresh ZMTP connection to one broker per fuzz
// process. For every input it checks that:
//
//   - the broker never panics (a panic kills the fuzz worker: a crash);
//   - the connection survives any ZCCP-level garbage, and the broker's
//     answers are exactly the ones the session grammar of
//     docs/protocol.md §4 prescribes (HELLO-OK, SUBSCRIBE-OK, GOODBYE-OK,
//     PING-OK, INVALID, in order; DELIVERs are notices and deliveries);
//   - everything the broker sends decodes, and every error notice has a
//     known code and a reason;
//   - a fresh connection still gets HELLO-OK and PING-OK;
//   - once the connection closes, everything it held is freed (sessions,
//     subscriptions, outstanding requests, connections);
//   - an observer subscribed to every address only ever receives
//     decodable messages.
//
// Input layout: byte 0 holds flags (bit 0: say HELLO first; bit 1: use
// the ipc endpoint instead of tcp). Then messages: a header byte h gives
// 1 + h&3 frames; when h&4 is set, frame 1 starts with the signature
// AA AA and command id (h>>3)&15 (so ids 0 and 13–15, unknown, occur
// too); each frame is a length byte and that many bytes (cut short at
// the end of the input).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// maxFuzzMessages bounds the messages taken from one input.
const maxFuzzMessages = 64

// splitDispatch turns fuzz bytes into messages (see the layout above).
func splitDispatch(data []byte) [][][]byte {
	var msgs [][][]byte
	for len(data) > 0 && len(msgs) < maxFuzzMessages {
		h := data[0]
		data = data[1:]
		n := 1 + int(h&3)
		frames := make([][]byte, 0, n)
		for i := 0; i < n; i++ {
			var f []byte
			if i == 0 && h&4 != 0 {
				f = []byte{0xAA, 0xAA, (h >> 3) & 15}
			}
			if len(data) > 0 {
				l := min(int(data[0]), len(data)-1)
				f = append(f, data[1:1+l]...)
				data = data[1+l:]
			}
			frames = append(frames, f)
		}
		msgs = append(msgs, frames)
	}
	return msgs
}

// joinDispatch is the inverse of splitDispatch for seeds: each message is
// an encoded command (frame 1 with its signature) and its content frames.
func joinDispatch(flags byte, msgs ...codec.Message) []byte {
	out := []byte{flags}
	for _, m := range msgs {
		frames, err := m.Frames()
		if err != nil {
			panic(err)
		}
		if len(frames) > 4 {
			frames = frames[:4]
		}
		h := byte(len(frames)-1) | 4 | byte(m.ID)<<3
		out = append(out, h)
		for i, f := range frames {
			if i == 0 {
				f = f[3:]
			}
			f = f[:min(len(f), 255)]
			out = append(out, byte(len(f)))
			out = append(out, f...)
		}
	}
	return out
}

// expectedAnswers is the session grammar of docs/protocol.md §4 as a
// model: the broker's answers (other than DELIVERs) to msgs, and whether
// a session is open afterwards.
func expectedAnswers(session bool, msgs [][][]byte) ([]codec.ID, bool) {
	var want []codec.ID
	for _, frames := range msgs {
		v, err := codec.Parse(frames[0])
		if err == nil && len(frames) > 1 && !v.ID.HasContent() {
			err = errors.New("content after a command without content")
		}
		switch {
		case err != nil: // malformed: notice, INVALID, session forgotten
			want, session = append(want, codec.Invalid), false
		case !session && v.ID == codec.Hello:
			if v.Headers.Len() <= DefaultMaxHeaders { // else a notice and no session
				want, session = append(want, codec.HelloOK), true
			}
		case !session:
			want = append(want, codec.Invalid)
		case v.ID == codec.Subscribe:
			want = append(want, codec.SubscribeOK)
		case v.ID == codec.Publish, v.ID == codec.Direct, v.ID == codec.PingOK:
		case v.ID == codec.Goodbye:
			want, session = append(want, codec.GoodbyeOK), false
		case v.ID == codec.Ping:
			want = append(want, codec.PingOK)
		default: // HELLO again, or a command only the broker sends
			want, session = append(want, codec.Invalid), false
		}
	}
	return want, session
}

var knownNoticeCodes = map[string]bool{
	codec.ErrCodeMalformed: true, codec.ErrCodeTooLarge: true, codec.ErrCodeTooManyHeaders: true,
	codec.ErrCodeBadExpression: true, codec.ErrCodeTooManySubs: true, codec.ErrCodeNoSuchClient: true,
	codec.ErrCodeQueueFull: true, codec.ErrCodeReserved: true, codec.ErrCodeTakenOver: true,
	codec.ErrCodeTooManyClients: true, codec.ErrCodeBadSequence: true, codec.ErrCodeExpired: true,
	codec.ErrCodeDisconnected: true, codec.ErrCodeTooManyRequests: true, codec.ErrCodeNoSuchMethod: true,
	codec.ErrCodeBadRequest: true,
}

// fuzzRead returns the next message, skipping broker PINGs without
// answering them (a PING-OK outside a session would add an INVALID).
func fuzzRead(t *testing.T, nc net.Conn, c *zmtp.Conn, deadline time.Time) *codec.Message {
	t.Helper()
	for {
		nc.SetReadDeadline(deadline)
		frames, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("the broker stopped answering or closed the connection: %v", err)
		}
		m, err := codec.Decode(frames)
		if err != nil {
			t.Fatalf("the broker sent an undecodable message: %v", err)
		}
		if m.ID == codec.Ping {
			continue
		}
		if m.ID == codec.Deliver && m.Sender == codec.NoticeSender && m.Address == codec.AddrError {
			if code := m.Headers[codec.HdrError]; !knownNoticeCodes[code] || m.Headers[codec.HdrReason] == "" {
				t.Fatalf("notice with code %q, reason %q", code, m.Headers[codec.HdrReason])
			}
		}
		return m
	}
}

func fuzzDial(t *testing.T, ep string) (net.Conn, *zmtp.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	nc, err := zmtp.Dial(ctx, ep)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return nc, c
}

func fuzzSend(t *testing.T, c *zmtp.Conn, frames ...[]byte) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := c.Send(frames...)
		if err == nil {
			return
		}
		if !errors.Is(err, zmtp.ErrQueueFull) || time.Now().After(deadline) {
			t.Fatalf("send: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

func fuzzSendMsg(t *testing.T, c *zmtp.Conn, m codec.Message) {
	t.Helper()
	frames, err := m.Frames()
	if err != nil {
		t.Fatal(err)
	}
	fuzzSend(t, c, frames...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// fuzzObserver subscribes to every address and checks that whatever the
// broker sends it decodes; it answers PINGs so that it never expires.
type fuzzObserver struct {
	conn *zmtp.Conn
	bad  atomic.Value // string: first problem seen
	done chan struct{}
}

func startObserver(f *testing.F, ep, ident string) *fuzzObserver {
	nc, err := zmtp.Dial(context.Background(), ep)
	if err != nil {
		f.Fatal(err)
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer})
	if err != nil {
		f.Fatal(err)
	}
	o := &fuzzObserver{conn: c, done: make(chan struct{})}
	for _, m := range []codec.Message{{ID: codec.Hello, Identifier: ident}, {ID: codec.Subscribe, Expression: "."}} {
		frames, _ := m.Frames()
		c.Send(frames...)
	}
	pingOK, _ := (&codec.Message{ID: codec.PingOK}).Frames()
	go func() {
		defer close(o.done)
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				return
			}
			m, err := codec.Decode(frames)
			if err != nil {
				o.bad.CompareAndSwap(nil, fmt.Sprintf("observer got an undecodable message: %v", err))
				continue
			}
			switch m.ID {
			case codec.Ping:
				c.Send(pingOK...)
			case codec.HelloOK, codec.SubscribeOK, codec.Deliver:
			default:
				o.bad.CompareAndSwap(nil, fmt.Sprintf("observer got %s", m.ID))
			}
		}
	}()
	return o
}

func FuzzDispatch(f *testing.F) {
	b, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	tcp, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	ipc, err := b.Listen("ipc://@/zccp-fuzz-" + randomHex(8))
	if err != nil {
		f.Fatal(err)
	}
	eps := [2]string{tcp, ipc}
	obs := startObserver(f, tcp, "observer-"+randomHex(8))
	f.Cleanup(func() {
		obs.conn.Close()
		b.Close()
		<-obs.done
	})
	deadline := time.Now().Add(5 * time.Second)
	for s := b.Stats(); s.Sessions != 1 || s.Subscriptions != 1; s = b.Stats() {
		if time.Now().After(deadline) {
			f.Fatalf("observer not subscribed: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}

	// Seeds: every command, well-formed, in and out of sequence, and the
	// extensions' interesting paths.
	self := codec.Message{ID: codec.Direct, Address: "fz", Headers: codec.Headers{"k": "v"}, Content: [][]byte{[]byte("x")}}
	req := codec.Message{ID: codec.Direct, Address: "fz", Headers: codec.Headers{codec.HdrRequestID: "1", codec.HdrMethod: "m", codec.HdrTTL: "100"}}
	group := codec.Message{ID: codec.Publish, Address: "g", Headers: codec.Headers{codec.HdrRequestID: "2", codec.HdrMethod: "m", codec.HdrSelect: "a=b"}}
	api := codec.Message{ID: codec.Direct, Address: codec.NoticeSender, Headers: codec.Headers{codec.HdrRequestID: "3", codec.HdrMethod: codec.MethodClients}}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(joinDispatch(0, codec.Message{ID: codec.Hello, Identifier: "fz", Headers: codec.Headers{"kind": "pdu"}},
		codec.Message{ID: codec.Subscribe, Expression: `^power\.`},
		codec.Message{ID: codec.Publish, Address: "power.1", Headers: codec.Headers{"unit": "W"}, Content: [][]byte{[]byte("42"), {}}},
		self, codec.Message{ID: codec.Ping}, codec.Message{ID: codec.PingOK}, codec.Message{ID: codec.Goodbye}))
	f.Add(joinDispatch(1, codec.Message{ID: codec.Subscribe, Expression: "(a*)*"},
		codec.Message{ID: codec.Subscribe, Expression: "x", Headers: codec.Headers{codec.HdrCancel: "1"}},
		codec.Message{ID: codec.Publish, Address: "$zccp.x"},
		codec.Message{ID: codec.Publish, Address: "a", Headers: codec.Headers{codec.HdrMissed: "3"}},
		codec.Message{ID: codec.Direct, Address: "nobody"}, req, group, api,
		codec.Message{ID: codec.Direct, Address: "fz", Headers: codec.Headers{codec.HdrReplyTo: "1", codec.HdrStatus: "ok"}},
		codec.Message{ID: codec.Direct, Address: "fz", Headers: codec.Headers{codec.HdrCancelRequest: "1"}}))
	f.Add(joinDispatch(3, codec.Message{ID: codec.Hello, Identifier: "again"}, codec.Message{ID: codec.HelloOK},
		codec.Message{ID: codec.Deliver, Sender: "s", Address: "a"}, codec.Message{ID: codec.Invalid},
		codec.Message{ID: codec.GoodbyeOK}, codec.Message{ID: codec.SubscribeOK}, codec.Message{ID: codec.Hello}))
	f.Add([]byte{1, 4, 0, 4 | 13<<3, 0, 0xff, 5, 0xAA, 0xAB, 5, 0, 0, 2, 0, 0}) // unknown ids, bad signature, empty frames
	f.Add(joinDispatch(1, codec.Message{ID: codec.Subscribe, Expression: `^\$zccp\.presence\.`},
		codec.Message{ID: codec.Publish, Address: "", Headers: codec.Headers{codec.HdrRequestID: "4", codec.HdrDryRun: "1"}},
		codec.Message{ID: codec.Direct, Address: "fz", Headers: codec.Headers{codec.HdrRequestID: "5", codec.HdrTTL: "x"}}))

	var iter atomic.Uint64
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8192 {
			data = data[:8192]
		}
		var flags byte
		if len(data) > 0 {
			flags, data = data[0], data[1:]
		}
		msgs := splitDispatch(data)
		ep := eps[flags>>1&1]
		nonce := fmt.Sprintf("%d-%s", iter.Add(1), randomHex(8))
		deadline := time.Now().Add(5 * time.Second)

		nc, c := fuzzDial(t, ep)
		defer c.Close()
		var want []codec.ID
		session := false
		if flags&1 != 0 {
			fuzzSendMsg(t, c, codec.Message{ID: codec.Hello, Identifier: "fz"})
			want, session = append(want, codec.HelloOK), true
		}
		for _, frames := range msgs {
			fuzzSend(t, c, frames...)
		}
		more, session := expectedAnswers(session, msgs)
		want = append(want, more...)
		// End any session, start one with an unguessable identifier, and
		// DIRECT a nonce to ourselves: when it comes back, every answer
		// to the input has arrived before it.
		fuzzSendMsg(t, c, codec.Message{ID: codec.Goodbye})
		if session {
			want = append(want, codec.GoodbyeOK)
		} else {
			want = append(want, codec.Invalid)
		}
		syncID := "fz-sync-" + nonce
		fuzzSendMsg(t, c, codec.Message{ID: codec.Hello, Identifier: syncID})
		want = append(want, codec.HelloOK)
		fuzzSendMsg(t, c, codec.Message{ID: codec.Direct, Address: syncID, Content: [][]byte{[]byte(nonce)}})
		var got []codec.ID
		for {
			m := fuzzRead(t, nc, c, deadline)
			if m.ID == codec.Deliver {
				if m.Sender == syncID && len(m.Content) == 1 && string(m.Content[0]) == nonce {
					break
				}
				continue
			}
			got = append(got, m.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("answers %v, want %v (session grammar, docs/protocol.md §4) for %d messages", got, want, len(msgs))
		}
		c.Close()

		// A fresh connection is served normally.
		nc2, c2 := fuzzDial(t, eps[0])
		defer c2.Close()
		fuzzSendMsg(t, c2, codec.Message{ID: codec.Hello, Identifier: "fz-fresh-" + nonce})
		fuzzSendMsg(t, c2, codec.Message{ID: codec.Ping})
		for _, id := range []codec.ID{codec.HelloOK, codec.PingOK} {
			if m := fuzzRead(t, nc2, c2, deadline); m.ID != id {
				t.Fatalf("fresh connection: got %s, want %s", m.ID, id)
			}
		}
		c2.Close()

		// Everything both connections held is freed; only the observer
		// remains.
		for {
			s := b.Stats()
			if s.Connections == 1 && s.Sessions == 1 && s.Subscriptions == 1 && s.Inflight == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("resources not freed after the connection closed: %+v", s)
			}
			time.Sleep(100 * time.Microsecond)
		}
		if bad := obs.bad.Load(); bad != nil {
			t.Fatal(bad)
		}
	})
}
