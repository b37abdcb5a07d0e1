package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/simhook/simhook/outbox"
	"go.etcd.io/bbolt"
)

// t0 is the tests' start of time.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// openTest opens a store in a fresh outbox file. When the test ends, the
// indexes are checked against the records and the file is closed.
func openTest(t testing.TB) (*Store, *outbox.Outbox) {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "outbox.db"))
}

// openAt opens the store in the outbox file at path.
func openAt(t testing.TB, path string) (*Store, *outbox.Outbox) {
	t.Helper()
	out, err := outbox.Open(path, outbox.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), out)
	if err != nil {
		out.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil {
			t.Errorf("store check at close: %v", err)
		}
		if err := out.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, out
}

// writeRaw writes key → value in bucket of the file at path, as an older
// build would have.
func writeRaw(t testing.TB, path string, bucket string, kv map[string][]byte) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for k, v := range kv {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
