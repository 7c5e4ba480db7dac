package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/federation"
)

// clusterSettings are the federation flags (docs/architecture.md,
// "Federation").
type clusterSettings struct {
	urls      string
	prefix    string
	creds     string
	nkey      string
	ca        string
	cert, key string
	advertise time.Duration
	deadAfter time.Duration
	regTTL    time.Duration
	noReg     bool
	resolve   time.Duration
}

// addClusterFlags registers --cluster and its companions.
func addClusterFlags(fs *flag.FlagSet, c *clusterSettings) {
	fs.StringVar(&c.urls, "cluster", "", "join a federation of brokers over these NATS servers, comma-separated (nats://host:4222,...); empty: standalone [ZCCPD_CLUSTER]")
	fs.StringVar(&c.prefix, "cluster-prefix", federation.DefaultPrefix, "first token(s) of the federation's NATS subjects, so that federations can share a NATS cluster [ZCCPD_CLUSTER_PREFIX]")
	fs.StringVar(&c.creds, "cluster-creds", "", "NATS credentials file (JWT and NKey seed) for the federation's connection [ZCCPD_CLUSTER_CREDS]")
	fs.StringVar(&c.nkey, "cluster-nkey", "", "file holding the NKey seed (SU...) the federation's connection authenticates with, for NATS servers that list its public key under authorization.users [ZCCPD_CLUSTER_NKEY]")
	fs.StringVar(&c.ca, "cluster-ca", "", "PEM file of CAs that sign the NATS servers' certificates (TLS) [ZCCPD_CLUSTER_CA]")
	fs.StringVar(&c.cert, "cluster-cert", "", "PEM client certificate for NATS (TLS), with --cluster-key [ZCCPD_CLUSTER_CERT]")
	fs.StringVar(&c.key, "cluster-key", "", "PEM key of --cluster-cert [ZCCPD_CLUSTER_KEY]")
	fs.DurationVar(&c.advertise, "cluster-advertise", federation.DefaultAdvertise, "period of the full re-advertisement of this broker's interest (also its heartbeat) [ZCCPD_CLUSTER_ADVERTISE]")
	fs.DurationVar(&c.deadAfter, "cluster-dead-after", 3*federation.DefaultAdvertise, "withdraw the interest of a broker silent this long; more than --cluster-advertise [ZCCPD_CLUSTER_DEAD_AFTER]")
	fs.DurationVar(&c.regTTL, "cluster-registry-ttl", federation.DefaultRegistryTTL, "the identity registry (JetStream KV) forgets an identifier its broker stopped refreshing after this long; each broker rewrites its entries every third of it [ZCCPD_CLUSTER_REGISTRY_TTL]")
	fs.BoolVar(&c.noReg, "cluster-no-registry", false, "advertise identifiers instead of using the JetStream identity registry (no takeover across brokers); also what happens when JetStream is unavailable [ZCCPD_CLUSTER_NO_REGISTRY]")
	fs.DurationVar(&c.resolve, "cluster-resolve-wait", federation.DefaultResolveWait, "how long a group request waits for the other brokers' recipients; a broker silent this long is left out of the call [ZCCPD_CLUSTER_RESOLVE_WAIT]")
}

// options turns the flags into federation options; nil when --cluster is
// empty.
func (c *clusterSettings) options(name string, log *slog.Logger) (*federation.Options, error) {
	if c.urls == "" {
		return nil, nil
	}
	if c.advertise <= 0 || c.deadAfter <= c.advertise {
		return nil, fmt.Errorf("--cluster-advertise %v must be positive and --cluster-dead-after %v longer", c.advertise, c.deadAfter)
	}
	if c.regTTL <= 0 {
		return nil, fmt.Errorf("--cluster-registry-ttl %v must be positive", c.regTTL)
	}
	if c.resolve <= 0 {
		return nil, fmt.Errorf("--cluster-resolve-wait %v must be positive", c.resolve)
	}
	o := &federation.Options{Prefix: c.prefix, Name: name, Advertise: c.advertise, DeadAfter: c.deadAfter, Logger: log,
		RegistryTTL: c.regTTL, NoRegistry: c.noReg, ResolveWait: c.resolve}
	for _, u := range strings.Split(c.urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.URLs = append(o.URLs, u)
		}
	}
	if c.creds != "" {
		o.NATS = append(o.NATS, nats.UserCredentials(c.creds))
	}
	if c.nkey != "" {
		opt, err := nats.NkeyOptionFromSeed(c.nkey)
		if err != nil {
			return nil, fmt.Errorf("--cluster-nkey: %w", err)
		}
		o.NATS = append(o.NATS, opt)
	}
	if c.ca != "" {
		o.NATS = append(o.NATS, nats.RootCAs(c.ca))
	}
	if (c.cert == "") != (c.key == "") {
		return nil, fmt.Errorf("--cluster-cert and --cluster-key go together")
	}
	if c.cert != "" {
		o.NATS = append(o.NATS, nats.ClientCert(c.cert, c.key))
	}
	return o, nil
}

// startCluster joins b to the federation when --cluster is set; it logs
// why it cannot and returns false. The returned function leaves.
func startCluster(s *settings, b *broker.Broker, log *slog.Logger) (stop func(), ok bool) {
	o, err := s.cluster.options(s.cfg.Name, log)
	if err != nil {
		log.Error("bad cluster settings", "err", err)
		return nil, false
	}
	if o == nil {
		return func() {}, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := federation.Start(ctx, b, *o)
	if err != nil {
		log.Error("cannot join the federation", "err", err)
		return nil, false
	}
	clusterNode.Store(n) // cluster_metrics.go
	return func() { clusterNode.Store(nil); n.Close() }, true
}
