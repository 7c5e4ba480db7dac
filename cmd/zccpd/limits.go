package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/zccp-go/zccp/broker"
)

// limitFlags registers the per-address and label limits (issue 11):
// defaults leave room for the bench's 10,000 idle clients on loopback
// while keeping one address from taking every descriptor.
func limitFlags(fs *flag.FlagSet, cfg *broker.Config) {
	fs.Var(&autoInt{p: &cfg.MaxConnsPerHost}, "max-conns-per-host", "most connections from one remote IP address, loopback included (ipc is not counted); default min(16384, 3/4 of the descriptor limit) [ZCCPD_MAX_CONNS_PER_HOST]")
	fs.Var(&autoInt{p: &cfg.MaxSessionsPerHost}, "max-sessions-per-host", "most sessions from one remote IP address; default as --max-conns-per-host [ZCCPD_MAX_SESSIONS_PER_HOST]")
	fs.IntVar(&cfg.MaxSessionsPerKey, "max-sessions-per-key", broker.DefaultMaxPerKey, "most sessions of one CURVE client key, from any address (NULL sessions are not counted) [ZCCPD_MAX_SESSIONS_PER_KEY]")
	fs.IntVar(&cfg.MaxLabelBytes, "max-label-bytes", broker.DefaultMaxLabelBytes, "largest HELLO labels (encoded headers) in bytes [ZCCPD_MAX_LABEL_BYTES]")
	// Set after registering: the flag package records a default shown
	// in --help, and this one depends on the machine.
	perHost := defaultPerHost()
	cfg.MaxConnsPerHost, cfg.MaxSessionsPerHost = perHost, perHost
}

// autoInt is an int flag whose default depends on the machine (so --help
// and the man page show no number for it).
type autoInt struct{ p *int }

func (a *autoInt) String() string {
	if a == nil || a.p == nil || *a.p == 0 {
		return ""
	}
	return strconv.Itoa(*a.p)
}

func (a *autoInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("want a positive number, got %q", s)
	}
	*a.p = n
	return nil
}

// defaultPerHost is the per-address default: 16384, or three quarters of
// the descriptors the process may open when that is lower, so that other
// addresses can still connect when one holds its maximum.
func defaultPerHost() int {
	n := broker.DefaultMaxPerHost
	if lim := fdLimit(); lim > 0 && lim*3/4 < uint64(n) {
		n = max(int(lim*3/4), 1)
	}
	return n
}
