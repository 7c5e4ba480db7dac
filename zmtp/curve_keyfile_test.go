package zmtp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCurveKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "zccpd")
	path := filepath.Join(dir, "curve.key")
	kp, created, err := LoadOrCreateCurveKeyFile(path, "test key")
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", st.Mode().Perm())
	}
	again, created, err := LoadOrCreateCurveKeyFile(path, "test key")
	if err != nil || created || again != kp {
		t.Fatalf("second load: %v created=%v err=%v", again.Public, created, err)
	}
	os.Chmod(path, 0o644)
	if _, err := ReadCurveKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable secret: err = %v", err)
	}
	os.Chmod(path, 0o600)

	// The CZMQ zcert layout with a mismatching public key is refused.
	other := mustKeyPair(t)
	bad := "curve\n    public-key = \"" + other.Public.String() + "\"\n    secret-key = \"" + kp.Secret.String() + "\"\n"
	os.WriteFile(path, []byte(bad), 0o600)
	if _, err := ReadCurveKeyFile(path); err == nil {
		t.Fatal("mismatching public key accepted")
	}
	// A public-only file (a server's certificate given to clients).
	pubPath := filepath.Join(dir, "server.pub")
	if err := WriteCurveKeyFile(pubPath, CurveKeyPair{Public: other.Public}, "public"); err != nil {
		t.Fatal(err)
	}
	pub, err := ReadCurveKeyFile(pubPath)
	if err != nil || pub.Public != other.Public || !pub.Secret.IsZero() {
		t.Fatalf("public-only file: %v %v", pub, err)
	}
}
