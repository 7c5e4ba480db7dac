package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/zccp-go/zccp/zmtp"
)

// keyCommand is `zccpd key [--data-dir DIR]`: it prints the broker's
// public CURVE key (generating the key pair on first use), the value
// clients give as their server key.
func keyCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zccpd key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", os.Getenv("ZCCPD_DATA_DIR"), "data directory holding curve.key [ZCCPD_DATA_DIR]")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zccpd key [--data-dir DIR]\n\nPrints the broker's public CURVE key (Z85), generating the key pair on first use.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	dir, err := keyDir(*dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "zccpd key:", err)
		return 1
	}
	path := filepath.Join(dir, brokerKeyFile)
	kp, created, err := zmtp.LoadOrCreateCurveKeyFile(path, brokerKeyComment)
	if err != nil {
		fmt.Fprintln(stderr, "zccpd key:", err)
		return 1
	}
	if created {
		fmt.Fprintln(stderr, "zccpd key: generated", path)
	}
	fmt.Fprintln(stdout, kp.Public.String())
	return 0
}
