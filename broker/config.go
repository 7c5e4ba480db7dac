package broker

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/zccp-go/zccp/policy"
	"github.com/zccp-go/zccp/zmtp"
)

// Version is the broker software version announced in HELLO-OK.
const Version = "0.1.0"

// Config configures a Broker. Zero fields take the documented defaults.
type Config struct {
	// Policy is the permission policy in force from the start (nil:
	// every operation allowed); SetPolicy replaces it.
	Policy *policy.Policy
	// Name is announced in HELLO-OK (zccp-broker). Default "zccpd".
	Name string
	// PingInterval: a session that has been sent nothing for this long gets
	// a PING. Default 2 s, below the original client's 3 s presence
	// timeout, so that idle original clients never re-HELLO.
	PingInterval time.Duration
	// Timeout: a connection silent for this long is expired (its session
	// ends and the connection is closed). Default 15 s.
	Timeout time.Duration
	// MaxMessageSize bounds one incoming message (all frames). Default 4 MiB.
	MaxMessageSize int64
	// MaxFrames bounds the frames of one incoming message. Default 1024.
	MaxFrames int
	// MaxHeaders bounds the entries of one headers dictionary. Default 64.
	MaxHeaders int
	// MaxSubscriptions bounds the expressions of one session. Default 10000.
	MaxSubscriptions int
	// MaxClients bounds concurrent sessions. Default 100000.
	MaxClients int
	// MaxConnsPerHost and MaxSessionsPerHost bound the connections and
	// sessions from one remote IP address (tcp; ipc peers are not
	// counted), so that one client cannot take every descriptor or
	// session slot. Default 16384 each.
	MaxConnsPerHost    int
	MaxSessionsPerHost int
	// MaxSessionsPerKey bounds the sessions of one CURVE client key,
	// wherever they connect from (NULL sessions are not counted), so that
	// one key cannot take every session slot. Default 1024.
	MaxSessionsPerKey int
	// MaxLabelBytes bounds the encoded size of a HELLO's headers (the
	// session's labels, kept for the session's life and listed by the
	// clients method). Default 4096.
	MaxLabelBytes int
	// MaxInflight bounds the requests outstanding to one device. Default
	// 10000.
	MaxInflight int
	// MaxInflightPerRequester bounds the requests one requester may have
	// outstanding at one device, so that no single requester can take
	// all of a device's MaxInflight. Default 1000.
	MaxInflightPerRequester int
	// MaxTTL is the longest zccp-ttl a request may carry; a longer one is
	// refused (bad-request). Default 1 hour.
	MaxTTL time.Duration
	// RequestGrace is how long an unanswered request is remembered past
	// its deadline (or past its last sign of life when it has none)
	// before the broker forgets it (outcome forgotten); the requester has
	// its own timeout. Default 1 minute.
	RequestGrace time.Duration
	// Queue bounds each client's outbound queue. Default 8 MiB, 100000
	// messages; a zero Overflow means drop-oldest for notifications.
	Queue zmtp.Limits
	// MaxQueuedTotal bounds the bytes held by all clients' queues
	// together (queued and being written). Past three quarters of it,
	// publishers are paused as for a full queue; at the limit a
	// notification is dropped from the recipient's queue (oldest first,
	// reported with zccp-missed) or refused, a command is refused with a
	// queue-full notice. Default 256 MiB.
	MaxQueuedTotal int64
	// StallWait bounds how long a publisher's reader pauses, per message
	// that found a recipient's queue past three quarters of its limits,
	// for that queue's writer to catch up. Default 2 ms.
	StallWait time.Duration
	// CacheSize bounds the match result cache (addresses). Default 65536.
	CacheSize int
	// Logger receives the broker's log; default slog.Default().
	Logger *slog.Logger
}

// Defaults for Config.
const (
	DefaultPingInterval     = 2 * time.Second
	DefaultTimeout          = 15 * time.Second
	DefaultMaxMessageSize   = 4 << 20
	DefaultMaxFrames        = 1024
	DefaultMaxHeaders       = 64
	DefaultMaxSubscriptions = 10000
	DefaultMaxClients       = 100000
	DefaultCacheSize        = 65536
	DefaultMaxInflight      = 10000
	DefaultMaxInflightPer   = 1000
	DefaultMaxTTL           = time.Hour
	DefaultRequestGrace     = time.Minute
	DefaultMaxQueuedTotal   = 256 << 20
	DefaultStallWait        = 2 * time.Millisecond
	DefaultMaxPerHost       = 16384
	DefaultMaxPerKey        = 1024
	DefaultMaxLabelBytes    = 4096
)

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "zccpd"
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxFrames == 0 {
		c.MaxFrames = DefaultMaxFrames
	}
	if c.MaxHeaders == 0 {
		c.MaxHeaders = DefaultMaxHeaders
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxInflightPerRequester == 0 {
		c.MaxInflightPerRequester = DefaultMaxInflightPer
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.RequestGrace == 0 {
		c.RequestGrace = DefaultRequestGrace
	}
	if c.MaxConnsPerHost == 0 {
		c.MaxConnsPerHost = DefaultMaxPerHost
	}
	if c.MaxSessionsPerHost == 0 {
		c.MaxSessionsPerHost = DefaultMaxPerHost
	}
	if c.MaxSessionsPerKey == 0 {
		c.MaxSessionsPerKey = DefaultMaxPerKey
	}
	if c.MaxLabelBytes == 0 {
		c.MaxLabelBytes = DefaultMaxLabelBytes
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.MaxQueuedTotal == 0 {
		c.MaxQueuedTotal = DefaultMaxQueuedTotal
	}
	if c.StallWait == 0 {
		c.StallWait = DefaultStallWait
	}
	if c.Queue.Overflow == zmtp.OverflowDefault {
		c.Queue.Overflow = zmtp.OverflowDropOldest
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.PingInterval < 0 || c.Timeout < 0:
		return c, fmt.Errorf("broker: negative ping interval or timeout")
	case c.Timeout > 0 && c.PingInterval >= c.Timeout:
		return c, fmt.Errorf("broker: ping interval %v must be shorter than timeout %v", c.PingInterval, c.Timeout)
	case c.MaxQueuedTotal < 0 || c.StallWait < 0:
		return c, fmt.Errorf("broker: negative queue budget or stall wait")
	case c.MaxQueuedTotal < c.MaxMessageSize:
		return c, fmt.Errorf("broker: queue budget %d bytes is smaller than the largest message (%d bytes)", c.MaxQueuedTotal, c.MaxMessageSize)
	case c.MaxInflight < 0 || c.MaxInflightPerRequester < 0 || c.MaxTTL < 0 || c.RequestGrace < 0:
		return c, fmt.Errorf("broker: negative request limit or TTL cap")
	case c.MaxHeaders < 0 || c.MaxSubscriptions < 0 || c.MaxClients < 0,
		c.MaxConnsPerHost < 0 || c.MaxSessionsPerHost < 0 || c.MaxSessionsPerKey < 0 || c.MaxLabelBytes < 0:
		return c, fmt.Errorf("broker: negative limit")
	}
	return c, nil
}
