package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/zccp-go/zccp/zmtp"
)

// clientKeys is the --client-keys allow list, replaced as a whole on
// SIGHUP (a file with an error leaves the old list in place).
type clientKeys struct {
	path string
	mu   sync.RWMutex
	keys map[zmtp.CurveKey]bool
}

// loadClientKeys reads path: one key (40 Z85 characters or 64 hex
// digits) per line, optionally followed by a comment; blank lines and
// lines starting with # are ignored.
func loadClientKeys(path string) (*clientKeys, error) {
	keys, err := readKeyList(path)
	if err != nil {
		return nil, err
	}
	return &clientKeys{path: path, keys: keys}, nil
}

func readKeyList(path string) (map[zmtp.CurveKey]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key list: %w", err)
	}
	defer f.Close()
	keys := map[zmtp.CurveKey]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := zmtp.ParseCurveKey(strings.Fields(line)[0])
		if err != nil {
			return nil, fmt.Errorf("key list %s line %d: %w", path, n, err)
		}
		keys[k] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("key list %s: %w", path, err)
	}
	return keys, nil
}

func (c *clientKeys) allowed(k zmtp.CurveKey) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[k]
}

func (c *clientKeys) count() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.keys)
}

// reload is a SIGHUP hook. Connections already established stay up.
func (c *clientKeys) reload(log *slog.Logger) error {
	keys, err := readKeyList(c.path)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.keys = keys
	c.mu.Unlock()
	log.Info("CURVE client keys reloaded", "file", c.path, "keys", len(keys))
	return nil
}
