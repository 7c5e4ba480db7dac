package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/zccp-go/zccp/broker"
)

// opSettings are the operator's options: the HTTP address (health,
// dashboard), the data directory, the configuration file and the log
// level that SIGHUP can change.
type opSettings struct {
	httpAddr  string
	httpToken string
	dataDir   string
	retain    broker.RetainConfig
	config    string
	level     slog.LevelVar
	fromFile  map[string][]string // what the configuration file set
	setByUser map[string]bool     // flags set on the command line or in the environment
}

func addOperatorFlags(fs *flag.FlagSet, o *opSettings) {
	fs.StringVar(&o.config, "config", "", "read settings from this file (TOML subset: name = value; flags and environment win) [ZCCPD_CONFIG]")
	fs.StringVar(&o.httpAddr, "http-addr", "", "serve /healthz, /readyz and the web dashboard over HTTP here, e.g. 127.0.0.1:7879 (a bare :PORT means loopback); a non-loopback address needs --http-token; empty: off [ZCCPD_HTTP_ADDR]")
	fs.StringVar(&o.httpToken, "http-token", "", "require this bearer token (or ?token=) on the dashboard and its API [ZCCPD_HTTP_TOKEN]")
	fs.IntVar(&o.retain.MaxValues, "retain-max-values", broker.DefaultRetainValues, "most addresses with a last value (zccp-retain); the oldest is evicted [ZCCPD_RETAIN_MAX_VALUES]")
	fs.Int64Var(&o.retain.MaxBytes, "retain-max-bytes", broker.DefaultRetainBytes, "most bytes of last values; the oldest are evicted [ZCCPD_RETAIN_MAX_BYTES]")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of the persistent store (last values); empty: kept in memory only [ZCCPD_DATA_DIR]")
}

// loadConfig applies the configuration file, if any, to fs.
func (o *opSettings) loadConfig(fs *flag.FlagSet, s *settings, args []string) error {
	path := configPath(args)
	if path == "" {
		return nil
	}
	vals, err := applyConfig(fs, s, path)
	o.fromFile = vals
	return err
}

// noteUserSettings records which flags the command line or the
// environment set: a reload from the file must not override them.
func (o *opSettings) noteUserSettings(fs *flag.FlagSet) {
	o.setByUser = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.setByUser[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := os.LookupEnv("ZCCPD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))); ok {
			o.setByUser[f.Name] = true
		}
	})
}

// subcommand handles `zccpd version` (the same as --version) and
// `zccpd gen-man` (the zccpd(8) page). done says zccpd is finished.
func subcommand(args []string, stdout, stderr io.Writer) (rest []string, done bool, code int) {
	if len(args) == 0 {
		return args, false, 0
	}
	switch args[0] {
	case "version":
		return []string{"--version"}, false, 0
	case "key":
		return nil, true, keyCommand(args[1:], stdout, stderr)
	case "audit":
		return nil, true, auditCommand(args[1:], stdout, stderr) // audit.go
	case "policy":
		return nil, true, policyCommand(args[1:], stdout, stderr) // policy_flags.go
	case "gen-man":
		if err := writeMan(stdout); err != nil {
			fmt.Fprintln(stderr, "zccpd gen-man:", err)
			return nil, true, 1
		}
		return nil, true, 0
	}
	return args, false, 0
}

// reloadHooks run on SIGHUP after the log level; the security policy
// registers its reload here (a hook returns an error to log, and must
// leave the old state in place when it fails).
var reloadHooks []func(log *slog.Logger) error

// handleSIGHUP makes SIGHUP reload instead of kill: the log level from
// the configuration file (unless a flag or the environment set it), then
// every reload hook. It returns a function that stops it.
func handleSIGHUP(s *settings, log *slog.Logger) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				s.op.reload(log)
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func (o *opSettings) reload(log *slog.Logger) {
	log.Info("SIGHUP: reloading", "config", o.config)
	o.reloadLevel(log)
	for _, h := range reloadHooks {
		if err := h(log); err != nil {
			log.Error("reload failed; keeping the previous settings", "err", err)
		}
	}
}

func (o *opSettings) reloadLevel(log *slog.Logger) {
	path := o.config
	if path == "" {
		path = os.Getenv("ZCCPD_CONFIG")
	}
	switch {
	case path == "":
		log.Info("no configuration file to reload the log level from", "log_level", o.level.Level().String())
		return
	case o.setByUser["log-level"]:
		log.Info("log level set by a flag or ZCCPD_LOG_LEVEL; the file does not override it", "log_level", o.level.Level().String())
		return
	}
	f, err := os.Open(path)
	if err != nil {
		log.Error("cannot reload the configuration", "config", path, "err", err)
		return
	}
	defer f.Close()
	vals, err := readConfig(f)
	if err != nil {
		log.Error("cannot reload the configuration", "config", path, "err", err)
		return
	}
	lv := "info"
	if v := vals["log-level"]; len(v) == 1 {
		lv = v[0]
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(lv)); err != nil {
		log.Error("cannot reload the log level", "config", path, "log_level", lv, "err", err)
		return
	}
	o.level.Set(level)
	log.Info("log level reloaded", "log_level", level.String())
}

// finish runs after the flags are parsed: it checks the operator's
// settings and notes which the user set.
func (o *opSettings) finish(fs *flag.FlagSet) error {
	o.noteUserSettings(fs)
	if o.retain.MaxValues < 1 || o.retain.MaxBytes < 1 {
		return fmt.Errorf("--retain-max-values and --retain-max-bytes must be at least 1")
	}
	if o.httpAddr != "" {
		if _, err := httpAddr(o.httpAddr, o.httpToken); err != nil {
			return err
		}
	}
	return nil
}
