package zmtp

import (
	"testing"
)

// BenchmarkCurveWrite: the writer's cost of sending one 2-frame message
// (a ZCCP DELIVER: command frame and 100-byte content) through CURVE.
func BenchmarkCurveWrite(b *testing.B) {
	kp := mustKeyPair(b)
	key, _ := precompute(&kp.Public, &kp.Secret)
	out := &sinkConn{}
	cc := &curveConn{Conn: out, cipher: newCurveCipher(key, false, 1, 0)}
	msg := AppendMessage(nil, [][]byte{make([]byte, 40), make([]byte, 100)})
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		out.buf.Reset()
		if _, err := cc.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCurveRead: the reader's cost of decrypting that message.
func BenchmarkCurveRead(b *testing.B) {
	kp := mustKeyPair(b)
	key, _ := precompute(&kp.Public, &kp.Secret)
	out := &sinkConn{}
	enc := &curveConn{Conn: out, cipher: newCurveCipher(key, true, 2, 0)}
	msg := AppendMessage(nil, [][]byte{make([]byte, 40), make([]byte, 100)})
	for i := 0; i < 1000; i++ {
		enc.Write(msg)
	}
	wire := out.buf.Bytes()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dec := &curveConn{raw: newReader(&loopReader{data: wire}, 1<<20, 8), cipher: newCurveCipher(key, false, 1, 0)}
		plain := newReader(dec, 1<<20, 8)
		b.StartTimer()
		for i := 0; i < 1000; i++ {
			if _, _, err := plain.readMessage(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
