package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/store"
	"github.com/zccp-go/zccp/zmtp"
)

// Security of each endpoint, chosen in --bind by a scheme prefix:
//
//	curve+tcp://0.0.0.0:7878   CURVE (encrypted; clients need the broker's public key)
//	null+tcp://127.0.0.1:7878  NULL, written out
//	tcp://127.0.0.1:7878       NULL (the default, as ZeroMQ endpoints are written)
//
// NULL on a TCP endpoint that is not loopback is refused unless
// --insecure is given. The broker's long-term CURVE key pair is kept in
// the data directory as curve.key (mode 0600), generated on first start.

// secSettings are the security flags.
type secSettings struct {
	insecure   bool
	allowUIDs  uidList
	clientKeys string
	enrol      bool    // --enrol: unknown keys pending until accepted
	autoAccept bool    // --auto-accept
	adminKeys  string  // --admin-keys FILE
	dataDir    *string // the operator's --data-dir

	curve *zmtp.CurveServer // made on the first CURVE endpoint
	auth  *clientKeys
	binds []string     // as checked
	store *store.Store // the operator's store (start.go), nil without --data-dir
	ready bool         // prepare has run
}

// addSecurityFlags registers the security flags on fs.
func addSecurityFlags(fs *flag.FlagSet, s *secSettings, dataDir *string) {
	s.dataDir = dataDir
	fs.BoolVar(&s.insecure, "insecure", false, "allow NULL security (no encryption, no authentication) on a TCP endpoint that is not loopback [ZCCPD_INSECURE]")
	fs.Var(&s.allowUIDs, "ipc-allow-uid", "accept NULL ipc connections only from processes of these user ids (SO_PEERCRED), repeatable or comma-separated; empty: any user [ZCCPD_IPC_ALLOW_UID]")
	fs.BoolVar(&s.enrol, "enrol", false, "CURVE key enrolment: an unknown client key is recorded as pending and refused a session (notice not-authorized) until an operator runs 'zccp keys accept'; rejected and revoked keys are refused; kept in --data-dir [ZCCPD_ENROL]")
	fs.BoolVar(&s.autoAccept, "auto-accept", false, "with --enrol, accept every new client key at once (labs) [ZCCPD_AUTO_ACCEPT]")
	fs.StringVar(&s.adminKeys, "admin-keys", "", "with --enrol, file of client public keys that may run 'zccp keys' over CURVE (NULL sessions on ipc may too; restrict them with --ipc-allow-uid) [ZCCPD_ADMIN_KEYS]")
	fs.StringVar(&s.clientKeys, "client-keys", "", "file of client public keys allowed on CURVE endpoints (one Z85 or hex key per line, # comments, reloaded on SIGHUP); empty: any client key (encryption and broker authentication only) [ZCCPD_CLIENT_KEYS]")
}

// splitBind returns the security mechanism ("null" or "curve") and the
// ZeroMQ endpoint of a --bind value.
func splitBind(v string) (mech, endpoint string, err error) {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok {
		return "", "", fmt.Errorf("--bind %q: want [curve+|null+]tcp://host:port or ipc://path", v)
	}
	mech, transport, hasMech := strings.Cut(scheme, "+")
	if !hasMech {
		mech, transport = "null", scheme
	}
	if mech != "null" && mech != "curve" {
		return "", "", fmt.Errorf("--bind %q: security %q unknown, want curve or null", v, mech)
	}
	if transport != "tcp" && transport != "ipc" {
		return "", "", fmt.Errorf("--bind %q: transport %q unknown, want tcp or ipc", v, transport)
	}
	return mech, transport + "://" + rest, nil
}

// check validates every bind before anything is bound: NULL on a
// non-loopback TCP endpoint needs --insecure.
func (s *secSettings) check(binds []string) error {
	s.binds = binds
	switch {
	case s.enrol && s.clientKeys != "":
		return errors.New("--enrol and --client-keys are two ways to admit keys: choose one")
	case !s.enrol && (s.autoAccept || s.adminKeys != ""):
		return errors.New("--auto-accept and --admin-keys need --enrol")
	}
	for _, v := range binds {
		mech, ep, err := splitBind(v)
		if err != nil {
			return err
		}
		if mech == "null" && strings.HasPrefix(ep, "tcp://") && !loopbackEndpoint(ep) && !s.insecure {
			return fmt.Errorf("--bind %s: NULL security (no encryption, anyone who can reach the port may take over any device's identifier) on a non-loopback address; use curve+%s, or --insecure if this network is trusted", v, ep)
		}
	}
	return nil
}

