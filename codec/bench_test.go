package codec_test

import (
	"testing"

	"github.com/zccp-go/zccp/codec"
)

func BenchmarkParsePublish(b *testing.B) {
	frame := loadGolden(b, "publish-headers")[0]
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDeliver(b *testing.B) {
	v, err := codec.Parse(loadGolden(b, "publish-headers")[0])
	if err != nil {
		b.Fatal(err)
	}
	sender := []byte("dev-a")
	extra := []codec.Header{{Name: "x-hop", Value: "1"}}
	size := codec.DeliverSize(sender, v.Address, v.Headers, extra)
	buf := make([]byte, 0, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		buf = codec.AppendDeliver(buf[:0], sender, v.Address, v.Headers, extra)
	}
}

func BenchmarkDecode(b *testing.B) {
	frames := loadGolden(b, "publish-headers")
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Decode(frames); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	var msg codec.Message
	for _, g := range goldens {
		if g.file == "publish-headers" {
			msg = g.msg
		}
	}
	size, err := msg.CommandSize()
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = msg.AppendCommand(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
