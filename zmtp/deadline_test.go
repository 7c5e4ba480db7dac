package zmtp

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestAppendDeadline: a command whose deadline passes while it is queued
// is dropped at write time and reported; one still in time is written
// with its TTL field refreshed.
func TestAppendDeadline(t *testing.T) {
	o := NewOutbox(Limits{})
	var expired []uint64
	o.SetExpireHandler(func(tag uint64) { expired = append(expired, tag) })
	queue := func(body string, deadline time.Time, tag uint64) {
		msg := AppendFrame(nil, []byte(body), false)
		_, err := o.AppendDeadline(len(msg), deadline, tag, func(b []byte) ([]byte, int) {
			at := len(b) + bytes.Index(msg, []byte("0000000000"))
			if !bytes.Contains(msg, []byte("0000000000")) {
				at = -1
			}
			return append(b, msg...), at
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	send := func(body string) {
		if err := o.Send([][]byte{[]byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	send("first")
	queue("late ttl=0000000000", now.Add(-time.Millisecond), 7)
	queue("ok ttl=0000000000", now.Add(time.Hour), 8)
	send("last")
	var stop atomic.Bool
	b, ok := o.take(&stop)
	if !ok {
		t.Fatal("take failed")
	}
	if len(expired) != 1 || expired[0] != 7 {
		t.Fatalf("expired %v, want [7]", expired)
	}
	rd := newReader(bytes.NewReader(b.b), 1<<20, 10)
	var got []string
	for {
		f, _, err := rd.readMessage()
		if err != nil {
			break
		}
		got = append(got, string(f[0]))
	}
	if len(got) != 3 || got[0] != "first" || got[2] != "last" || got[1][:7] != "ok ttl=" {
		t.Fatalf("written %q", got)
	}
	ms, err := strconv.Atoi(got[1][7:])
	if err != nil || ms < 3_590_000 || ms > 3_600_000 {
		t.Fatalf("ttl field %q (%v)", got[1][7:], err)
	}
}
