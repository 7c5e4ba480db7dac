package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/zccp-go/zccp/broker"
)

// checkLimits applies the one rule for zero values (docs/architecture.md,
// "Zero values"): a value given on the command line, in the environment
// or in the config file is used as given or refused — a zero never
// silently becomes the default (broker.Config treats an unset field as
// "default") and never means "off" unless the flag documents "off".
func checkLimits(c *broker.Config) error {
	var errs []error
	positiveDur := func(flag string, d time.Duration, why string) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s %v: must be positive (%s)", flag, d, why))
		}
	}
	positive := func(flag string, n int64) {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("--%s %d: must be positive", flag, n))
		}
	}
	positiveDur("timeout", c.Timeout, "there is no off: the broker always expires silent clients")
	positiveDur("ping-interval", c.PingInterval, "there is no off: the broker always pings quiet clients")
	positive("max-message-size", c.MaxMessageSize)
	positive("max-headers", int64(c.MaxHeaders))
	positive("max-subscriptions", int64(c.MaxSubscriptions))
	positive("max-clients", int64(c.MaxClients))
	positive("queue-bytes", int64(c.Queue.MaxBytes))
	positive("queue-messages", int64(c.Queue.MaxMessages))
	positive("max-inflight", int64(c.MaxInflight))
	positive("max-inflight-per-requester", int64(c.MaxInflightPerRequester))
	positiveDur("max-ttl", c.MaxTTL, "requests without zccp-ttl are not limited by it")
	return errors.Join(errs...)
}
