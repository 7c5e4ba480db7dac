// Package store is zccpd's one embedded, crash-safe store: a bbolt file
// (copy-on-write B+tree, fsync on every commit) in the data directory.
// Data is kept in named buckets of byte keys and values: the broker's last
// values, and the security work's keys and audit log. A kill -9 leaves
// the file at its last committed transaction; nothing is half-written.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Well-known buckets.
const (
	BucketLast  = "last"  // retained last values by address
	BucketKeys  = "keys"  // client public keys (security)
	BucketAudit = "audit" // append-only audit records (security)
)

// FileName is the store's file inside the data directory.
const FileName = "zccpd.db"

// ErrLocked is returned by Open when another process holds the store.
var ErrLocked = errors.New("store: the data directory is in use by another process")

// Store is an open store. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the store in dir. Only one process can
// hold it: a second Open fails with ErrLocked within lockWait.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

const lockWait = time.Second

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Get returns a copy of the value under key, or nil when there is none.
func (s *Store) Get(bucket string, key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			if v := b.Get(key); v != nil {
				out = append([]byte{}, v...)
			}
		}
		return nil
	})
	return out, err
}

// Put stores value under key in one committed transaction.
func (s *Store) Put(bucket string, key, value []byte) error {
	return s.Update(func(tx *Tx) error { return tx.Put(bucket, key, value) })
}

// Delete removes key (nothing if absent).
func (s *Store) Delete(bucket string, key []byte) error {
	return s.Update(func(tx *Tx) error { return tx.Delete(bucket, key) })
}

// Append stores value under the bucket's next sequence number (8 bytes,
// big-endian, so keys sort in order) and returns that number: an
// append-only log, such as an audit trail.
func (s *Store) Append(bucket string, value []byte) (seq uint64, err error) {
	err = s.Update(func(tx *Tx) error {
		seq, err = tx.Append(bucket, value)
		return err
	})
	return seq, err
}

// ForEach calls fn for every key in bucket in key order, inside one
// read transaction: k and v are valid only during the call.
func (s *Store) ForEach(bucket string, fn func(k, v []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(fn)
	})
}

// Update runs fn in one read-write transaction, committed (and synced)
// when fn returns nil, rolled back otherwise.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// Tx is a read-write transaction.
type Tx struct{ tx *bolt.Tx }

func (t *Tx) bucket(name string) (*bolt.Bucket, error) {
	b, err := t.tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("store: bucket %q: %w", name, err)
	}
	return b, nil
}

// Put stores value under key.
func (t *Tx) Put(bucket string, key, value []byte) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Put(key, value)
}

// Delete removes key.
func (t *Tx) Delete(bucket string, key []byte) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Delete(key)
}

// Append stores value under the bucket's next sequence number.
func (t *Tx) Append(bucket string, value []byte) (uint64, error) {
	b, err := t.bucket(bucket)
	if err != nil {
		return 0, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	var k [8]byte
	for i := range 8 {
		k[i] = byte(seq >> (56 - 8*i))
	}
	return seq, b.Put(k[:], value)
}

// WriteBatch puts and deletes keys of one bucket in one transaction.
func (s *Store) WriteBatch(bucket string, puts map[string][]byte, deletes []string) error {
	return s.Update(func(tx *Tx) error {
		for k, v := range puts {
			if err := tx.Put(bucket, []byte(k), v); err != nil {
				return err
			}
		}
		for _, k := range deletes {
			if err := tx.Delete(bucket, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}
