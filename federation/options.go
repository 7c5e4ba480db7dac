package federation

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configure a Node. Zero fields take the defaults below; bad
// values are rejected, not rewritten.
type Options struct {
	// URLs of the NATS servers (nats://host:port or tls://host:port); at
	// least one. The client reconnects among them.
	URLs []string
	// Prefix is the first subject token(s) of every subject the
	// federation uses, so that several federations can share one NATS
	// cluster. Default "zccp".
	Prefix string
	// Name is this broker's name, carried in adverts and logs.
	Name string
	// Advertise is the period of the full re-advertisement, which is
	// also the heartbeat. Default 2 s.
	Advertise time.Duration
	// DeadAfter: a broker not heard from for this long is presumed dead
	// and its interest withdrawn. Default 3 × Advertise; it must exceed
	// Advertise.
	DeadAfter time.Duration
	// Scan is how often the local interest is checked for changes (one
	// atomic load when nothing changed); changes go out as one delta per
	// scan. Default 50 ms.
	Scan time.Duration
	// ResolveWait bounds how long a group request waits for the other
	// brokers' recipients (request.go); a broker that has not answered
	// by then is left out of the call. Default 1 s.
	ResolveWait time.Duration
	// NATS are extra options for the NATS connection (credentials, TLS).
	NATS []nats.Option
	// NoRegistry: identifiers are advertised like expressions instead of
	// kept in the JetStream identity registry (registry.go); also what
	// happens when JetStream is not available. Without the registry an
	// identifier taken on two brokers is not taken over.
	NoRegistry bool
	// RegistryTTL: a registry entry its broker stops refreshing expires
	// after this long (it refreshes its entries every third of it).
	// Default 30 min: refreshing costs 3 × identifiers / RegistryTTL writes
	// a second (docs/architecture.md, the 100 × 10k model).
	RegistryTTL time.Duration
	// RegistryReplicas: replicas of the registry's bucket. Default 3
	// (1 when the NATS cluster has fewer JetStream servers).
	RegistryReplicas int
	// Logger receives the federation's log; default slog.Default().
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultPrefix      = "zccp"
	DefaultAdvertise   = 2 * time.Second
	DefaultScan        = 50 * time.Millisecond
	DefaultResolveWait = time.Second

	DefaultRegistryTTL = 30 * time.Minute
)

func (o Options) withDefaults() (Options, error) {
	if len(o.URLs) == 0 {
		return o, errors.New("federation: no NATS URL")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := checkPrefix(o.Prefix); err != nil {
		return o, err
	}
	if o.Advertise < 0 || o.DeadAfter < 0 || o.Scan < 0 {
		return o, errors.New("federation: negative Advertise, DeadAfter or Scan")
	}
	if o.Advertise == 0 {
		o.Advertise = DefaultAdvertise
	}
	if o.DeadAfter == 0 {
		o.DeadAfter = 3 * o.Advertise
	}
	if o.DeadAfter <= o.Advertise {
		return o, fmt.Errorf("federation: DeadAfter %v must exceed Advertise %v", o.DeadAfter, o.Advertise)
	}
	if o.Scan == 0 {
		o.Scan = DefaultScan
	}
	if o.RegistryTTL < 0 || o.RegistryReplicas < 0 {
		return o, errors.New("federation: negative RegistryTTL or RegistryReplicas")
	}
	if o.RegistryTTL == 0 {
		o.RegistryTTL = DefaultRegistryTTL
	}
	if o.RegistryReplicas == 0 {
		o.RegistryReplicas = 3
	}
	if o.ResolveWait <= 0 {
		o.ResolveWait = DefaultResolveWait
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// checkPrefix accepts dot-separated NATS subject tokens without
// wildcards or white space.
func checkPrefix(p string) error {
	for _, tok := range strings.Split(p, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return fmt.Errorf("federation: subject prefix %q: want dot-separated tokens without wildcards or spaces", p)
		}
	}
	return nil
}
