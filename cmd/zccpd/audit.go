package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/broker"
)

// auditSettings are the audit log's flags.
type auditSettings struct {
	mode     string // auto, on, off
	maxBytes int64
	keep     int
}

func addAuditFlags(fs *flag.FlagSet, a *auditSettings) {
	fs.StringVar(&a.mode, "audit", "auto", "audit log of requests, key changes and refusals, JSON lines in DATA-DIR/audit (zccp audit, zccpd audit): on, off, or auto = on when the broker keeps state (--data-dir given or a curve+ endpoint) [ZCCPD_AUDIT]")
	fs.Int64Var(&a.maxBytes, "audit-max-bytes", audit.DefaultMaxBytes, "rotate the audit log at this size; disk use stays under (audit-keep + 1) × this [ZCCPD_AUDIT_MAX_BYTES]")
	fs.IntVar(&a.keep, "audit-keep", audit.DefaultKeep, "rotated audit files kept (the oldest is deleted) [ZCCPD_AUDIT_KEEP]")
}

// check validates the flags (zero is refused: there is no off but --audit off).
func (a *auditSettings) check() error {
	switch {
	case a.mode != "auto" && a.mode != "on" && a.mode != "off":
		return fmt.Errorf("--audit %q: want on, off or auto", a.mode)
	case a.maxBytes < 4096:
		return fmt.Errorf("--audit-max-bytes %d: want at least 4096", a.maxBytes)
	case a.keep < 1:
		return fmt.Errorf("--audit-keep %d: want at least 1 (--audit off turns the log off)", a.keep)
	}
	return nil
}

// enabled says whether the log is on: auto turns it on when the broker
// keeps state on disk anyway (a data directory, or CURVE's key pair).
func (a *auditSettings) enabled(s *settings) bool {
	switch a.mode {
	case "on":
		return true
	case "off":
		return false
	}
	if s.op.dataDir != "" {
		return true
	}
	for _, v := range s.binds.vals {
		if mech, _, _ := splitBind(v); mech == "curve" {
			return true
		}
	}
	return false
}

// auditDir is where the files go: DATA-DIR/audit (the default data
// directory of keyDir without --data-dir).
func auditDir(dataDir string) (string, error) {
	dir, err := keyDir(dataDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "audit"), nil
}

// startAudit opens the audit log and gives it to the broker; stop closes
// it (after the broker's shutdown: what is queued is written).
func startAudit(s *settings, b *broker.Broker, log *slog.Logger) (stop func(), err error) {
	a := &s.audit
	if !a.enabled(s) {
		if a.mode == "auto" {
			log.Info("audit log off (no --data-dir and no curve+ endpoint; --audit on turns it on)")
		}
		return func() {}, nil
	}
	dir, err := auditDir(s.op.dataDir)
	if err != nil {
		return nil, err
	}
	l, err := audit.Open(audit.Options{Dir: dir, MaxBytes: a.maxBytes, Keep: a.keep, Logger: log.With("part", "audit")})
	if err != nil {
		return nil, err
	}
	b.EnableAudit(l)
	log.Info("audit log", "dir", dir, "max_bytes", a.maxBytes, "keep", a.keep)
	return func() {
		l.Close()
		if n := l.Dropped(); n > 0 {
			log.Warn("audit records lost because the writer could not keep up", "dropped", n)
		}
	}, nil
}

// auditCommand is `zccpd audit`: it reads the audit files of a data
// directory directly (the broker may be running or not) and prints the
// records that match, oldest first.
func auditCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zccpd audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", os.Getenv("ZCCPD_DATA_DIR"), "the broker's data directory [ZCCPD_DATA_DIR]")
	since := fs.String("since", "", "only records since this duration ago (10m, 24h) or time (RFC 3339, 2006-01-02 15:04:05)")
	var f audit.Filter
	fs.StringVar(&f.Target, "target", "", "only records concerning this identifier or key (target, recipient, requester, key)")
	fs.StringVar(&f.Method, "method", "", "only requests with this method")
	fs.StringVar(&f.Kind, "kind", "", "only records of this kind: request, group, key, refusal, gap")
	limit := fs.Int("limit", 0, "only the newest N matching records (default: all)")
	asJSON := fs.Bool("json", false, "print the records as stored, one JSON object per line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zccpd audit [--data-dir DIR] [--since D|TIME] [--target ID] [--method M] [--kind K] [--limit N] [--json]\n\nPrints the audit log kept in DIR/audit, oldest first (torn or garbage lines are skipped and counted).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *since != "" {
		t, err := audit.ParseSince(*since, time.Now())
		if err != nil {
			fmt.Fprintln(stderr, "zccpd audit:", err)
			return 2
		}
		f.Since = t
	}
	dir, err := auditDir(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "zccpd audit:", err)
		return 1
	}
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintln(stderr, "zccpd audit: no audit log:", err)
		return 1
	}
	// Streamed (or, with --limit, the newest N in a ring): memory stays
	// bounded whatever the log's size.
	w := bufio.NewWriter(stdout)
	res, err := audit.Tail(dir, f, max(*limit, 0), func(line []byte) error { return printRecord(w, line, *asJSON) })
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(stderr, "zccpd audit:", err)
		return 1
	}
	if res.Skipped > 0 {
		fmt.Fprintf(stderr, "zccpd audit: %d lines were not records (torn by a crash, or garbage) and were skipped\n", res.Skipped)
	}
	return 0
}

// printRecord prints one record line, as stored (asJSON) or formatted.
func printRecord(w io.Writer, line []byte, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", line)
		return err
	}
	r, err := audit.ParseLine(line)
	if err != nil {
		return nil
	}
	_, err = fmt.Fprintln(w, audit.Format(&r))
	return err
}