// loopbackEndpoint reports whether a tcp:// endpoint binds only loopback
// addresses (127.0.0.0/8, ::1, localhost).
func loopbackEndpoint(ep string) bool {
	host, _, err := net.SplitHostPort(strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// listen binds one --bind value with its security and serves it; it
// returns the bound endpoint written as --bind accepts it.
func (s *secSettings) listen(b *broker.Broker, v string, log *slog.Logger) (string, error) {
	if err := s.prepare(b, log); err != nil {
		return "", err
	}
	mech, ep, err := splitBind(v)
	if err != nil {
		return "", err
	}
	ln, err := zmtp.Listen(ep)
	if err != nil {
		return "", err
	}
	bound := zmtp.EndpointOf(ln)
	switch {
	case mech == "curve":
		m, err := s.curveServer(log)
		if err != nil {
			ln.Close()
			return "", err
		}
		ln, bound = zmtp.ListenerWithMechanism(ln, m), "curve+"+bound
	case strings.HasPrefix(ep, "ipc://") && len(s.allowUIDs) > 0:
		ln = &uidListener{Listener: ln, allow: s.allowUIDs, log: newRateLog(log)}
	}
	go b.Serve(ln)
	return bound, nil
}

// prepare runs before the first endpoint is served: with any CURVE
// endpoint it loads the broker's key pair and binds identifiers to the
// CURVE keys that claim them (kept in the store with --data-dir).
func (s *secSettings) prepare(b *broker.Broker, log *slog.Logger) error {
	if s.ready {
		return nil
	}
	s.ready = true
	for _, v := range s.binds {
		if mech, _, _ := splitBind(v); mech == "curve" {
			if _, err := s.curveServer(log); err != nil {
				return err
			}
			var st broker.BindingStore
			if s.store != nil { // no --data-dir: in memory (never a typed nil)
				st = s.store
			}
			if err := s.enableEnrolment(b, st, log); err != nil {
				return err
			}
			return b.EnableKeyBinding(st)
		}
	}
	return nil
}

// enableEnrolment turns --enrol on: the broker records keys and the
// CURVE server asks it about each.
func (s *secSettings) enableEnrolment(b *broker.Broker, st broker.BindingStore, log *slog.Logger) error {
	if !s.enrol {
		return nil
	}
	var admins []zmtp.CurveKey
	if s.adminKeys != "" {
		list, err := readKeyList(s.adminKeys)
		if err != nil {
			return err
		}
		for k := range list {
			admins = append(admins, k)
		}
	}
	if st == nil {
		log.Warn("--enrol without --data-dir: key records are lost at exit")
	}
	if err := b.EnableEnrolment(st, s.autoAccept, admins); err != nil {
		return err
	}
	s.curve.Authorize = b.AuthorizeKey
	return nil
}

// curveServer loads (or makes) the broker's key pair and returns the
// CURVE mechanism shared by every CURVE endpoint.
func (s *secSettings) curveServer(log *slog.Logger) (*zmtp.CurveServer, error) {
	if s.curve != nil {
		return s.curve, nil
	}
	dir, err := keyDir(*s.dataDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, brokerKeyFile)
	kp, created, err := zmtp.LoadOrCreateCurveKeyFile(path, brokerKeyComment)
	if err != nil {
		return nil, err
	}
	log.Info("CURVE key", "public_key", kp.Public.String(), "file", path, "created", created)
	s.curve = zmtp.NewCurveServer(kp)
	if s.clientKeys == "" {
		if !s.enrol {
			log.Warn("CURVE endpoints accept any client key (encryption and broker authentication only); restrict them with --client-keys or --enrol")
		}
		return s.curve, nil
	}
	if s.auth, err = loadClientKeys(s.clientKeys); err != nil {
		return nil, err
	}
	log.Info("CURVE client keys loaded", "file", s.clientKeys, "keys", s.auth.count())
	reloadHooks = append(reloadHooks, s.auth.reload)
	s.curve.Authorize = func(_ context.Context, p zmtp.CurvePeer) error {
		if !s.auth.allowed(p.Key) {
			return fmt.Errorf("key %s is not in %s", p.Key, s.clientKeys)
		}
		return nil
	}
	return s.curve, nil
}

const (
	brokerKeyFile    = "curve.key"
	brokerKeyComment = "zccpd's long-term CURVE key pair. Keep it private: whoever has it can pose as this broker.\nGive clients the public key (zccpd key prints it)."
)

// keyDir returns where the broker's key lives: --data-dir, or by default
// /var/lib/zccpd for root and $XDG_STATE_HOME/zccpd (~/.local/state/zccpd)
// for other users.
func keyDir(dataDir string) (string, error) {
	if dataDir != "" {
		return dataDir, nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/zccpd", nil
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "zccpd"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --data-dir and no home directory for the CURVE key: %w", err)
	}
	return filepath.Join(home, ".local", "state", "zccpd"), nil
}

// uidList is the repeatable, comma-separated --ipc-allow-uid flag.
type uidList []uint32

func (u *uidList) String() string {
	parts := make([]string, len(*u))
	for i, v := range *u {
		parts[i] = strconv.FormatUint(uint64(v), 10)
	}
	return strings.Join(parts, ",")
}

func (u *uidList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return errors.New("want numeric user ids")
		}
		*u = append(*u, uint32(n))
	}
	return nil
}
