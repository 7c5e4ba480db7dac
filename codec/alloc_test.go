package codec_test

import (
	"fmt"
	"testing"

	"github.com/zccp-go/zccp/codec"
)

func assertNoAllocs(t *testing.T, what string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, f); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", what, n)
	}
}

func TestZeroAllocs(t *testing.T) {
	frame := loadGolden(t, "publish-headers")[0]
	var v codec.View
	var err error
	assertNoAllocs(t, "Parse(PUBLISH with headers)", func() {
		v, err = codec.Parse(frame)
	})
	if err != nil || v.Headers.Len() != 2 {
		t.Fatalf("Parse: %v", err)
	}

	// Dictionaries up to 64 entries are checked for duplicates on the stack.
	names := make([]string, 64)
	for i := range names {
		names[i] = fmt.Sprintf("header-%02d", 63-i)
	}
	big := dictFrame(names)
	assertNoAllocs(t, "Parse(64 headers)", func() {
		_, err = codec.Parse(big)
	})
	if err != nil {
		t.Fatal(err)
	}

	var got []byte
	var ok bool
	assertNoAllocs(t, "RawHeaders.Get", func() {
		got, ok = v.Headers.Get("priority")
	})
	if !ok || string(got) != "high" {
		t.Fatalf("Get = %q, %v", got, ok)
	}
	n := 0
	assertNoAllocs(t, "RawHeaders.All", func() {
		for name, value := range v.Headers.All() {
			n += len(name) + len(value)
		}
	})
	if n == 0 {
		t.Fatal("All yielded nothing")
	}

	sender := []byte("dev-a")
	extra := []codec.Header{{Name: "x-hop", Value: "1"}}
	buf := make([]byte, 0, codec.DeliverSize(sender, v.Address, v.Headers, extra))
	assertNoAllocs(t, "AppendDeliver", func() {
		buf = codec.AppendDeliver(buf[:0], sender, v.Address, v.Headers, extra)
	})
	if want := loadGolden(t, "deliver-headers")[0]; string(buf) != string(want) {
		t.Fatalf("AppendDeliver = %x, want %x", buf, want)
	}
}
