package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/soak/daemon"
)

// The broker under test: built, started, checked once the load is over.

// startBroker builds zccpd (unless -zccpd names one), starts it on tcp
// and abstract ipc with its debug endpoint, and returns it with its
// endpoints, its idle state and a cleanup that kills it and removes the
// build.
func startBroker() (d *daemon.Daemon, eps []string, idle daemon.Vars, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	bin := *zccpdPath
	if bin == "" {
		dir, err := os.MkdirTemp("", "zccp-soak-")
		if err != nil {
			return nil, nil, idle, cleanup, err
		}
		undo = append(undo, func() { os.RemoveAll(dir) })
		if bin, err = daemon.Build(dir, "github.com/zccp-go/zccp/cmd/zccpd"); err != nil {
			return nil, nil, idle, cleanup, err
		}
	}
	ipc := fmt.Sprintf("ipc://@/zccp-soak-%d", os.Getpid())
	d, err = daemon.Start(bin, "--bind", "tcp://127.0.0.1:0", "--bind", ipc, "--debug-addr", "127.0.0.1:0",
		"--timeout", brokerTimeout.String(), "--ping-interval", "1s", "--shutdown-timeout", shutdownTimeout.String())
	if err != nil {
		return nil, nil, idle, cleanup, err
	}
	undo = append(undo, d.Kill)
	eps = []string{d.Endpoint("tcp"), d.Endpoint("ipc")}
	logf("zccpd pid %d on %s; debug %s; load %v: %d publishers × %d msg/s × %d B, %d subscribers, %.0f short-lived clients/s",
		d.PID, strings.Join(eps, " "), d.DebugAddr, *duration, *publishers, *rate, *size, *subscribers, *churn)

	time.Sleep(500 * time.Millisecond)
	if idle, err = d.Vars(); err != nil {
		return nil, nil, idle, cleanup, err
	}
	idleRSS, _, _ := d.RSS()
	logf("idle: %d goroutines, RSS %.1f MiB", idle.Goroutines, mib(idleRSS))
	return d, eps, idle, cleanup, nil
}

// checkLeftovers waits until every client has gone and checks that the
// broker holds nothing for them any more, then reports the churn.
func checkLeftovers(d *daemon.Daemon, idle daemon.Vars, ch *churner, fails *failures) {
	var v daemon.Vars
	var err error
	deadline := time.Now().Add(brokerTimeout + 30*time.Second)
	for {
		v, err = d.Vars()
		b := v.Broker
		if err == nil && b.Connections == 0 && b.Sessions == 0 && b.Subscriptions == 0 && b.Inflight == 0 && v.Goroutines <= idle.Goroutines {
			break
		}
		if time.Now().After(deadline) {
			fails.add("after every client left: %d goroutines (idle %d), broker %+v, err %v", v.Goroutines, idle.Goroutines, b, err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	endRSS, peakRSS, _ := d.RSS()
	logf("after every client left: %d goroutines (idle: %d), %d connections, %d sessions, %d subscriptions; RSS %.1f MiB, peak %.1f MiB",
		v.Goroutines, idle.Goroutines, v.Broker.Connections, v.Broker.Sessions, v.Broker.Subscriptions, mib(endRSS), mib(peakRSS))
	logf("churn: %d short-lived clients (%d failed to connect or talk); broker: %d published, %d deliveries, %d expired, %d malformed, %d invalid",
		ch.started.Load(), ch.failed.Load(), v.Broker.Published, v.Broker.Deliveries, v.Broker.Expired, v.Broker.Malformed, v.Broker.Invalid)
	logf("stalled consumers were told of %d dropped notifications (zccp-missed)", ch.stalledMissed.Load())
	if *stalled > 0 && *duration > 2**stallFor && ch.stalledMissed.Load() == 0 {
		fails.add("no notification was dropped for the stalled consumers: the drop-oldest path was not exercised")
	}
}

// checkSIGTERM stops the broker with SIGTERM: it must exit 0 within its
// shutdown timeout.
func checkSIGTERM(d *daemon.Daemon, fails *failures) {
	d.Signal(syscall.SIGTERM)
	term := time.Now()
	wctx, wcancel := context.WithTimeout(context.Background(), shutdownTimeout+5*time.Second)
	code, err := d.Wait(wctx)
	wcancel()
	took := time.Since(term)
	if err != nil || code != 0 || took > shutdownTimeout+2*time.Second {
		fails.add("SIGTERM: exit code %d after %v (%v)", code, took, err)
	} else {
		logf("SIGTERM: exited 0 after %v", took.Round(time.Millisecond))
	}
}
