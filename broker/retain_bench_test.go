package broker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/store"
)

// BenchmarkRetainedPublish: one raw publisher, one raw subscriber over
// tcp; plain PUBLISH against zccp-retain (memory only, and persisted to a
// store) to 1000 rotating addresses. Compare the ns/op of the three.
func BenchmarkRetainedPublish(b *testing.B) {
	for _, mode := range []string{"plain", "retained", "retained-store"} {
		b.Run(mode, func(b *testing.B) {
			br, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			if mode == "retained-store" {
				st, err := store.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				br.EnableRetain(RetainConfig{Store: st})
				defer br.CloseRetain()
			}
			ep, err := br.Listen("tcp://127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sub, _ := rawpeer.Dial(ctx, ep)
			defer sub.Close()
			sub.Hello(ctx, "sub")
			sub.Subscribe(ctx, `^m\.`)
			pub, _ := rawpeer.Dial(ctx, ep)
			defer pub.Close()
			pub.Hello(ctx, "pub")
			var hs []rawpeer.Header
			if mode != "plain" {
				hs = []rawpeer.Header{{Name: "zccp-retain", Value: "1"}}
			}
			addrs := make([]string, 1000)
			for i := range addrs {
				addrs[i] = fmt.Sprintf("m.%04d", i)
			}
			body := make([]byte, 64)
			done := make(chan error, 1)
			b.ResetTimer()
			go func() {
				for got := 0; got < b.N; {
					m, err := sub.NextContext(ctx)
					if err != nil {
						done <- err
						return
					}
					if m.ID == rawpeer.Deliver {
						got++
					}
				}
				done <- nil
			}()
			for i := 0; i < b.N; i++ {
				if err := pub.Publish(addrs[i%len(addrs)], hs, body); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
