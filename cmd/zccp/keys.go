package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/zmtp"
)

// securityFlags are the CURVE flags of every connecting command.
type securityFlags struct {
	serverKey *string
	keyFile   *string
}

// addSecurityFlags registers --server-key and --key-file on fs.
func addSecurityFlags(fs *flag.FlagSet, e *env) *securityFlags {
	return &securityFlags{
		serverKey: fs.String("server-key", e.getenv("ZCCP_SERVER_KEY"), "the broker's public CURVE key (what 'zccpd key' prints; Z85 or hex) or a file holding it; set, or a curve+tcp:// endpoint, means CURVE [ZCCP_SERVER_KEY]"),
		keyFile:   fs.String("key-file", e.getenv("ZCCP_KEY_FILE"), "this client's CURVE key pair (made by 'zccp keygen'); default "+displayKeyFile()+" [ZCCP_KEY_FILE]"),
	}
}

// clientOptions returns the options that make the client speak CURVE
// when a server key is given or the endpoint says curve+; it removes the
// curve+ (or null+) prefix from *endpoint.
func (s *securityFlags) clientOptions(endpoint *string) ([]client.Option, error) {
	ep := *endpoint
	curve := strings.HasPrefix(ep, "curve+")
	ep = strings.TrimPrefix(strings.TrimPrefix(ep, "curve+"), "null+")
	*endpoint = ep
	if s == nil || *s.serverKey == "" {
		if curve {
			return nil, errors.New("a curve+ endpoint needs the broker's public key: --server-key or ZCCP_SERVER_KEY ('zccpd key' on the broker prints it)")
		}
		return nil, nil
	}
	server, err := parseServerKey(*s.serverKey)
	if err != nil {
		return nil, err
	}
	path := *s.keyFile
	if path == "" {
		if path, err = defaultKeyFile(); err != nil {
			return nil, err
		}
	}
	kp, err := zmtp.ReadCurveKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no key pair at %s: run 'zccp keygen' first", path)
	}
	if err != nil {
		return nil, err
	}
	if kp.Secret.IsZero() {
		return nil, fmt.Errorf("%s has no secret-key: --key-file wants this client's key pair", path)
	}
	return []client.Option{client.WithCurve(kp, server)}, nil
}

// parseServerKey takes a key (40 Z85 characters, 64 hex digits) or the
// path of a file holding one (a key file, or just the key).
func parseServerKey(v string) (zmtp.CurveKey, error) {
	if k, err := zmtp.ParseCurveKey(v); err == nil {
		return k, nil
	}
	if kp, err := zmtp.ReadCurveKeyFile(v); err == nil {
		return kp.Public, nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return zmtp.CurveKey{}, fmt.Errorf("--server-key %q is neither a key (40 Z85 characters or 64 hex digits) nor a readable file", v)
	}
	return zmtp.ParseCurveKey(strings.TrimSpace(string(b)))
}

// defaultKeyFile is curve.key in the user's configuration directory
// ($XDG_CONFIG_HOME/zccp, ~/.config/zccp on Linux).
func defaultKeyFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory for the key pair (give --key-file): %w", err)
	}
	return filepath.Join(dir, "zccp", "curve.key"), nil
}

// displayKeyFile names the default in help texts (the same on every
// machine, since the man page is generated from them).
func displayKeyFile() string { return "$XDG_CONFIG_HOME/zccp/curve.key (~/.config/zccp/curve.key)" }

const keygenSummary = `Makes this client's CURVE key pair (mode 0600) and prints its public key:
the value the broker's operator admits (zccpd --client-keys). An existing
key pair is kept (its public key printed) unless --force is given.`

func runKeygen(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	keyFile := fs.String("key-file", e.getenv("ZCCP_KEY_FILE"), "where to keep the key pair; default "+displayKeyFile()+" [ZCCP_KEY_FILE]")
	force := fs.Bool("force", false, "replace an existing key pair")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: zccp keygen [--key-file PATH] [--force]\n\n%s\n\nFlags:\n", keygenSummary)
		fs.PrintDefaults()
	}
	if e.onFlags != nil {
		e.onFlags(fs, "", keygenSummary)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageError(e, fs, "unexpected argument %q", fs.Arg(0))
	}
	path := *keyFile
	if path == "" {
		var err error
		if path, err = defaultKeyFile(); err != nil {
			fmt.Fprintln(e.stderr, "zccp keygen:", err)
			return exitError
		}
	}
	if kp, err := zmtp.ReadCurveKeyFile(path); err == nil && !*force {
		fmt.Fprintf(e.stderr, "zccp keygen: %s exists (--force replaces it)\n", path)
		fmt.Fprintln(e.stdout, kp.Public.String())
		return exitOK
	}
	kp, err := zmtp.NewCurveKeyPair()
	if err == nil {
		err = zmtp.WriteCurveKeyFile(path, kp, "zccp client CURVE key pair. Keep it private; give the broker's operator the public key.")
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp keygen:", err)
		return exitError
	}
	fmt.Fprintln(e.stderr, "zccp keygen: wrote", path)
	fmt.Fprintln(e.stdout, kp.Public.String())
	return exitOK
}
