package zmtp

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Key files use the ZPL layout of CZMQ's certificates (zcert), so that a
// CZMQ program can load ours and we can load a CZMQ secret certificate:
//
//	curve
//	    public-key = "<40 Z85 characters>"
//	    secret-key = "<40 Z85 characters>"
//
// A public-only file (what a client is given about a server) has no
// secret-key line.

// WriteCurveKeyFile writes kp to path, readable by the owner only
// (mode 0600), creating the directory (0700) if needed. It writes a
// temporary file and renames it, so a crash leaves the old file or the
// new one. An existing file is replaced.
func WriteCurveKeyFile(path string, kp CurveKeyPair, comment string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("zmtp: key directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return fmt.Errorf("zmtp: writing key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	var b strings.Builder
	for _, line := range strings.Split(comment, "\n") {
		fmt.Fprintf(&b, "#   %s\n", line)
	}
	fmt.Fprintf(&b, "metadata\ncurve\n    public-key = %q\n", kp.Public.String())
	if !kp.Secret.IsZero() {
		fmt.Fprintf(&b, "    secret-key = %q\n", kp.Secret.String())
	}
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(b.String())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("zmtp: writing key file: %w", err)
	}
	return nil
}

// ReadCurveKeyFile reads a key file. A file with a secret key must not be
// readable by group or others (like ssh, we refuse it rather than use a
// secret others may have read); the public key, when present, must match
// the secret.
func ReadCurveKeyFile(path string) (CurveKeyPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return CurveKeyPair{}, fmt.Errorf("zmtp: key file: %w", err)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, val, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		vals[strings.TrimSpace(name)] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	if err := sc.Err(); err != nil {
		return CurveKeyPair{}, fmt.Errorf("zmtp: key file %s: %w", path, err)
	}
	return keyPairOf(path, f, vals)
}

func keyPairOf(path string, f *os.File, vals map[string]string) (CurveKeyPair, error) {
	var kp CurveKeyPair
	var err error
	if s, ok := vals["secret-key"]; ok {
		if st, serr := f.Stat(); serr == nil && st.Mode().Perm()&0o077 != 0 {
			return kp, fmt.Errorf("zmtp: key file %s holds a secret key and is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
		}
		if kp.Secret, err = ParseCurveKey(s); err != nil {
			return kp, fmt.Errorf("zmtp: key file %s: secret-key: %w", path, err)
		}
		derived, err := CurveKeyPairFromSecret(kp.Secret)
		if err != nil {
			return kp, err
		}
		kp.Public = derived.Public
	}
	s, ok := vals["public-key"]
	if !ok {
		if kp.Secret.IsZero() {
			return kp, fmt.Errorf("zmtp: key file %s has neither public-key nor secret-key", path)
		}
		return kp, nil
	}
	pub, err := ParseCurveKey(s)
	if err != nil {
		return kp, fmt.Errorf("zmtp: key file %s: public-key: %w", path, err)
	}
	if !kp.Secret.IsZero() && pub != kp.Public {
		return kp, fmt.Errorf("zmtp: key file %s: public-key does not belong to secret-key", path)
	}
	kp.Public = pub
	return kp, nil
}

// LoadOrCreateCurveKeyFile reads the key pair at path, or generates one
// and writes it there (mode 0600) when there is no file yet. created
// says which happened.
func LoadOrCreateCurveKeyFile(path, comment string) (kp CurveKeyPair, created bool, err error) {
	kp, err = ReadCurveKeyFile(path)
	if err == nil {
		if kp.Secret.IsZero() {
			return kp, false, fmt.Errorf("zmtp: key file %s has no secret-key", path)
		}
		return kp, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return kp, false, err
	}
	if kp, err = NewCurveKeyPair(); err != nil {
		return kp, false, err
	}
	if err := WriteCurveKeyFile(path, kp, comment); err != nil {
		return kp, false, err
	}
	return kp, true, nil
}
