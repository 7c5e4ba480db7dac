package main

import (
	"flag"

	"github.com/zccp-go/zccp/broker"
)

// addRequestFlags defines the bounds of request accounting (protocol §6.7).
func addRequestFlags(fs *flag.FlagSet, c *broker.Config) {
	fs.IntVar(&c.MaxInflight, "max-inflight", broker.DefaultMaxInflight,
		"most requests outstanding at one device [ZCCPD_MAX_INFLIGHT]")
	fs.IntVar(&c.MaxInflightPerRequester, "max-inflight-per-requester", broker.DefaultMaxInflightPer,
		"most requests one requester may have outstanding at one device [ZCCPD_MAX_INFLIGHT_PER_REQUESTER]")
	fs.DurationVar(&c.MaxTTL, "max-ttl", broker.DefaultMaxTTL,
		"longest zccp-ttl a request may carry; longer ones are refused [ZCCPD_MAX_TTL]")
}
