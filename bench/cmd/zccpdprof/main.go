// Command zccpdprof is zccpd with profiling, for the bench only: it
// starts the broker package exactly as cmd/zccpd does (the flags the
// bench passes) and writes a CPU profile of its whole life and an
// allocation profile when it receives SIGTERM or SIGINT.
//
//	zccpdprof --bind tcp://127.0.0.1:7878 --cpuprofile cpu.pprof --memprofile alloc.pprof
//
// Read them with: go tool pprof -top bin/zccpdprof cpu.pprof, and
// go tool pprof -sample_index=alloc_space -top bin/zccpdprof alloc.pprof.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/zmtp"
)

// binds is a repeatable --bind flag.
type binds []string

// String implements flag.Value.
func (b *binds) String() string { return strings.Join(*b, ",") }

// Set implements flag.Value.
func (b *binds) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var (
		eps       binds
		cfg       broker.Config
		logLevel  = flag.String("log-level", "warn", "debug, info, warn or error")
		shutdown  = flag.Duration("shutdown-timeout", time.Second, "how long to flush queues on SIGTERM")
		cpuPath   = flag.String("cpuprofile", "", "write a CPU profile to this file")
		memPath   = flag.String("memprofile", "", "write an allocation profile to this file at exit")
		memRate   = flag.Int("memprofilerate", runtime.MemProfileRate, "runtime.MemProfileRate")
		overflow  = flag.String("overflow", "drop-oldest", "drop-oldest or disconnect")
		maxSubs   = flag.Int("max-subscriptions", broker.DefaultMaxSubscriptions, "most subscriptions per client")
		maxClient = flag.Int("max-clients", broker.DefaultMaxClients, "most concurrent sessions")
	)
	flag.Var(&eps, "bind", "endpoint to bind, repeatable")
	flag.IntVar(&cfg.Queue.MaxBytes, "queue-bytes", zmtp.DefaultMaxQueuedBytes, "outbound queue bound per client, bytes")
	flag.IntVar(&cfg.Queue.MaxMessages, "queue-messages", zmtp.DefaultMaxQueuedMessages, "outbound queue bound per client, messages")
	flag.Parse()
	runtime.MemProfileRate = *memRate
	if len(eps) == 0 {
		eps = binds{"tcp://127.0.0.1:7878"}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fail(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.MaxSubscriptions, cfg.MaxClients = *maxSubs, *maxClient
	switch *overflow {
	case "drop-oldest":
		cfg.Queue.Overflow = zmtp.OverflowDropOldest
	case "disconnect":
		cfg.Queue.Overflow = zmtp.OverflowDisconnect
	default:
		fail(fmt.Errorf("--overflow %q", *overflow))
	}

	if *cpuPath != "" {
		f, err := os.Create(*cpuPath)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	b, err := broker.New(cfg)
	if err != nil {
		fail(err)
	}
	for _, ep := range eps {
		if _, err := b.Listen(ep); err != nil {
			fail(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-usr1:
			if *memPath != "" {
				runtime.GC()
				if err := writeProfile("heap", *memPath+".heap"); err != nil {
					fmt.Fprintln(os.Stderr, "zccpdprof:", err)
				}
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	b.Shutdown(sctx)
	if *memPath != "" {
		if err := writeProfile("allocs", *memPath); err != nil {
			fmt.Fprintln(os.Stderr, "zccpdprof:", err)
		}
	}
}

// writeProfile writes a runtime/pprof profile ("allocs": every sample
// since start; "heap": the same samples, read for what is live).
func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup(name).WriteTo(f, 0)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zccpdprof:", err)
	os.Exit(2)
}
