// Command zccpd is the ZCCP broker daemon.
//
// Usage:
//
//	zccpd [--bind ENDPOINT]... [--timeout D] [--ping-interval D] [--log-level L] [--log-format F] [limits] [--debug-addr HOST:PORT]
//
// Every flag has an environment variable (ZCCPD_BIND, comma-separated;
// ZCCPD_TIMEOUT; ...); flags win. SIGINT or SIGTERM stops accepting, sends
// what is queued, and exits within --shutdown-timeout.
//
// With --debug-addr the daemon also serves, over plain HTTP on that
// address (keep it on loopback), /debug/vars (JSON: goroutines, broker
// counters, a few memory statistics) and /debug/pprof/. The soak test
// reads its goroutine count there.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/zmtp"
)

// defaultBinds are the original daemon's endpoint (so its clients work
// unchanged) and a loopback TCP port.
var defaultBinds = []string{"ipc://@/zccp", "tcp://127.0.0.1:7878"}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// listFlag is a repeatable string flag.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }
func (l *listFlag) Set(v string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	l.vals = append(l.vals, v)
	return nil
}

// settings are the daemon's options after flags and environment.
type settings struct {
	binds           listFlag
	cfg             broker.Config
	logLevel        string
	logFormat       string
	overflow        string
	shutdownTimeout time.Duration
	debugAddr       string
	metricsAddr     string
	op              opSettings  // operator.go: --http-addr, --data-dir, --config, SIGHUP
	sec             secSettings // security.go: curve+ binds, --insecure, --ipc-allow-uid, --client-keys
	policy          string      // policy_flags.go: --policy

	cluster clusterSettings // cluster_flags.go: --cluster (federation over NATS)
	audit   auditSettings   // audit.go: --audit, --audit-max-bytes, --audit-keep
}

