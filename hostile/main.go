// Command hostile runs adversarial clients against a zccpd subprocess on
// loopback, one attack at a time, each against a fresh broker, and prints
// per attack the broker's peak and final RSS, descriptors and goroutines
// beside the loss seen by a well-behaved publisher/subscriber pair that
// runs throughout (100 msg/s). It is the harness of issue 11 ("hostile
// load"); `make hostile` runs it. Every attack is bounded in count and
// time; the whole run takes about two minutes.
//
// Usage: go run ./hostile [-zccpd path] [-only name,...] [-for 8s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/soak/daemon"
)

var (
	zccpdPath = flag.String("zccpd", "", "zccpd binary (default: go build ./cmd/zccpd into a temporary directory)")
	only      = flag.String("only", "", "comma-separated attacks to run (default: all)")
	attackFor = flag.Duration("for", 8*time.Second, "how long each attack lasts")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	bin := *zccpdPath
	if bin == "" {
		dir, err := os.MkdirTemp("", "hostile-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "hostile:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if bin, err = daemon.Build(dir, "github.com/zccp-go/zccp/cmd/zccpd"); err != nil {
			fmt.Fprintln(os.Stderr, "hostile:", err)
			return 1
		}
	}
	var results []result
	failed := false
	for _, a := range attacks {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), a.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "attack %s: %s\n", a.name, a.what)
		r, err := runAttack(ctx, bin, a, *attackFor)
		if err != nil {
			fmt.Fprintf(os.Stderr, "attack %s: %v\n", a.name, err)
			failed = true
		}
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}
	printTable(os.Stdout, results)
	if failed {
		return 1
	}
	return 0
}
