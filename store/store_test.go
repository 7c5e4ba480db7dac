package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestPutGetDeleteForEach(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(BucketLast, []byte("nope")); v != nil || err != nil {
		t.Fatalf("missing key: %q %v", v, err)
	}
	for i := range 3 {
		if err := s.Put(BucketLast, []byte(fmt.Sprint("k", i)), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Delete(BucketLast, []byte("k1"))
	var got []string
	s.ForEach(BucketLast, func(k, v []byte) error { got = append(got, string(k)+"="+string(v)); return nil })
	if fmt.Sprint(got) != "[k0=v0 k2=v2]" {
		t.Fatalf("got %v", got)
	}
	seq1, _ := s.Append(BucketAudit, []byte("a"))
	seq2, _ := s.Append(BucketAudit, []byte("b"))
	if seq2 != seq1+1 {
		t.Fatalf("sequences %d %d", seq1, seq2)
	}
	// A failed transaction leaves nothing behind.
	boom := errors.New("boom")
	if err := s.Update(func(tx *Tx) error { tx.Put(BucketKeys, []byte("x"), []byte("y")); return boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if v, _ := s.Get(BucketKeys, []byte("x")); v != nil {
		t.Fatal("rolled-back put is visible")
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Get(BucketLast, []byte("k2")); string(v) != "v2" {
		t.Fatalf("after reopen: %q", v)
	}
	info, _ := os.Stat(filepath.Join(dir, FileName))
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v", info.Mode())
	}
}

const childEnv = "STORE_TEST_CHILD"

// TestKill9KeepsCommitted runs a child process that commits numbered
// values in a loop and kills it with SIGKILL mid-stream, several times:
// the store always opens, and holds every value up to the last the child
// reported committed, each whole.
func TestKill9KeepsCommitted(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		s, err := Open(dir)
		if err != nil {
			os.Exit(3)
		}
		for i := 0; ; i++ {
			val := make([]byte, 1000+i%3000)
			for j := range val {
				val[j] = byte(i)
			}
			if err := s.Put(BucketLast, []byte(strconv.Itoa(i)), val); err != nil {
				os.Exit(4)
			}
			fmt.Println(i) // committed
		}
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9KeepsCommitted$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		last := -1
		for last < 20*(round+1) && sc.Scan() {
			if v, err := strconv.Atoi(sc.Text()); err == nil {
				last = v // printed after its transaction committed
			}
		}
		if last < 0 {
			t.Fatalf("child committed nothing: %v", sc.Err())
		}
		cmd.Process.Kill()
		cmd.Wait()
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		for i := 0; i <= last; i++ {
			v, err := s.Get(BucketLast, []byte(strconv.Itoa(i)))
			if err != nil || len(v) != 1000+i%3000 || v[0] != byte(i) || v[len(v)-1] != byte(i) {
				t.Fatalf("round %d: value %d (last committed %d): %d bytes, %v", round, i, last, len(v), err)
			}
		}
		s.Close()
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// bbolt's lock is a flock per open file description: a second Open in
	// the same process contends like another process would.
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
}