func parse(args []string, stderr io.Writer) (*settings, error) {
	s := &settings{binds: listFlag{vals: defaultBinds}}
	fs := flag.NewFlagSet("zccpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "zccpd %s: the ZCCP broker\n\nUsage: zccpd [flags]\n\nFlags (environment variable in brackets):\n", broker.Version)
		fs.PrintDefaults()
	}
	fs.Var(&s.binds, "bind", "endpoint to bind, repeatable: tcp://host:port, ipc:///path, ipc://@name; prefix curve+ (curve+tcp://0.0.0.0:7878) for CURVE security, else NULL, which a non-loopback TCP address refuses without --insecure [ZCCPD_BIND, comma-separated] (default ipc://@/zccp and tcp://127.0.0.1:7878)")
	fs.DurationVar(&s.cfg.Timeout, "timeout", broker.DefaultTimeout, "expire a client silent for this long [ZCCPD_TIMEOUT]")
	fs.DurationVar(&s.cfg.PingInterval, "ping-interval", broker.DefaultPingInterval, "PING a client after this much quiet [ZCCPD_PING_INTERVAL]")
	fs.StringVar(&s.logLevel, "log-level", "info", "debug, info, warn or error [ZCCPD_LOG_LEVEL]")
	fs.StringVar(&s.logFormat, "log-format", "text", "text or json [ZCCPD_LOG_FORMAT]")
	fs.StringVar(&s.cfg.Name, "name", "zccpd", "broker name announced to clients [ZCCPD_NAME]")
	fs.Int64Var(&s.cfg.MaxMessageSize, "max-message-size", broker.DefaultMaxMessageSize, "largest accepted message in bytes [ZCCPD_MAX_MESSAGE_SIZE]")
	fs.IntVar(&s.cfg.MaxHeaders, "max-headers", broker.DefaultMaxHeaders, "most headers per message [ZCCPD_MAX_HEADERS]")
	fs.IntVar(&s.cfg.MaxSubscriptions, "max-subscriptions", broker.DefaultMaxSubscriptions, "most subscriptions per client [ZCCPD_MAX_SUBSCRIPTIONS]")
	fs.IntVar(&s.cfg.MaxClients, "max-clients", broker.DefaultMaxClients, "most concurrent sessions [ZCCPD_MAX_CLIENTS]")
	limitFlags(fs, &s.cfg)
	flowFlags(fs, &s.cfg)
	fs.IntVar(&s.cfg.Queue.MaxBytes, "queue-bytes", zmtp.DefaultMaxQueuedBytes, "outbound queue bound per client, bytes [ZCCPD_QUEUE_BYTES]")
	fs.IntVar(&s.cfg.Queue.MaxMessages, "queue-messages", zmtp.DefaultMaxQueuedMessages, "outbound queue bound per client, messages [ZCCPD_QUEUE_MESSAGES]")
	fs.StringVar(&s.overflow, "overflow", "drop-oldest", "when a client's queue is full: drop-oldest (notifications) or disconnect [ZCCPD_OVERFLOW]")
	fs.DurationVar(&s.shutdownTimeout, "shutdown-timeout", 5*time.Second, "on SIGTERM, how long to flush queues before exiting [ZCCPD_SHUTDOWN_TIMEOUT]")
	fs.StringVar(&s.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics over HTTP on this address, e.g. 127.0.0.1:9878; empty: off [ZCCPD_METRICS_ADDR]")
	fs.StringVar(&s.debugAddr, "debug-addr", "", "serve /debug/vars (goroutines, counters) and /debug/pprof/ over HTTP on this address, e.g. 127.0.0.1:6060; port 0 picks one (logged); empty: off [ZCCPD_DEBUG_ADDR]")
	addRequestFlags(fs, &s.cfg) // requests_flags.go
	version := fs.Bool("version", false, "print the version and exit")
	addOperatorFlags(fs, &s.op)
	addSecurityFlags(fs, &s.sec, &s.op.dataDir)
	addPolicyFlags(fs, &s.policy)   // policy_flags.go
	addClusterFlags(fs, &s.cluster) // cluster_flags.go
	addAuditFlags(fs, &s.audit)     // audit.go
	if err := s.op.loadConfig(fs, s, args); err != nil {
		return nil, err
	}

	// Environment first, so that flags given on the command line win.
	if err := s.applyEnv(fs); err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *version {
		fmt.Fprintln(stderr, "zccpd", broker.Version)
		return nil, flag.ErrHelp
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := s.op.finish(fs); err != nil {
		return nil, err
	}
	if err := checkLimits(&s.cfg); err != nil {
		return nil, err
	}
	if err := s.sec.check(s.binds.vals); err != nil {
		return nil, err
	}
	if err := s.audit.check(); err != nil {
		return nil, err
	}
	if err := s.finishOutput(stderr); err != nil {
		return nil, err
	}
	return s, nil
}

// applyEnv sets every flag named by a ZCCPD_ environment variable
// (ZCCPD_BIND: a comma-separated list that a --bind flag replaces).
func (s *settings) applyEnv(fs *flag.FlagSet) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "ZCCPD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok || f.Name == "version" {
			return
		}
		if f.Name == "bind" {
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e != "" {
					s.binds.Set(e)
				}
			}
			s.binds.set = false // a --bind flag replaces the environment's list
			return
		}
		if err := f.Value.Set(v); err != nil && envErr == nil {
			envErr = fmt.Errorf("%s=%q: %v", name, v, err)
		}
	})
	return envErr
}

// finishOutput checks --overflow, --log-level and --log-format and sets
// the queue policy and the logger (writing to stderr) they name.
func (s *settings) finishOutput(stderr io.Writer) error {
	switch s.overflow {
	case "drop-oldest":
		s.cfg.Queue.Overflow = zmtp.OverflowDropOldest
	case "disconnect":
		s.cfg.Queue.Overflow = zmtp.OverflowDisconnect
	default:
		return fmt.Errorf("--overflow %q: want drop-oldest or disconnect", s.overflow)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(s.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", s.logLevel)
	}
	s.op.level.Set(level)
	hopts := &slog.HandlerOptions{Level: &s.op.level}
	switch s.logFormat {
	case "text":
		s.cfg.Logger = slog.New(slog.NewTextHandler(stderr, hopts))
	case "json":
		s.cfg.Logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	default:
		return fmt.Errorf("--log-format %q: want text or json", s.logFormat)
	}
	return nil
}

// run starts the broker and blocks until a signal or ctx ends it. It
// returns the process exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	args, done, code := subcommand(args, os.Stdout, stderr)
	if done {
		return code
	}
	s, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "zccpd:", err)
		return 2
	}
	log := s.cfg.Logger
	b, err := broker.New(s.cfg)
	if err != nil {
		fmt.Fprintln(stderr, "zccpd:", err)
		return 2
	}
	stopOp, markReady, err := startOperator(s, b, log) // start.go: store, last values, SIGHUP, HTTP
	if err != nil {
		log.Error("cannot start the operator's services", "err", err)
		b.Close()
		return 1
	}
	defer stopOp()
	if err := startPolicy(s.policy, s.binds.vals, b, log); err != nil { // policy_flags.go
		fmt.Fprintln(stderr, "zccpd: --policy:", err)
		b.Close()
		return 2
	}
	// Join the federation before serving (a session that started before
	// the join would be missing from the cluster's identity registry),
	// after enrolment and key binding are on (the join shares them).
	if err := s.sec.prepare(b, log); err != nil {
		log.Error("cannot start CURVE security", "err", err)
		b.Close()
		return 1
	}
	stopCluster, ok := startCluster(s, b, log) // cluster_flags.go: --cluster
	if !ok {
		b.Close()
		return 1
	}
	defer stopCluster()
	bound, stopServing, ok := serve(s, b, log)
	defer stopServing()
	if !ok {
		b.Close()
		return 1
	}
	markReady()
	log.Info("zccpd started", "version", broker.Version, "endpoints", strings.Join(bound, ","), "pid", os.Getpid(),
		"timeout", s.cfg.Timeout.String(), "ping_interval", s.cfg.PingInterval.String(), "fd_limit", fdLimit(), "max_conns_per_host", s.cfg.MaxConnsPerHost)

	awaitSignal(ctx, s, b, log)
	return 0
}

