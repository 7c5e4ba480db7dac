package main

import (
	"flag"

	"github.com/zccp-go/zccp/broker"
)

// flowFlags registers the flow-control settings (docs/protocol.md §5.6).
func flowFlags(fs *flag.FlagSet, cfg *broker.Config) {
	fs.Int64Var(&cfg.MaxQueuedTotal, "max-queued-total", broker.DefaultMaxQueuedTotal, "bytes all clients' outbound queues may hold together (large content counted once); past it the queues holding the most are cut by their overflow policy, then notifications are dropped (reported), large PUBLISHes and commands refused [ZCCPD_MAX_QUEUED_TOTAL]")
	fs.DurationVar(&cfg.StallWait, "stall-wait", broker.DefaultStallWait, "longest pause of a publisher's reads, per message, while a recipient's queue is past 3/4 of its limits [ZCCPD_STALL_WAIT]")
}
