// Command overload is an example ZCCP consumer that steers devices: it
// watches the power readings of every PDU (examples/pdu) and, when one
// draws more than --threshold watts, asks that PDU for its status and
// switches its highest-drawing outlet off.
//
//	go run ./examples/pdu --rack rack12 --pdu pdu3 --loads 400,400,1800,400 &
//	go run ./examples/overload --threshold 2500
//
// It subscribes to ^power\. (--pattern); a reading is a PUBLISH from the
// PDU (so its sender is the PDU's identifier, which requests are sent
// to) with the total draw as the body. While it acts on a PDU, and for
// --cooldown after, it ignores that PDU's readings, so that the readings
// already on their way do not switch off a second outlet; if the PDU is
// still overloaded after that, the next outlet goes. Every action and
// reply is logged.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/client"
)

// config is what the flags set.
type config struct {
	Endpoint  string
	ID        string
	Pattern   string        // readings to watch
	Threshold float64       // watts
	Cooldown  time.Duration // per PDU, after an action
	Timeout   time.Duration // per request
}

func main() {
	cfg := config{}
	ep := os.Getenv("ZCCP_ENDPOINT")
	if ep == "" {
		ep = "ipc://@/zccp"
	}
	flag.StringVar(&cfg.Endpoint, "endpoint", ep, "broker endpoint [ZCCP_ENDPOINT]")
	flag.StringVar(&cfg.ID, "id", "overload-guard", "identifier")
	flag.StringVar(&cfg.Pattern, "pattern", `^power\.`, "expression selecting the power readings")
	flag.Float64Var(&cfg.Threshold, "threshold", 3000, "a PDU drawing more than this many watts is overloaded")
	flag.DurationVar(&cfg.Cooldown, "cooldown", 3*time.Second, "after acting on a PDU, ignore its readings this long")
	flag.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "timeout of each request")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("overload stopped", "err", err)
		os.Exit(1)
	}
}

// status is the part of a PDU's status answer that matters here.
type status struct {
	Watts   float64 `json:"watts"`
	Outlets []struct {
		Outlet int     `json:"outlet"`
		On     bool    `json:"on"`
		Watts  float64 `json:"watts"`
	} `json:"outlets"`
}

// action is what the consumer did about one overload.
type action struct {
	PDU     string  // identifier
	Reading float64 // watts that triggered it
	Outlet  int     // switched off (0: none)
	Reply   string  // the PDU's answer
	Err     error
}

// run watches readings and acts on overloads until ctx ends. acted, if
// not nil, is told of every action once its reply is in.
func run(ctx context.Context, cfg config, log *slog.Logger, acted func(action)) error {
	if cfg.Threshold <= 0 || cfg.Timeout <= 0 {
		return errors.New("--threshold and --timeout must be positive")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := client.Connect(cctx, cfg.Endpoint, client.WithIdentifier(cfg.ID),
		client.WithErrorHandler(func(err error) { log.Warn("zccp", "err", err) }))
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	readings := make(chan *client.Delivery, 4096)
	if _, err := c.SubscribeChan(ctx, cfg.Pattern, readings); err != nil {
		return err
	}
	log.Info("watching", "pattern", cfg.Pattern, "threshold", cfg.Threshold)
	var wg sync.WaitGroup
	defer wg.Wait()
	done := make(chan string)       // PDUs whose action is over
	quiet := map[string]time.Time{} // PDU → ignore its readings until
	for {
		var d *client.Delivery
		select {
		case <-ctx.Done():
			return nil
		case pdu := <-done:
			quiet[pdu] = time.Now().Add(cfg.Cooldown)
			continue
		case d = <-readings:
		}
		watts, err := strconv.ParseFloat(strings.TrimSpace(string(d.Body())), 64)
		if err != nil || watts <= cfg.Threshold || d.Sender == "" || time.Now().Before(quiet[d.Sender]) {
			continue
		}
		quiet[d.Sender] = time.Now().Add(24 * time.Hour) // until the action is over
		log.Warn("overload", "pdu", d.Sender, "address", d.Address, "watts", watts, "threshold", cfg.Threshold)
		wg.Add(1)
		go func(pdu string) {
			defer wg.Done()
			a := shed(ctx, c, cfg, pdu)
			a.Reading = watts
			if a.Err != nil {
				log.Error("could not shed load", "pdu", pdu, "err", a.Err)
			} else {
				log.Info("load shed", "pdu", pdu, "outlet", a.Outlet, "reply", a.Reply)
			}
			if acted != nil {
				acted(a)
			}
			select {
			case done <- pdu:
			case <-ctx.Done():
			}
		}(d.Sender)
	}
}

// shed switches the highest-drawing outlet of pdu off.
func shed(ctx context.Context, c *client.Client, cfg config, pdu string) action {
	a := action{PDU: pdu}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r, err := c.Request(rctx, pdu, "status")
	if err != nil {
		a.Err = fmt.Errorf("status: %w", err)
		return a
	}
	var s status
	if err := json.Unmarshal(r.Body(), &s); err != nil {
		a.Err = fmt.Errorf("status: %w", err)
		return a
	}
	best := -1.0
	for _, o := range s.Outlets {
		if o.On && o.Watts > best {
			a.Outlet, best = o.Outlet, o.Watts
		}
	}
	if a.Outlet == 0 {
		a.Err = errors.New("no outlet is on")
		return a
	}
	r, err = c.Request(rctx, pdu, "outlet.off", []byte(strconv.Itoa(a.Outlet)))
	if err != nil {
		a.Err = fmt.Errorf("outlet.off %d: %w", a.Outlet, err)
		return a
	}
	a.Reply = string(r.Body())
	return a
}