// serve binds every --bind endpoint and starts the debug and metrics
// servers; it logs what failed and returns false. stop ends the servers.
func serve(s *settings, b *broker.Broker, log *slog.Logger) (bound []string, stop func(), ok bool) {
	var stops []func()
	stop = func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	for _, ep := range s.binds.vals {
		real, err := s.sec.listen(b, ep, log)
		if err != nil {
			log.Error("cannot bind", "endpoint", ep, "err", err)
			return nil, stop, false
		}
		bound = append(bound, real)
	}
	if s.debugAddr != "" {
		stopDebug, err := serveDebug(s.debugAddr, b, log)
		if err != nil {
			log.Error("cannot serve debug endpoint", "addr", s.debugAddr, "err", err)
			return nil, stop, false
		}
		stops = append(stops, stopDebug)
	}
	if s.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", metricsHandler(b)) // prom.go: client_golang (go_*, process_*, zccpd_*) plus the broker's zccp_*
		stopMetrics, err := serveHTTP(s.metricsAddr, mux, "metrics", log)
		if err != nil {
			log.Error("cannot serve metrics", "addr", s.metricsAddr, "err", err)
			return nil, stop, false
		}
		stops = append(stops, stopMetrics)
	}
	return bound, stop, true
}

// awaitSignal waits for SIGINT or SIGTERM (or ctx's end), then flushes
// the queues within --shutdown-timeout and stops the broker.
func awaitSignal(ctx context.Context, s *settings, b *broker.Broker, log *slog.Logger) {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down", "flush_timeout", s.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete: some queues were not flushed in time", "err", err)
	}
	st := b.Stats()
	log.Info("zccpd stopped", "published", st.Published, "deliveries", st.Deliveries, "directs", st.Directs)
}

// debugVars is what /debug/vars serves.
type debugVars struct {
	Goroutines int          `json:"goroutines"`
	Broker     broker.Stats `json:"broker"`
	Memory     struct {
		HeapAlloc uint64 `json:"heap_alloc"`
		HeapInuse uint64 `json:"heap_inuse"`
		HeapSys   uint64 `json:"heap_sys"`
		Sys       uint64 `json:"sys"`
		NumGC     uint32 `json:"num_gc"`
	} `json:"memory"`
}

// serveDebug serves /debug/vars, /debug/pprof/ and /metrics on addr and
// returns a function that stops it.
func serveDebug(addr string, b *broker.Broker, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(b)) // prom.go: client_golang (go_*, process_*, zccpd_*) plus the broker's zccp_*
	mux.HandleFunc("/debug/vars", func(w http.ResponseWriter, r *http.Request) {
		var v debugVars
		v.Goroutines = runtime.NumGoroutine()
		v.Broker = b.Stats()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		v.Memory.HeapAlloc, v.Memory.HeapInuse, v.Memory.HeapSys = ms.HeapAlloc, ms.HeapInuse, ms.HeapSys
		v.Memory.Sys, v.Memory.NumGC = ms.Sys, ms.NumGC
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(&v)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveHTTP(addr, mux, "debug", log)
}

// serveHTTP serves mux on addr (port 0 picks one, logged) and returns a
// function that stops it.
func serveHTTP(addr string, mux *http.ServeMux, what string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info(what+" listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
